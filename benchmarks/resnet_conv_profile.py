# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Where the ResNet-50 train step's convolution time goes, by convolution.

Times forward + backward (the output and both gradients, as the train step
needs them) of every distinct convolution of ResNet-50 v1.5 at the given
batch and 224x224, with XLA's native convolution and with
`models/conv_lowering.im2col_conv`, interleaved; multiplies by how often
each occurs in the network and prints each one's share of the total, its
GFLOP/s and the ratio. The sum against the whole train step's time (from
`resnet_vs_torch.py`) is the convolutions' share of the step.

  python benchmarks/resnet_conv_profile.py [--batch 16] [--repeats 2]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

from mlperf_jax.models import conv_lowering  # noqa: E402

_NHWC = ('NHWC', 'HWIO', 'NHWC')


def resnet50_convs() -> collections.Counter:
  """(input side, c_in, kernel, stride, c_out) -> occurrences."""
  convs = collections.Counter({(224, 3, 7, 2, 64): 1})
  cin, side = 64, 56
  for stage, (units, width) in enumerate(zip((3, 4, 6, 3),
                                             (64, 128, 256, 512))):
    for u in range(units):
      s = 2 if u == 0 and stage else 1
      convs[(side, cin, 1, 1, width)] += 1
      convs[(side, width, 3, s, width)] += 1
      convs[(side // s, width, 1, 1, 4 * width)] += 1
      if u == 0:
        convs[(side, cin, 1, s, 4 * width)] += 1
      cin, side = 4 * width, side // s
  return convs


def _fwd_bwd(impl, stride, padding):
  conv = (lax.conv_general_dilated if impl == 'xla'
          else conv_lowering.im2col_conv)

  def f(x, k, ct):
    y, pull = jax.vjp(lambda a, b: conv(a, b, (stride, stride), padding,
                                        dimension_numbers=_NHWC), x, k)
    return (y,) + pull(ct)

  return jax.jit(f)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__)
  p.add_argument('--batch', type=int, default=16)
  p.add_argument('--repeats', type=int, default=2)
  p.add_argument('--json', default=None)
  args = p.parse_args(argv)
  load0 = os.getloadavg()
  rows = []
  for (side, cin, k, s, cout), count in sorted(resnet50_convs().items()):
    padding = ((3, 3), (3, 3)) if k == 7 else 'SAME'
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (args.batch, side, side, cin))
    w = jax.random.normal(key, (k, k, cin, cout)) * 0.05
    out_side = -(-side // s)
    ct = jnp.ones((args.batch, out_side, out_side, cout))
    flops = 3 * 2 * args.batch * out_side**2 * cout * k * k * cin
    fns = {impl: _fwd_bwd(impl, s, padding) for impl in ('xla', 'im2col')}
    for f in fns.values():
      jax.block_until_ready(f(x, w, ct))
    times = {impl: [] for impl in fns}
    for r in range(args.repeats):
      for impl in (('xla', 'im2col') if r % 2 == 0 else ('im2col', 'xla')):
        t = time.perf_counter()
        jax.block_until_ready(fns[impl](x, w, ct))
        times[impl].append(time.perf_counter() - t)
    med = {impl: statistics.median(v) for impl, v in times.items()}
    rows.append({'conv': f'{k}x{k}/{s} {side}^2 {cin}->{cout}',
                 'count': count, 'gflop': flops / 1e9,
                 **{f'{i}_s': med[i] for i in med}})
    print(f"{rows[-1]['conv']:24s} x{count:2d}  xla {med['xla']:.3f} s "
          f"({flops / med['xla'] / 1e9:5.1f} GFLOP/s)  im2col "
          f"{med['im2col']:.3f} s ({flops / med['im2col'] / 1e9:5.1f} "
          f"GFLOP/s)  ratio {med['xla'] / med['im2col']:.2f}", flush=True)
  tot = {i: sum(r[f'{i}_s'] * r['count'] for r in rows)
         for i in ('xla', 'im2col')}
  gflop = sum(r['gflop'] * r['count'] for r in rows)
  print(f'\nAll {sum(r["count"] for r in rows)} convolutions, forward + '
        f'backward, batch {args.batch}: {gflop:.0f} GFLOP; xla '
        f'{tot["xla"]:.2f} s ({gflop / tot["xla"]:.1f} GFLOP/s), im2col '
        f'{tot["im2col"]:.2f} s ({gflop / tot["im2col"]:.1f} GFLOP/s), ratio '
        f'{tot["xla"] / tot["im2col"]:.2f}')
  print('Share of the convolution time (xla / im2col):')
  for r in sorted(rows, key=lambda r: -r['xla_s'] * r['count']):
    print(f"  {r['conv']:24s} {100 * r['xla_s'] * r['count'] / tot['xla']:5.1f}"
          f" % / {100 * r['im2col_s'] * r['count'] / tot['im2col']:5.1f} %")
  load1 = os.getloadavg()
  print(f'load average before {load0[0]:.2f}, after {load1[0]:.2f}')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'rows': rows, 'total_s': tot, 'gflop': gflop,
                 'batch': args.batch, 'load': [load0, load1]}, f, indent=1)


if __name__ == '__main__':
  main()
