# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Shared measurements of the benchmark scripts: the machine's matmul peak
and the median time of a compiled train step, measured the same way for
every workload so that their utilisation figures compare."""

from __future__ import annotations

import json
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

from mlperf_jax.runtime import sharding as shd
from mlperf_jax.api import HostShard

import peaks  # benchmarks/peaks.py (this folder)


def matmul_peak(dtype, n: int = 4096, reps: int = 3,
                verbose: bool = True) -> float:
  """Best-of-`reps` FLOP/s of an n^3 matmul (f32 accumulation).

  On CPU the figure is printed beside the theoretical peak of the CPU
  (`peaks.py`) and refused (`peaks.ImpossiblePeakError`) above it.
  Random operands, so that nothing about the values can be folded.
  """
  ka, kb = jax.random.split(jax.random.PRNGKey(0))
  a = jax.random.normal(ka, (n, n), jnp.float32).astype(dtype)
  b = jax.random.normal(kb, (n, n), jnp.float32).astype(dtype)
  f = jax.jit(lambda x, y: jnp.dot(x, y, preferred_element_type=jnp.float32))
  f(a, b).block_until_ready()
  best = float('inf')
  for _ in range(reps):
    t = time.perf_counter()
    f(a, b).block_until_ready()
    best = min(best, time.perf_counter() - t)
  flops = 2 * n**3 / best
  if jax.default_backend() == 'cpu':
    line = peaks.check(flops, jnp.dtype(dtype).name)
    if verbose:
      print(f'matmul {n}^3 {jnp.dtype(dtype).name}: {line}', flush=True)
  return flops


def step_flops(compiled) -> float:
  """Global FLOPs of one train step from XLA's cost analysis."""
  cost = compiled.train_step.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost['flops']) * jax.device_count()


def time_train_step(compiled, workload, hp, n_steps: int,
                    kernel: dict | None = None) -> tuple[float, dict]:
  """(median seconds per step after one warm-up step, last step's metrics).

  Cycles two pre-assembled batches so that data loading is not measured.
  `kernel`, when given, receives the medians per timed step of the
  process's kernel (system) CPU seconds and minor page faults
  (`getrusage`): what the host allocator costs each step.
  """
  state = compiled.init(jax.random.PRNGKey(0))
  it = workload.train_batches(hp, seed=0, host=HostShard.current())
  batches = [shd.host_to_global(next(it), compiled.batch_sharding)
             for _ in range(2)]
  state, m = compiled.train_step(state, batches[0])  # warm-up
  jax.block_until_ready(m)
  times, sys_s, faults = [], [], []
  for i in range(n_steps):
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    state, m = compiled.train_step(state, batches[i % 2])
    jax.block_until_ready(m)
    times.append(time.perf_counter() - t)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    sys_s.append(r1.ru_stime - r0.ru_stime)
    faults.append(r1.ru_minflt - r0.ru_minflt)
  if kernel is not None:
    kernel['sys_s_per_step'] = float(np.median(sys_s))
    kernel['minor_faults_per_step'] = float(np.median(faults))
  return float(np.median(times)), jax.device_get(m)


def finish(result: dict, load_before: float, json_path: str | None) -> None:
  """Prints the load and compile lines every step benchmark ends with and
  writes `result` as JSON when asked."""
  print(f"load average before/after: {load_before:.2f}/"
        f"{result['loadavg_after']:.2f}; compile {result['compile_s']:.1f} s")
  if json_path:
    with open(json_path, 'w') as f:
      json.dump(result, f, indent=1)
