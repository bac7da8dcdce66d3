# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""DLRM train-step throughput and embedding-lookup bandwidth.

Measures, in one process:
  1. the machine's memory bandwidth: a jitted copy of a 512 MiB f32 array
     (bytes read + written per second);
  2. embedding-lookup bandwidth: a jitted gather of `batch x 26` rows of 128
     floats from one 2M-row table (bytes of gathered rows per second);
  3. the reference DLRM train step (the project's sharded, donated,
     AOT-compiled step, plain SGD) with tables capped at `--max-ind-range`
     rows, on synthetic data: samples/s.

  python benchmarks/dlrm_throughput.py [--batch 2048] [--steps 5] \
      [--max-ind-range 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from mlperf_jax import workloads
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps as steps_lib
from mlperf_jax.api import HostShard
from mlperf_jax.runtime import loop


def _best(fn, *args, reps=5):
  jax.block_until_ready(fn(*args))
  best = float('inf')
  for _ in range(reps):
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - t)
  return best


def memory_bandwidth(mib=512, reps=5) -> float:
  """Bytes read + written per second by an in-place (donated) update."""
  x = jnp.ones((mib * 2**20 // 4,), jnp.float32)
  f = jax.jit(lambda a: a * 0.5 + 1.0, donate_argnums=0)
  x = jax.block_until_ready(f(x))
  best = float('inf')
  for _ in range(reps):
    t = time.perf_counter()
    x = jax.block_until_ready(f(x))
    best = min(best, time.perf_counter() - t)
  return 2 * x.nbytes / best


def lookup_bandwidth(batch: int, rows=2_000_000, dim=128) -> float:
  table = jnp.ones((rows, dim), jnp.float32)
  ids = jnp.asarray(np.random.default_rng(0).integers(0, rows, batch * 26),
                    jnp.int32)
  f = jax.jit(lambda t, i: jnp.take(t, i, axis=0))
  return batch * 26 * dim * 4 / _best(f, table, ids)


def train_throughput(batch: int, steps: int, max_ind_range: int) -> dict:
  wl = workloads.get('dlrm', 'reference', synthetic=True)
  hp = wl.resolve_hparams({
      'global_batch_size': str(batch), 'max_ind_range': str(max_ind_range)})
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  mesh = shd.make_mesh('data=-1')
  c = steps_lib.build(wl, tx, hp, mesh, compile_eval=False)
  state = c.init(jax.random.PRNGKey(0))
  batches = wl.train_batches(hp, seed=0, host=HostShard())
  times = []
  for _ in range(steps + 1):
    b = shd.host_to_global(next(batches), c.batch_sharding)
    t = time.perf_counter()
    state, m = c.train_step(state, b)
    jax.block_until_ready(m['loss'])
    times.append(time.perf_counter() - t)
  step = float(np.median(times[1:]))
  return {'step_s': step, 'samples_per_s': batch / step,
          'rows': int(sum(wl.model_config(hp).table_rows))}


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--batch', type=int, default=2048)
  p.add_argument('--steps', type=int, default=5)
  p.add_argument('--max-ind-range', type=int, default=100_000)
  p.add_argument('--json')
  a = p.parse_args()
  out = {'device': str(jax.devices()[0].device_kind),
         'devices': jax.device_count(), 'batch': a.batch,
         'memory_GBps': memory_bandwidth() / 1e9,
         'lookup_GBps': lookup_bandwidth(a.batch) / 1e9,
         **train_throughput(a.batch, a.steps, a.max_ind_range)}
  out['lookup_fraction_of_memory_bw'] = out['lookup_GBps'] / out['memory_GBps']
  print(json.dumps(out, indent=1))
  if a.json:
    with open(a.json, 'w') as f:
      json.dump(out, f, indent=1)


if __name__ == '__main__':
  main()
