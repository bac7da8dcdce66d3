# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Tensor-parallel serving: a workload's `predict` with its parameters split
over the mesh's `tensor` axis by their logical axis names.

The parameters' logical names and the workload's `logical_axis_rules` (for
BERT, `models/bert.py` `LOGICAL_AXIS_RULES`: Megatron-style, attention heads
and the MLP hidden dimension on `tensor`, so Q/K/V and the intermediate
layer are column-parallel and the attention and MLP outputs row-parallel)
give each parameter a `NamedSharding` on the mesh, as in training
(`runtime/sharding.param_shardings`). The serving function is
`jax.jit(predict)` with those input shardings: GSPMD inserts the
all-reduce after each row-parallel layer. A batch is split over the
mesh's data x fsdp axes (whole on each device of a `tensor_mesh`, which
has only the tensor axis) and comes back the same way.

Nothing is approximated: the outputs equal one device's up to the order
of the partial sums the all-reduces add (float32 rounding).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
from flax import traverse_util
from jax.sharding import Mesh

from mlperf_jax.runtime import sharding


def tensor_mesh(n: int, devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A (data=1, fsdp=1, tensor=n) mesh over the first `n` devices."""
  devices = list(jax.devices() if devices is None else devices)
  if not 1 <= n <= len(devices):
    raise ValueError(f'tensor parallelism {n} needs 1 to {len(devices)} '
                     f'devices ({len(devices)} visible)')
  return sharding.make_mesh({'data': 1, 'fsdp': 1, 'tensor': n}, devices[:n])


def _split_problems(boxed_abstract: Any, shardings: Any,
                    mesh: Mesh) -> list[str]:
  """Parameters whose split dimension the mesh axes do not divide."""
  flat_box = traverse_util.flatten_dict(
      nn.unbox(boxed_abstract), sep='/')
  flat_sh = traverse_util.flatten_dict(shardings, sep='/')
  out = []
  for path, leaf in flat_box.items():
    for dim, axes in zip(leaf.shape, flat_sh[path].spec):
      if axes is None:
        continue
      size = 1
      for a in (axes if isinstance(axes, tuple) else (axes,)):
        size *= mesh.shape[a]
      if dim % size:
        out.append(f'{path}: dimension {dim} is not divisible by {axes}='
                   f'{size}')
  return out


def _shapes(tree: Any) -> dict[str, tuple[int, ...]]:
  return {'/'.join(map(str, k)): tuple(v.shape) for k, v in
          traverse_util.flatten_dict(tree).items()}


@dataclasses.dataclass
class ShardedServing:
  """Parameters placed on `mesh` and the jitted `predict(params,
  model_state, batch)` that serves them."""
  mesh: Mesh
  params: Any
  model_state: Any
  param_shardings: Any
  predict: Callable[..., Any]

  def __call__(self, batch: Any) -> Any:
    return self.predict(self.params, self.model_state, batch)


def shard(predict: Callable[..., Any], params: Any, model_state: Any, *,
          boxed_abstract: Any, rules: Sequence[tuple[str, Any]],
          mesh: Mesh, trace_in_mesh: bool = False) -> ShardedServing:
  """`predict` served with `params` split on `mesh` by their logical axes.

  Args:
    predict: the workload's `InferenceSpec.predict`.
    params: the (unboxed) parameters to serve.
    model_state: non-trainable state (replicated).
    boxed_abstract: the parameters' abstract tree with their
      `nn.LogicallyPartitioned` boxes (`jax.eval_shape` of the model's init).
    rules: the workload's `logical_axis_rules()`.
    mesh: the serving mesh (e.g. `tensor_mesh(n)`).
    trace_in_mesh: trace `predict` with `mesh` as the context mesh (for a
      model whose own `jax.shard_map` reads it: DLRM's embedding lookup).
  """
  shardings = sharding.param_shardings(boxed_abstract, mesh, rules)
  if _shapes(params) != _shapes(nn.unbox(boxed_abstract)):
    raise ValueError('the parameters do not fit the model whose logical '
                     'axes were given (another scale or model?)')
  problems = _split_problems(boxed_abstract, shardings, mesh)
  if problems:
    raise ValueError('cannot split the parameters over mesh '
                     f'{sharding.describe(mesh)}: ' + '; '.join(problems))
  rep = sharding.replicated(mesh)
  batch = sharding.batch_sharding(mesh)
  if trace_in_mesh:
    inner = predict

    def predict(*args):  # pylint: disable=function-redefined
      with jax.sharding.use_abstract_mesh(mesh.abstract_mesh):
        return inner(*args)
  fn = jax.jit(predict, in_shardings=(shardings, rep, batch),
               out_shardings=batch)
  return ShardedServing(mesh=mesh, params=jax.device_put(params, shardings),
                        model_state=jax.device_put(model_state, rep),
                        param_shardings=shardings, predict=fn)


def serving_mesh(n: int, devices: Sequence[jax.Device] | None = None) -> Mesh:
  """`tensor_mesh(n)` for `infer --tensor-parallel n`: `n` must divide the
  visible device count (so that the devices split into whole groups)."""
  devices = list(jax.devices() if devices is None else devices)
  if n < 1 or len(devices) % n:
    raise ValueError(
        f'{n} devices per model: must divide the number of visible devices, '
        f'{len(devices)} ({devices[0].platform}); on a CPU host, '
        f'XLA_FLAGS=--xla_force_host_platform_device_count={max(n, 1)} '
        'gives that many devices')
  return tensor_mesh(n, devices)


def for_workload(workload, spec, params: Any, model_state: Any, n: int,
                 devices: Sequence[jax.Device] | None = None):
  """(spec, params, model_state, note) of `workload`'s serving split over
  `n` devices: the spec's `predict` is the sharded, jitted one and the
  parameters are placed by `workload.serving_param_axes()` and
  `workload.logical_axis_rules()`.

  Raises:
    ValueError: the workload has no tensor-parallel serving, `n` does not
      divide the device count, or a split dimension (e.g. BERT's attention
      heads or MLP width) is not divisible by `n`.
  """
  boxed = workload.serving_param_axes()
  if boxed is None:
    raise ValueError(f'workload {workload.name!r} has no tensor-parallel '
                     'serving; use --tensor-parallel 1')
  # A workload may restrict n (DLRM: its tables are planned for every
  # visible device) and need its predict traced under the mesh.
  problems = getattr(workload, 'serving_split_problems', lambda n: [])(n)
  if problems:
    raise ValueError('; '.join(problems))
  mesh = serving_mesh(n, devices)
  served = shard(spec.predict, params, model_state, boxed_abstract=boxed,
                 rules=workload.logical_axis_rules(), mesh=mesh,
                 trace_in_mesh=getattr(workload, 'serving_traces_in_mesh',
                                       False))
  spec = dataclasses.replace(spec, predict=served.predict)
  return (spec, served.params, served.model_state,
          f'tensor parallel over {n} devices (mesh '
          f'{sharding.describe(mesh)})')
