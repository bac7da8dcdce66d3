# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""XLA:CPU flags against the native and the im2col convolution.

For each XLA_FLAGS setting (one fresh process each, in alternating order
over `--rounds`), times forward + backward of two representative ResNet-50
convolutions (3x3/1 56^2 64->64 and 1x1/1 28^2 512->128, batch 16) with
XLA's native convolution and with `im2col_conv`. The flags are those
jaxlib 0.10.2's XLA:CPU knows that could change how a convolution runs
(found with `strings` on jaxlib's shared objects).

  python benchmarks/conv_xla_flags.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

FLAG_SETS = {
    'default': '',
    'onednn': '--xla_cpu_use_onednn=true',
    'onednn-custom-call': ('--xla_cpu_use_onednn=true '
                           '--xla_cpu_experimental_onednn_custom_call=true'),
    'xnnpack': '--xla_cpu_use_xnnpack=true',
    'no-thunks': '--xla_cpu_use_thunk_runtime=false',
    'vector-512': '--xla_cpu_prefer_vector_width=512',
}

_CHILD = r'''
import json, sys, time, statistics
sys.path.insert(0, sys.argv[1])
import jax, jax.numpy as jnp
from jax import lax
from mlperf_jax.models import conv_lowering
dn = ('NHWC', 'HWIO', 'NHWC')
out = {}
for name, (side, cin, k, cout) in {'3x3 56^2 64->64': (56, 64, 3, 64),
                                   '1x1 28^2 512->128': (28, 512, 1, 128)}.items():
  x = jax.random.normal(jax.random.PRNGKey(0), (16, side, side, cin))
  w = jax.random.normal(jax.random.PRNGKey(1), (k, k, cin, cout)) * 0.05
  ct = jnp.ones((16, side, side, cout))
  for impl, conv in (('xla', lax.conv_general_dilated),
                     ('im2col', conv_lowering.im2col_conv)):
    def f(x, w, ct, conv=conv):
      y, pull = jax.vjp(lambda a, b: conv(a, b, (1, 1), 'SAME',
                                          dimension_numbers=dn), x, w)
      return (y,) + pull(ct)
    f = jax.jit(f)
    jax.block_until_ready(f(x, w, ct))
    ts = []
    for _ in range(3):
      t = time.perf_counter(); jax.block_until_ready(f(x, w, ct))
      ts.append(time.perf_counter() - t)
    out[f'{name} {impl}'] = statistics.median(ts)
print('RESULT ' + json.dumps(out))
'''


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__)
  p.add_argument('--rounds', type=int, default=2)
  args = p.parse_args(argv)
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  load0 = os.getloadavg()[0]
  res = {k: [] for k in FLAG_SETS}
  names = list(FLAG_SETS)
  for r in range(args.rounds):
    for name in (names if r % 2 == 0 else names[::-1]):
      env = dict(os.environ, XLA_FLAGS=FLAG_SETS[name])
      pr = subprocess.run([sys.executable, '-c', _CHILD, root], env=env,
                          capture_output=True, text=True, check=False)
      line = [l for l in pr.stdout.splitlines() if l.startswith('RESULT ')]
      if not line:
        res[name].append({'error': (pr.stderr.strip().splitlines() or
                                    ['?'])[-1]})
        continue
      res[name].append(json.loads(line[0][7:]))
  print(f'forward + backward seconds (median of {args.rounds} processes, '
        'each the median of 3):')
  for name, runs in res.items():
    ok = [r for r in runs if 'error' not in r]
    if not ok:
      print(f'  {name:20s} error: {runs[0]["error"]}')
      continue
    cols = {k: statistics.median(r[k] for r in ok) for k in ok[0]}
    print(f'  {name:20s} ' + '  '.join(f'{k}: {v:.3f}'
                                       for k, v in cols.items()))
  print(f'load average before {load0:.2f}, after {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
  main()
