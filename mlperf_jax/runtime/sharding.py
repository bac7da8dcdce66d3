# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Device mesh, logical-axis shardings and global batch assembly.

One mesh with axes (data, fsdp, tensor). Batches are split over data x fsdp;
parameters are replicated or split by a workload's logical axis rules.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import numpy as np
import optax
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

# Re-exported: the mesh-spec parsing lives in a JAX-free module.
from mlperf_jax.runtime.mesh_spec import (  # noqa: F401
    BATCH_AXES, MESH_AXES, MeshSpecError, parse_mesh_spec, resolve_mesh_shape)


def make_mesh(sizes: Mapping[str, int] | str | None = None,
              devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A (data, fsdp, tensor) mesh with Auto axis types.

  Args:
    sizes: axis sizes or a spec string such as 'data=4,tensor=2'.
    devices: devices to use (default: all).
  """
  if sizes is None or isinstance(sizes, str):
    sizes = parse_mesh_spec(sizes)
  devices = list(jax.devices() if devices is None else devices)
  shape = resolve_mesh_shape(sizes, len(devices))
  if len(devices) == len(jax.devices()):
    dev_array = mesh_utils.create_device_mesh(
        shape, devices=devices)
  else:
    dev_array = np.asarray(devices, dtype=object).reshape(shape)
  # Auto axes: GSPMD propagates shardings through Linen modules. Explicit axes
  # (the jax.make_mesh default) reject sharded contracting dimensions.
  return Mesh(dev_array, MESH_AXES,
              axis_types=(jax.sharding.AxisType.Auto,) * len(MESH_AXES))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) dimension split over data x fsdp."""
  return NamedSharding(mesh, P(BATCH_AXES))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def param_shardings(abstract_boxed_params: Any, mesh: Mesh,
                    rules: Sequence[tuple[str, Any]]) -> Any:
  """NamedShardings for parameters from their logical axis names."""
  specs = nn.get_partition_spec(abstract_boxed_params)
  with nn.logical_axis_rules(list(rules)):
    return nn.logical_to_mesh_sharding(specs, mesh, list(rules))


def opt_state_shardings(tx: optax.GradientTransformation,
                        abstract_opt_state: Any, params_sharding: Any,
                        mesh: Mesh) -> Any:
  """Optimizer state shardings: per-parameter leaves follow their parameter."""
  rep = replicated(mesh)
  return optax.tree_map_params(
      tx, lambda _, s: s, abstract_opt_state, params_sharding,
      transform_non_params=lambda _: rep,
      is_leaf=lambda x: isinstance(x, NamedSharding))


def host_to_global(batch: Mapping[str, np.ndarray],
                   sharding: NamedSharding) -> dict[str, jax.Array]:
  """Assembles a global batch from this process's slice of it."""
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in batch.items()}


def describe(mesh: Mesh) -> str:
  return ', '.join(f'{a}={s}' for a, s in mesh.shape.items())
