# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Native 3D convolution vs depth-shifted 2D convolutions (models/conv3d_as_2d).

For U-Net-shaped 3x3x3 convolutions (NDHWC, stride 1 and 2), times the
jitted forward and forward+backward of both implementations on the default
backend, with an f32 matmul peak measured in the same process as a yardstick
for a noisy shared machine. Also checks they agree.

  python benchmarks/conv3d_decomposition.py [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from mlperf_jax.models import conv3d_as_2d as c3  # noqa: E402

import peaks  # noqa: E402  (benchmarks/peaks.py, this folder)

# (batch, size, channels in, channels out, stride)
SHAPES = ((2, 32, 16, 16, 1), (2, 32, 32, 32, 1), (2, 32, 32, 64, 2),
          (8, 16, 8, 8, 1), (8, 16, 16, 16, 1))


def _time(fn, *args, repeats: int) -> float:
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t)
  return float(np.median(times))


def matmul_peak(n: int = 2048, repeats: int = 3) -> float:
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  flops = 2 * n**3 / _time(f, a, repeats=repeats)
  # Beside (and never above) the CPU's theoretical peak: benchmarks/peaks.py.
  print(f'matmul {n}^3 float32: {peaks.check(flops)}')
  return flops / 1e9


def measure(shape, repeats: int) -> dict:
  b, s, ci, co, stride = shape
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((b, s, s, s, ci)), jnp.float32)
  w = jnp.asarray(rng.standard_normal((3, 3, 3, ci, co)), jnp.float32)
  out = s // stride
  flops = 2 * b * out**3 * co * 27 * ci
  row = {'shape': f'B={b} {s}^3 {ci}->{co} s{stride}'}
  results = {}
  for impl in c3.CONV_IMPLS:
    fwd = jax.jit(lambda a, k, impl=impl: c3.conv3d(a, k, stride, 1,
                                                    impl=impl))
    both = jax.jit(jax.grad(
        lambda a, k, impl=impl: jnp.sum(c3.conv3d(a, k, stride, 1,
                                                  impl=impl) ** 2),
        argnums=(0, 1)))
    tf = _time(fwd, x, w, repeats=repeats)
    tb = _time(both, x, w, repeats=repeats)
    results[impl] = fwd(x, w)
    row[f'{impl}_fwd_gflops'] = round(flops / tf / 1e9, 2)
    row[f'{impl}_fwdbwd_gflops'] = round(3 * flops / tb / 1e9, 2)
  row['speedup_fwd'] = round(row['decomposed_fwd_gflops'] /
                             row['native_fwd_gflops'], 2)
  row['speedup_fwdbwd'] = round(row['decomposed_fwdbwd_gflops'] /
                                row['native_fwdbwd_gflops'], 2)
  row['max_abs_diff'] = float(jnp.max(jnp.abs(results['native'] -
                                              results['decomposed'])))
  return row


def main() -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--json', default=None)
  args = p.parse_args()
  load_before = os.getloadavg()[0]
  peak = matmul_peak(repeats=args.repeats)
  rows = [measure(s, args.repeats) for s in SHAPES]
  report = {'backend': jax.default_backend(),
            'device': str(jax.devices()[0].device_kind),
            'jax': jax.__version__, 'matmul_peak_gflops': round(peak, 1),
            'load_before': load_before, 'load_after': os.getloadavg()[0],
            'rows': rows}
  print(json.dumps(report, indent=1))
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(report, f, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
