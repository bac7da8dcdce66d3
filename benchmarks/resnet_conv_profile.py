# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Where the ResNet-50 (or SSD backbone) train step's convolution time goes,
by convolution.

Times forward + backward (the output and both gradients, as the train step
needs them) of every distinct convolution of ResNet-50 v1.5 at the given
batch and 224x224, with XLA's native convolution, with
`models/conv_lowering.im2col_conv` and with the CPU default 'auto'
(`conv_lowering.auto_conv`: im2col, the direct kernels of
`models/direct_conv.py`, XLA's convolution with an im2col kernel gradient,
or XLA's alone, per convolution) and with 'auto' without the direct kernels
('auto-nodirect'), interleaved; multiplies by how often
each occurs in the network and prints each one's share of the total, its
GFLOP/s and the ratio. The sum against the whole train step's time (from
`resnet_vs_torch.py`) is the convolutions' share of the step.

`--net ssd`: the SSD trunk's convolutions (ResNet-34 to layer3 at 300x300).
Runs under the host allocator the CLI uses (runtime/host_malloc.py).

  python benchmarks/resnet_conv_profile.py [--net resnet50|ssd] [--batch 16]
      [--repeats 2]
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

from mlperf_jax.models import conv_lowering, direct_conv  # noqa: E402
from mlperf_jax.runtime import host_malloc  # noqa: E402

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


def ssd_backbone_convs() -> collections.Counter:
  """SSD's trunk (models/resnet34_backbone.py: ResNet-34 to layer3, layer3
  at stride 1) on 300x300 images, keyed as `resnet50_convs`."""
  convs = collections.Counter({(300, 3, 7, 2, 64): 1})
  cin, side = 64, 75
  for blocks, width, stride in ((3, 64, 1), (4, 128, 2), (6, 256, 1)):
    for b in range(blocks):
      s = stride if b == 0 else 1
      convs[(side, cin, 3, s, width)] += 1
      convs[(side // s if s == 1 else -(-side // s), width, 3, 1, width)] += 1
      if s != 1 or cin != width:
        convs[(side, cin, 1, s, width)] += 1
      cin, side = width, -(-side // s)
  return convs


NETS = {'resnet50': resnet50_convs, 'ssd': ssd_backbone_convs}


def _padding(net: str, k: int):
  # ResNet-50: 'SAME' (the 7x7 stem pads 3 explicitly); SSD's trunk pads
  # k // 2 on both sides, as torch does.
  if net == 'ssd' or k == 7:
    return ((k // 2, k // 2), (k // 2, k // 2))
  return 'SAME'


def _auto_without_direct(*args, **kwargs):
  with direct_conv.disabled():
    return conv_lowering.auto_conv(*args, **kwargs)


IMPLS = {'xla': lax.conv_general_dilated,
         'im2col': conv_lowering.im2col_conv,
         'auto-nodirect': _auto_without_direct,
         'auto': conv_lowering.auto_conv}


def _auto_kind(x, w, s, padding) -> str:
  """Which of conv_lowering's forms 'auto' runs for this convolution."""
  kw = {'dimension_numbers': _NHWC}
  if conv_lowering.auto_prefers_im2col(x, w, (s, s)):
    return 'im2col'
  if conv_lowering.auto_uses_direct_conv3x3(x, w, (s, s), padding, **kw):
    return 'direct'
  if conv_lowering.auto_uses_im2col_dw(x, w, (s, s)):
    return 'xla+im2col dW'
  return 'xla'


def _fwd_bwd(impl, stride, padding):
  conv = IMPLS[impl]

  def f(x, k, ct):
    y, pull = jax.vjp(lambda a, b: conv(a, b, (stride, stride), padding,
                                        dimension_numbers=_NHWC), x, k)
    return (y,) + pull(ct)

  return jax.jit(f)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__)
  p.add_argument('--net', default='resnet50', choices=sorted(NETS))
  p.add_argument('--batch', type=int, default=16)
  p.add_argument('--repeats', type=int, default=2)
  p.add_argument('--json', default=None)
  args = p.parse_args(argv)
  load0 = os.getloadavg()
  rows = []
  for (side, cin, k, s, cout), count in sorted(NETS[args.net]().items()):
    padding = _padding(args.net, k)
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (args.batch, side, side, cin))
    w = jax.random.normal(key, (k, k, cin, cout)) * 0.05
    out_side = (side + 2 * (k // 2) - k) // s + 1 if padding != 'SAME' else (
        -(-side // s))
    ct = jnp.ones((args.batch, out_side, out_side, cout))
    flops = 3 * 2 * args.batch * out_side**2 * cout * k * k * cin
    fns = {impl: _fwd_bwd(impl, s, padding) for impl in IMPLS}
    for f in fns.values():
      jax.block_until_ready(f(x, w, ct))
    times = {impl: [] for impl in fns}
    order = list(IMPLS)
    for r in range(args.repeats):
      for impl in (order if r % 2 == 0 else order[::-1]):
        t = time.perf_counter()
        jax.block_until_ready(fns[impl](x, w, ct))
        times[impl].append(time.perf_counter() - t)
    med = {impl: statistics.median(v) for impl, v in times.items()}
    rows.append({'conv': f'{k}x{k}/{s} {side}^2 {cin}->{cout}',
                 'count': count, 'gflop': flops / 1e9,
                 'auto_kind': _auto_kind(x, w, s, padding),
                 **{f'{i}_s': med[i] for i in med}})
    print(f"{rows[-1]['conv']:24s} x{count:2d}  " + '  '.join(
        f'{i} {med[i]:.3f} s ({flops / med[i] / 1e9:5.1f} GFLOP/s)'
        for i in IMPLS) + f"  auto-nodirect / auto {med['auto-nodirect'] / med['auto']:.2f}"
          f"  auto: {rows[-1]['auto_kind']}", flush=True)
  tot = {i: sum(r[f'{i}_s'] * r['count'] for r in rows) for i in IMPLS}
  gflop = sum(r['gflop'] * r['count'] for r in rows)
  print(f'\nAll {sum(r["count"] for r in rows)} convolutions, forward + '
        f'backward, batch {args.batch}: {gflop:.0f} GFLOP; ' + ', '.join(
            f'{i} {tot[i]:.2f} s ({gflop / tot[i]:.1f} GFLOP/s)'
            for i in IMPLS) + f'; xla / auto {tot["xla"] / tot["auto"]:.2f}'
        + f'; auto-nodirect / auto {tot["auto-nodirect"] / tot["auto"]:.2f}')
  print('Share of the convolution time (' + ' / '.join(IMPLS) + '):')
  for r in sorted(rows, key=lambda r: -r['auto_s'] * r['count']):
    print(f"  {r['conv']:24s} " + ' / '.join(
        f"{100 * r[f'{i}_s'] * r['count'] / tot[i]:5.1f} %" for i in IMPLS))
  load1 = os.getloadavg()
  print(f'load average before {load0[0]:.2f}, after {load1[0]:.2f}')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'net': args.net, 'rows': rows, 'total_s': tot,
                 'gflop': gflop, 'batch': args.batch,
                 'load': [load0, load1]}, f, indent=1)


if __name__ == '__main__':
  host_malloc.reexec_with_tuned_malloc()
  main()
