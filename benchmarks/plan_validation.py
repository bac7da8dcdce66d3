# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.plan` against published MLPerf Training results.

For every row of `benchmarks/published_results.csv` (made by
`benchmarks/published_results.py` from the official results repos) this
predicts the time-to-train of our reference workload on that system, at the
logged global batch size, with the RCPs of the round's ruleset, and prints
predicted / published. The one free constant per benchmark, the roofline
efficiency (planning/predict.py), is fitted on the v1.1 8x A100 row of that
benchmark (v1.0 for 3D U-Net; marked `calibration`) and then used unchanged
for every other row. MiniGo's generations to converge are themselves the
published 8x A100 figure (planning/selfplay.py). Run on CPU (abstract
lowering on fake devices, nothing allocated; plan's cost cache makes reruns
fast):

  JAX_PLATFORMS=cpu python benchmarks/plan_validation.py   # a markdown table
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '')
                           + ' --xla_force_host_platform_device_count=8')

# pylint: disable=wrong-import-position
from mlperf_jax import workloads  # noqa: E402
from mlperf_jax.planning import predict as pr  # noqa: E402
from mlperf_jax.planning import systems  # noqa: E402

CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   'published_results.csv')
RULESETS = {'v1.0': '1.0.0', 'v1.1': '1.1.0'}
# The calibration row of a benchmark: NVIDIA's 8x A100 result of v1.1, or of
# v1.0 where v1.1 has none (3D U-Net).
CALIBRATION = (('v1.1', 8, 'NVIDIA'), ('v1.0', 8, 'NVIDIA'))


def _calibration_rows(rows) -> set[int]:
  """Indices of each benchmark's calibration row."""
  out = set()
  for b in {r['benchmark'] for r in rows}:
    for rnd, chips, sub in CALIBRATION:
      hit = [i for i, r in enumerate(rows) if r['benchmark'] == b
             and (r['round'], int(r['chips']), r['submitter']) == (rnd, chips,
                                                                   sub)]
      if hit:
        out.add(hit[0])
        break
  return out


def _system(row) -> systems.System:
  chips = int(row['chips'])
  if row['accelerator'].startswith('TPU'):
    return systems.parse_system(f'tpu-v4-{2 * chips}')
  return systems.parse_system(f'a100-{chips}')


def _fit(p: pr.Prediction, minutes: float) -> float:
  """The efficiency at which prediction `p` (made at efficiency 1) takes
  `minutes` (bisection: time-to-train falls as efficiency rises)."""
  def ttt(eff):
    step = max(p.compute_s / eff, p.data_comm_s) + p.other_comm_s
    return p.steps * step + (p.eval_s + p.selfplay_s) / eff
  lo, hi = 1e-3, 1.0
  for _ in range(60):
    mid = (lo + hi) / 2
    if ttt(mid) > minutes * 60:
      lo = mid
    else:
      hi = mid
  return (lo + hi) / 2


def _how(p: pr.Prediction) -> str:
  if pr.is_selfplay_conv(p.conv):
    return 'published generations'
  return p.conv.how


def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.parse_args()
  with open(CSV) as f:
    rows = list(csv.DictReader(f))
  costs, base = {}, []
  for row in rows:
    wl = workloads.get(row['benchmark'], 'reference', synthetic=True,
                       compute_dtype='bfloat16')
    gbs = int(row['global_batch_size'])
    hp = wl.resolve_hparams({pr.batch_key(wl): str(gbs)}, division='open')
    system = _system(row)
    if gbs % system.chips:
      # Fewer samples than chips: the submission partitions each sample
      # spatially over several chips, which our model does not do.
      base.append((row, wl, hp, system, None))
      continue
    key = (row['benchmark'], gbs // system.chips)
    if key not in costs:
      print(f'measuring {key} ...', file=sys.stderr, flush=True)
      costs[key] = pr.step_cost(wl, hp, pr.target_mesh(None, system.chips),
                                gbs)
    p = pr.predict(wl, hp, system, ruleset=RULESETS[row['round']],
                   efficiency=1.0, cost=costs[key])
    base.append((row, wl, hp, system, p))
  eff = {}
  calibration = _calibration_rows(rows)
  for i, (row, _, _, _, p) in enumerate(base):
    if i in calibration and p is not None:
      eff[row['benchmark']] = _fit(p, float(row['minutes']))
  out = ['| round | submitter | system | chips | global batch | RCP epoch_num '
         '| bound | predicted min | published min | predicted / published |',
         '|---|---|---|---|---|---|---|---|---|---|']
  ratios = []
  for i, (row, wl, hp, system, p) in enumerate(base):
    if p is None:
      out.append(
          f'| {row["round"]} | {row["submitter"]} | {row["system"]} | '
          f'{system.chips} | {row["global_batch_size"]} | - | - | not '
          f'predicted | {float(row["minutes"]):.3f} | - (the global batch is '
          'not a multiple of the chips: the submission splits samples '
          'spatially over chips, which our model does not) |')
      continue
    e = eff[row['benchmark']]
    q = pr.predict(wl, hp, system, ruleset=RULESETS[row['round']],
                   efficiency=e, cost=p.cost)
    ratio = q.time_to_train_s / 60 / float(row['minutes'])
    calib = i in calibration
    if not calib:
      ratios.append((row['benchmark'], ratio))
    out.append(
        f'| {row["round"]} | {row["submitter"]} | {row["system"]} | '
        f'{system.chips} | {q.global_batch_size} | '
        f'{q.conv.mean_epoch_num:.4g} ({_how(q)}) | {q.bound} | '
        f'{q.time_to_train_s / 60:.3f} | {float(row["minutes"]):.3f} | '
        f'{ratio:.2f}' + (' (calibration)' if calib else '') + ' |')
  for b, e in sorted(eff.items()):
    if e > 0.999:
      out.append(f'{b}: not calibrated (even at efficiency 1 the prediction '
                 'is slower than the calibration row: the difference is in '
                 'communication or implementation, not compute).')
  within = sum(1 for _, r in ratios if 1 / 1.5 <= r <= 1.5)
  out.append('')
  out.append('Efficiency fitted per benchmark: ' + ', '.join(
      f'{b} {e:.3f}' for b, e in sorted(eff.items())) + f'. Within 1.5x: '
      f'{within} of {len(ratios)} validation rows (calibration rows excluded); '
      'per benchmark: ' + ', '.join(
          f'{b} {sum(1 for x, r in ratios if x == b and 1 / 1.5 <= r <= 1.5)}'
          f'/{sum(1 for x, _ in ratios if x == b)}'
          for b in sorted({x for x, _ in ratios})) + '.')
  print('\n'.join(out))
  return 0


if __name__ == '__main__':
  sys.exit(main())
