# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Accuracy scripts: score `mlperf_log_accuracy.json` against ground truth.

  python -m mlperf_jax.accuracy --workload W [--scale mini] [--data-dir D] \\
      LOG_JSON

The log is read here (one response per unique `qsl_idx`: MultiStream and
the accuracy-mode rules may repeat samples); decoding the responses and
computing the metric is the workload's (`workload.inference().accuracy`).
"""

from __future__ import annotations

import argparse
import json
import sys

from mlperf_jax import api


def read_log(path: str) -> dict[int, bytes]:
  """qsl_idx -> response bytes (the first response for a repeated sample)."""
  with open(path) as f:
    entries = json.load(f)
  out: dict[int, bytes] = {}
  for e in entries:
    out.setdefault(int(e['qsl_idx']), bytes.fromhex(e['data']))
  return out


def score(spec: api.InferenceSpec, log_path: str) -> dict[str, float]:
  """The workload's metrics over the samples in the log."""
  return spec.accuracy(read_log(log_path))


def describe(metrics: dict[str, float], metric: str) -> str:
  """'top1 = 0.972222 (samples = 360)': the target metric, then the rest."""

  def fmt(v):  # counts as integers, the rest to 6 decimals
    if isinstance(v, float) and v.is_integer():
      return str(int(v))
    return f'{v:.6f}' if isinstance(v, float) else str(v)

  rest = [f'{k} = {fmt(v)}' for k, v in metrics.items() if k != metric]
  head = f'{metric} = {float(metrics[metric]):.6f}'
  return head + (f' ({", ".join(rest)})' if rest else '')


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(prog='python -m mlperf_jax.accuracy',
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--workload', required=True)
  p.add_argument('--scale', choices=api.SCALES, default='mini')
  p.add_argument('--data-dir', help='dataset directory (reference scale)')
  p.add_argument('log', help='mlperf_log_accuracy.json')
  args = p.parse_args(argv)
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  if args.workload not in workloads.names():
    p.error(f'unknown workload {args.workload!r}; valid workloads: '
            f'{", ".join(workloads.names())}')
  wl = workloads.get(args.workload, args.scale, data_dir=args.data_dir)
  try:
    spec = wl.inference()
  except (NotImplementedError, OSError, ImportError, ValueError) as e:
    # No inference model, or its data set is missing or unreadable.
    p.error(f'cannot score {args.workload} ({args.scale}): {e}')
  try:
    log = read_log(args.log)
  except (OSError, ValueError, KeyError) as e:
    p.error(f'cannot read {args.log}: {e}')
  print(describe(spec.accuracy(log), spec.metric))
  return 0


if __name__ == '__main__':
  sys.exit(main())
