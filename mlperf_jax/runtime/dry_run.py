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

The input estimate (`input_line`, on by default in `train --dry-run`, off
with `--no-input-estimate`) pulls a few batches from the workload's real
training input on this host (mini data, or a prepared --data-dir; never
synthetic random batches), times them, and sets them against a step time
estimated from the step's FLOPs and a matmul peak measured on the default
device at an assumed utilisation (`ASSUMED_UTILISATION`); the verdict is
the one the run's report would give (`input_stats.predicted`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any, Mapping

import jax
import numpy as np

from mlperf_jax.runtime import input_stats
from mlperf_jax.runtime import loop
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps as steps_lib
from mlperf_jax.api import HostShard, Workload

# The share of the measured matmul peak a train step is assumed to reach.
ASSUMED_UTILISATION = 0.5
# Batches timed after the first (untimed: it opens files, fills caches),
# and the data loading the estimate may take in all, the first included
# (at least one batch is always timed).
INPUT_BATCHES = 3
INPUT_BUDGET_S = 5.0


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


@dataclasses.dataclass(frozen=True)
class InputProbe:
  """Seconds per batch of this host's training input."""
  per_batch_s: float
  first_batch_s: float  # the first batch (iterator start included), untimed
  batches: int          # batches timed


def measure_input(workload: Workload, hp: Mapping[str, Any], *, seed: int,
                  host: HostShard | None = None,
                  batches: int = INPUT_BATCHES,
                  budget_s: float = INPUT_BUDGET_S) -> InputProbe:
  """Times `workload.train_batches` on this host: one batch to warm up,
  then up to `batches` more while the loading stays within `budget_s`."""
  host = host or HostShard.current()
  t0 = time.perf_counter()
  it = workload.train_batches(hp, seed=seed, host=host)
  try:
    next(it)
    first = time.perf_counter() - t0
    times: list[float] = []
    while len(times) < batches and (
        not times or time.perf_counter() - t0 < budget_s):
      t = time.perf_counter()
      next(it)
      times.append(time.perf_counter() - t)
  finally:
    close = getattr(it, 'close', None)
    if close is not None:
      close()
  return InputProbe(per_batch_s=sum(times) / len(times), first_batch_s=first,
                    batches=len(times))


@dataclasses.dataclass(frozen=True)
class MatmulPeak:
  flops_per_s: float
  dtype: str
  size: int
  device: str


def matmul_peak(device: Any = None, reps: int = 3) -> MatmulPeak:
  """The best of `reps` jitted square matmuls on `device` (default: the
  first device): float32 2048^3 on a CPU, bfloat16 4096^3 on an
  accelerator."""
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  device = device or jax.devices()[0]
  n, dtype = ((2048, jnp.float32) if device.platform == 'cpu'
              else (4096, jnp.bfloat16))
  rng = np.random.default_rng(0)
  a, b = (jax.device_put(rng.standard_normal((n, n), np.float32).astype(dtype),
                         device) for _ in range(2))
  f = jax.jit(jnp.matmul)
  f(a, b).block_until_ready()  # compiles
  best = math.inf
  for _ in range(reps):
    t = time.perf_counter()
    f(a, b).block_until_ready()
    best = min(best, time.perf_counter() - t)
  return MatmulPeak(flops_per_s=2 * n**3 / best,
                    dtype=np.dtype(dtype).name, size=n,
                    device=_device_name(device))


def _device_name(device: Any) -> str:
  """'cpu', or the accelerator's kind ('NVIDIA H200', 'TPU v4')."""
  kind = str(device.device_kind)
  return device.platform if kind.lower() == device.platform else kind


def _secs(x: float) -> str:
  return f'{x:.3g} s'


def input_line(workload: Workload, hp: Mapping[str, Any], r: DryRun, *,
               seed: int, host: HostShard | None = None,
               peak: MatmulPeak | None = None) -> str:
  """'input: X s per global batch on this host vs est. step Y s (...):
  input-bound' (or compute-bound), or why the input was not measured."""
  if workload.synthetic:
    return ('input: not measured (--synthetic-data: random batches made on '
            'the fly, not a pipeline)')
  if workload.variant.needs_data_dir and not workload.data_dir:
    return ('input: not measured (no --data-dir; pass the prepared dataset '
            'to time its input pipeline)')
  host = host or HostShard.current()
  try:
    probe = measure_input(workload, hp, seed=seed, host=host)
  except Exception as e:  # pylint: disable=broad-except
    return f'input: not measured (the train input failed: {type(e).__name__}: {e})'
  share = ('per global batch on this host' if host.count == 1 else
           f'per batch on this host (1/{host.count} of the global batch)')
  text = (f'input: {_secs(probe.per_batch_s)} {share} ({probe.batches} '
          f'timed after a first of {_secs(probe.first_batch_s)})')
  if not math.isfinite(r.flops_per_step_per_device):
    return text + '; no step estimate (XLA gave no FLOPs for the step)'
  peak = peak or matmul_peak()
  step = r.flops_per_step_per_device / (peak.flops_per_s * ASSUMED_UTILISATION)
  verdict = input_stats.predicted(probe.per_batch_s, step)
  return (f'{text} vs est. step {_secs(step)} '
          f'({r.flops_per_step_per_device:.3g} FLOPs / (peak '
          f'{peak.flops_per_s / 1e9:.4g} GFLOP/s, {peak.dtype} {peak.size}^3 '
          f'matmul on {peak.device}, x {100 * ASSUMED_UTILISATION:.0f} %)): '
          f'{verdict}')


def report(workload: Workload, hp: Mapping[str, Any], opts: loop.RunOptions,
           abstract_devices: int | None = None,
           estimate_input: bool = False) -> str:
  """The dry run's text; `estimate_input` adds `input_line` (it reads a
  few batches and runs a few matmuls: `train --dry-run` does unless
  --no-input-estimate)."""
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
  if estimate_input:
    lines[-1:-1] = [input_line(workload, hp, r, seed=opts.seed)]
  return '\n'.join(lines)
