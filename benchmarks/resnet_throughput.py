# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Reference ResNet-50 v1.5 train-step throughput and utilisation.

Measures, in one process and side by side:
  1. the machine's f32 (or bf16) matmul peak: a jitted 4096^3 `jnp.dot`;
  2. the reference ResNet-50 train step (the project's own sharded, donated,
     AOT-compiled step with LARS) at a fixed global batch on synthetic data;
and reports images/s, FLOPs per step from XLA's cost analysis and the step's
utilisation = achieved FLOP/s / measured matmul peak.

  python benchmarks/resnet_throughput.py [--batch 16] [--steps 3] \
      [--dtype float32|bfloat16] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp

from mlperf_jax import workloads
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps as steps_lib
from mlperf_jax.runtime import loop

import step_timing  # benchmarks/step_timing.py (this folder)


def resnet_step(batch: int, n_steps: int, dtype: str) -> dict:
  wl = workloads.get('resnet', 'reference', synthetic=True,
                                compute_dtype=dtype)
  hp = wl.resolve_hparams({'global_batch_size': batch})
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  t = time.perf_counter()
  c = steps_lib.build(wl, tx, hp, shd.make_mesh(), compile_eval=False)
  compile_s = time.perf_counter() - t
  flops = step_timing.step_flops(c)
  step_s, m = step_timing.time_train_step(c, wl, hp, n_steps)
  return {'batch': batch, 'compile_s': compile_s, 'step_s': step_s,
          'images_per_s': batch / step_s, 'flops_per_step': flops,
          'flops_per_image': flops / batch, 'achieved_flops': flops / step_s}


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--batch', type=int, default=16)
  p.add_argument('--steps', type=int, default=3)
  p.add_argument('--dtype', choices=('float32', 'bfloat16'), default='float32')
  p.add_argument('--json', default=None)
  args = p.parse_args()
  load_before = os.getloadavg()[0]
  peak = step_timing.matmul_peak(jnp.float32 if args.dtype == 'float32' else jnp.bfloat16)
  r = resnet_step(args.batch, args.steps, args.dtype)
  r.update({'dtype': args.dtype, 'matmul_peak_flops': peak,
            'utilisation': r['achieved_flops'] / peak,
            'device': f'{jax.device_count()}x{jax.devices()[0].device_kind}',
            'jax': jax.__version__, 'loadavg_before': load_before,
            'loadavg_after': os.getloadavg()[0],
            'date': time.strftime('%Y-%m-%d')})
  print(f"device {r['device']} jax {r['jax']} dtype {args.dtype} "
        f"batch {args.batch}")
  print(f"matmul peak (4096^3): {peak / 1e9:.1f} GFLOP/s")
  print(f"ResNet-50 train step: {r['step_s']:.3f} s -> "
        f"{r['images_per_s']:.2f} img/s; {r['flops_per_image'] / 1e9:.2f} "
        f"GFLOP/img (XLA cost analysis); {r['achieved_flops'] / 1e9:.1f} "
        f"GFLOP/s = {100 * r['utilisation']:.1f} % of the matmul peak")
  step_timing.finish(r, load_before, args.json)


if __name__ == '__main__':
  main()
