# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`--dry-run`: sizes, FLOPs and memory of a run, without allocating it.

Parameters and optimizer state are built as abstract shapes
(`jax.eval_shape`); the train step is lowered and compiled for the chosen
mesh from `ShapeDtypeStruct`s, and XLA's cost and memory analyses are read
off the executable. No model buffer is ever created.

With gradient accumulation (`gradient_accumulation_steps` k > 1) the train
step is also compiled without it (k = 1, the same global batch) and both
per-device memories are reported, so that the saving (temporaries: one
micro-batch's activations instead of the whole batch's) and its cost (the
accumulated gradient) are visible before a run.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Mapping

import jax
import numpy as np

from mlperf_jax.runtime import loop
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps as steps_lib
from mlperf_jax.api import Workload


@dataclasses.dataclass(frozen=True)
class DryRun:
  param_count: int
  flops_per_step_per_device: float
  state_bytes_per_device: int
  argument_bytes: int
  output_bytes: int
  temp_bytes: int
  mesh: str
  num_devices: int
  global_batch_size: int


def _shard_bytes(abstract: Any, shardings: Any) -> int:
  total = 0
  for a, s in zip(jax.tree.leaves(abstract), jax.tree.leaves(shardings)):
    shape = s.shard_shape(a.shape)
    total += math.prod(shape) * np.dtype(a.dtype).itemsize
  return total


def analyse(workload: Workload, hp: Mapping[str, Any], opts: loop.RunOptions
            ) -> DryRun:
  mesh = shd.make_mesh(opts.mesh)
  entry = workload.optimizer(hp)
  tx, _ = entry.build(hp, loop.optimizer_context(workload, hp))
  c = steps_lib.build(workload, tx, hp, mesh, compile_eval=False)
  params = c.abstract_state.params
  cost = c.train_step.cost_analysis()
  if isinstance(cost, (list, tuple)):  # older jax: one dict per computation
    cost = cost[0] if cost else {}
  mem = c.train_step.memory_analysis()
  return DryRun(
      param_count=sum(math.prod(p.shape) for p in jax.tree.leaves(params)),
      flops_per_step_per_device=float((cost or {}).get('flops', float('nan'))),
      state_bytes_per_device=_shard_bytes(c.abstract_state, c.state_sharding),
      argument_bytes=int(getattr(mem, 'argument_size_in_bytes', 0)),
      output_bytes=int(getattr(mem, 'output_size_in_bytes', 0)),
      temp_bytes=int(getattr(mem, 'temp_size_in_bytes', 0)),
      mesh=shd.describe(mesh), num_devices=mesh.size,
      global_batch_size=workload.global_batch_size(hp))


def _total(r: DryRun) -> int:
  """Per-device bytes of the train step: arguments (state and batch) and
  temporaries; the outputs reuse the donated state's buffers."""
  return r.argument_bytes + r.temp_bytes


def _gib(n: float) -> str:
  return f'{n / 2**30:.3f} GiB'


def report(workload: Workload, hp: Mapping[str, Any], opts: loop.RunOptions,
           abstract_devices: int | None = None) -> str:
  mesh_shape = dict(shd.make_mesh(opts.mesh).shape)
  try:
    memory = workload.memory_report(hp, mesh_shape)  # raises if it cannot fit
  except ValueError as e:
    if not abstract_devices or os.environ.get('MLPERF_JAX_DEVICE_MEMORY_GIB'):
      raise
    # Abstract devices have no capacity of their own: report the estimate.
    memory = (f'memory estimate (abstract devices, no capacity check): {e}')
  r = analyse(workload, hp, opts)
  per_sample = r.flops_per_step_per_device * r.num_devices / r.global_batch_size
  lines = [
      f'workload: {workload.name} ({workload.scale} scale), optimizer '
      f'{hp["opt_name"]}, global batch {r.global_batch_size}',
      f'mesh: {r.mesh} ({r.num_devices} devices' + (
          ', abstract: planned on fake CPU devices; per-device memory is '
          "XLA:CPU's buffer assignment" if abstract_devices else '') + ')',
      f'parameters: {r.param_count:,}',
      f'train step FLOPs per device (XLA cost analysis): '
      f'{r.flops_per_step_per_device:.4g}  (~{per_sample:.4g} per sample)',
      f'train state per device: {_gib(r.state_bytes_per_device)}',
      f'train step memory per device: arguments {_gib(r.argument_bytes)}, '
      f'outputs {_gib(r.output_bytes)}, temporaries {_gib(r.temp_bytes)}',
      'dry run: nothing was allocated or trained',
  ]
  k = int(hp.get('gradient_accumulation_steps', 1))
  if k > 1:
    plain = analyse(workload, {**hp, 'gradient_accumulation_steps': 1}, opts)
    lines[-1:-1] = [
        f'gradient accumulation: {k} micro-batches of '
        f'{r.global_batch_size // k} per update; per device, with it: '
        f'temporaries {_gib(r.temp_bytes)}, total '
        f'{_gib(_total(r))}; without it (1 batch of '
        f'{r.global_batch_size}): temporaries {_gib(plain.temp_bytes)}, '
        f'total {_gib(_total(plain))}']
  else:
    lines[-1:-1] = ['gradient accumulation: off (gradient_accumulation_steps '
                    '= 1; --set gradient_accumulation_steps=K splits each '
                    'batch into K micro-batches)']
  if memory:
    lines[-1:-1] = memory.splitlines()
  return '\n'.join(lines)
