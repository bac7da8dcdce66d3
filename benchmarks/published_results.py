# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Published MLPerf Training results, read from the official results repos.

Writes `benchmarks/published_results.csv` (committed, so the validation of
`python -m mlperf_jax.plan` runs without the repos): for each chosen
(round, submitter, system, benchmark) the chip count (from the system
description: nodes x accelerators per node), the logged global batch size,
the number of runs, the olympic mean of the runs' time-to-train
(run_stop - run_start of each `result_*.txt`, minutes; best and worst
dropped), the olympic mean of the `epoch_num` of each converged run's last
evaluation (MiniGo: its generation), with the file path and commit it came
from.

  python benchmarks/published_results.py \
      --repo v1.0=/work/.mirror/mlcommons+training_results_v1.0/repo \
      --repo v1.1=/work/.mirror/mlcommons+training_results_v1.1/repo

(the mirrors come from the project's `fetch` tool: `github:mlcommons/
training_results_v1.0` and `_v1.1`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess

# (round, submitter, system directory, benchmark): 8, 64, ~500-3456 chips on
# A100 and TPU v4 for the three benchmarks plan is validated on.
ROWS = [
    ('v1.0', 'NVIDIA', 'dgxa100_ngc21.05_mxnet', 'resnet'),
    ('v1.0', 'NVIDIA', 'dgxa100_n8_ngc21.05_mxnet', 'resnet'),
    ('v1.0', 'NVIDIA', 'dgxa100_n128_ngc21.05_mxnet', 'resnet'),
    ('v1.0', 'Google', 'tpu-v4-128-TF', 'resnet'),
    ('v1.0', 'Google', 'tpu-v4-4096-TF', 'resnet'),
    ('v1.0', 'Google', 'tpu-v4-6912-TF', 'resnet'),
    ('v1.1', 'NVIDIA', 'dgxa100_ngc21.09_mxnet', 'resnet'),
    ('v1.1', 'NVIDIA', 'dgxa100_n8_ngc21.09_mxnet', 'resnet'),
    ('v1.1', 'NVIDIA', 'dgxa100_n540_ngc21.09_mxnet', 'resnet'),
    ('v1.0', 'NVIDIA', 'dgxa100_ngc21.05_pytorch', 'bert'),
    ('v1.0', 'NVIDIA', 'dgxa100_n8_ngc21.05_pytorch', 'bert'),
    ('v1.0', 'NVIDIA', 'dgxa100_n512_ngc21.05_pytorch', 'bert'),
    ('v1.0', 'Google', 'tpu-v4-128-TF', 'bert'),
    ('v1.0', 'Google', 'tpu-v4-4096-TF', 'bert'),
    ('v1.1', 'NVIDIA', 'dgxa100_ngc21.09_pytorch', 'bert'),
    ('v1.1', 'NVIDIA', 'dgxa100_n8_ngc21.09_pytorch', 'bert'),
    ('v1.1', 'NVIDIA', 'dgxa100_n540_ngc21.09_pytorch', 'bert'),
    ('v1.0', 'NVIDIA', 'dgxa100_ngc21.05_merlin_hugectr', 'dlrm'),
    ('v1.0', 'NVIDIA', 'dgxa100_n14_ngc21.05_merlin_hugectr', 'dlrm'),
    ('v1.0', 'Google', 'tpu-v4-128-TF', 'dlrm'),
    ('v1.0', 'Google', 'tpu-v4-256-TF', 'dlrm'),
    ('v1.1', 'NVIDIA', 'dgxa100_ngc21.09_merlin_hugectr', 'dlrm'),
    ('v1.1', 'NVIDIA', 'dgxa100_n8_ngc21.09_merlin_hugectr', 'dlrm'),
    ('v1.1', 'NVIDIA', 'dgxa100_n14_ngc21.09_merlin_hugectr', 'dlrm'),
    # The wave-2 benchmarks: one 8-GPU row per round (the v1.1 one
    # calibrates), a multi-node row and a TPU v4 row where they exist.
    ('v1.0', 'NVIDIA', 'dgxa100_ngc21.05_mxnet', 'ssd'),
    ('v1.0', 'NVIDIA', 'dgxa100_n8_ngc21.05_mxnet', 'ssd'),
    ('v1.0', 'Google', 'tpu-v4-128-TF', 'ssd'),
    ('v1.1', 'NVIDIA', 'dgxa100_ngc21.09_mxnet', 'ssd'),
    ('v1.1', 'NVIDIA', 'dgxa100_n8_ngc21.09_mxnet', 'ssd'),
    ('v1.0', 'NVIDIA', 'dgxa100_ngc21.05_pytorch', 'maskrcnn'),
    ('v1.0', 'NVIDIA', 'dgxa100_n4_ngc21.05_pytorch', 'maskrcnn'),
    ('v1.0', 'Google', 'tpu-v4-128-TF', 'maskrcnn'),
    ('v1.1', 'NVIDIA', 'dgxa100_ngc21.09_pytorch', 'maskrcnn'),
    ('v1.1', 'NVIDIA', 'dgxa100_n4_ngc21.09_pytorch', 'maskrcnn'),
    ('v1.0', 'NVIDIA', 'dgxa100_ngc21.05_mxnet', 'unet3d'),
    ('v1.0', 'NVIDIA', 'dgxa100_n13_ngc21.05_mxnet', 'unet3d'),
    ('v1.0', 'Google', 'tpu-v4-128-JAX', 'unet3d'),
    ('v1.0', 'NVIDIA', 'dgxa100_ngc21.05_pytorch', 'rnnt'),
    ('v1.0', 'NVIDIA', 'dgxa100_n16_ngc21.05_pytorch', 'rnnt'),
    ('v1.1', 'NVIDIA', 'dgxa100_ngc21.09_pytorch', 'rnnt'),
    ('v1.1', 'NVIDIA', 'dgxa100_n16_ngc21.09_pytorch', 'rnnt'),
    ('v1.0', 'NVIDIA', 'dgxa100_ngc21.05_tensorflow', 'minigo'),
    ('v1.0', 'NVIDIA', 'dgxa100_n32_ngc21.05_tensorflow', 'minigo'),
    ('v1.1', 'NVIDIA', 'dgxa100_ngc21.09_tensorflow', 'minigo'),
    ('v1.1', 'NVIDIA', 'dgxa100_n32_ngc21.09_tensorflow', 'minigo'),
]
FIELDS = ['round', 'submitter', 'system', 'benchmark', 'accelerator', 'chips',
          'global_batch_size', 'runs', 'minutes', 'epoch_num', 'source']
# The batch key of a benchmark whose logs do not say `global_batch_size`.
BATCH_KEYS = {'minigo': 'train_batch_size'}
CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   'published_results.csv')


def _git(repo: str, *args: str) -> str:
  return subprocess.run(['git', '-C', repo, *args], check=True,
                        capture_output=True, text=True).stdout


def _mllog(text: str) -> dict[str, list]:
  out: dict[str, list] = {}
  for line in text.splitlines():
    i = line.find(':::MLLOG ')
    if i < 0:
      continue
    try:
      e = json.loads(line[i + 9:])
    except json.JSONDecodeError:
      continue
    out.setdefault(e['key'], []).append(e)
  return out


def row(repo: str, rnd: str, submitter: str, system: str, bench: str) -> dict:
  commit = _git(repo, 'rev-parse', 'HEAD').strip()
  desc = json.loads(_git(repo, 'show', f'HEAD:{submitter}/systems/{system}.json'))
  chips = int(desc['number_of_nodes']) * int(desc['accelerators_per_node'])
  folder = f'{submitter}/results/{system}/{bench}'
  files = sorted(f for f in _git(repo, 'ls-tree', '--name-only', 'HEAD',
                                 folder + '/').split()
                 if os.path.basename(f).startswith('result_'))
  minutes, gbs, epochs = [], None, []
  for f in files:
    try:
      log = _mllog(_git(repo, 'show', f'HEAD:{f}'))
    except subprocess.CalledProcessError:
      return {}  # the mirror left this (large) log out
    start, stop = log['run_start'][0], log['run_stop'][-1]
    if stop['metadata'].get('status') != 'success':
      minutes.append(float('inf'))  # a non-converged run: dropped as worst
      continue
    minutes.append((stop['time_ms'] - start['time_ms']) / 60000)
    gbs = int(log[BATCH_KEYS.get(bench, 'global_batch_size')][0]['value'])
    # The epoch (MiniGo: generation) of the last evaluation, the converged one.
    epochs.append(float(log['eval_accuracy'][-1]['metadata']['epoch_num']))
  minutes.sort()
  kept = minutes[1:-1]
  epochs = sorted(epochs)[1:-1] if len(epochs) > 2 else epochs
  return {'round': rnd, 'submitter': submitter, 'system': system,
          'benchmark': bench, 'accelerator': desc['accelerator_model_name'],
          'chips': chips, 'global_batch_size': gbs, 'runs': len(files),
          'minutes': round(sum(kept) / len(kept), 3),
          'epoch_num': round(sum(epochs) / len(epochs), 3),
          'source': f'mlcommons/training_results_{rnd}@{commit[:8]}:{folder}'}


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--repo', action='append', required=True,
                 metavar='ROUND=PATH', help='e.g. v1.1=/path/to/repo')
  args = p.parse_args()
  repos = dict(r.split('=', 1) for r in args.repo)
  rows = []
  for r, s, d, b in ROWS:
    got = row(repos[r], r, s, d, b) if r in repos else {}
    if got:
      rows.append(got)
    else:
      print(f'skipped {r} {s} {d} {b}: its logs are not in the mirror')
  with open(CSV, 'w', newline='') as f:
    w = csv.DictWriter(f, FIELDS)
    w.writeheader()
    w.writerows(rows)
  for r in rows:
    print(r)


if __name__ == '__main__':
  main()
