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
import os
import sys

from mlperf_jax.cli import checks
from mlperf_jax import api


class LogError(ValueError):
  """An accuracy log that cannot be scored (the message names the entry)."""


def read_log(path: str, count: int | None = None) -> dict[int, bytes]:
  """qsl_idx -> response bytes (the first response for a repeated sample).

  Raises:
    LogError: the file is not a LoadGen accuracy log, or an entry has no
      integer `qsl_idx` in 0..count-1 or no hex `data`.
  """
  try:
    with open(path) as f:
      entries = json.load(f)
  except OSError as e:
    raise LogError(f'cannot read {path}: {e.strerror or e}') from None
  except ValueError as e:
    raise LogError(f'{path} is not JSON ({e}); give the '
                   'mlperf_log_accuracy.json a LoadGen accuracy run wrote'
                   ) from None
  if not isinstance(entries, list):
    raise LogError(f'{path} holds a JSON {type(entries).__name__}, not the '
                   'list of responses of mlperf_log_accuracy.json')
  out: dict[int, bytes] = {}
  for n, e in enumerate(entries):
    where = f'{path}: entry {n}'
    if not isinstance(e, dict) or 'qsl_idx' not in e or 'data' not in e:
      raise LogError(f'{where} is {e!r:.80}; each entry needs "qsl_idx" and '
                     '"data"')
    idx = e['qsl_idx']
    if isinstance(idx, bool) or not isinstance(idx, int):
      raise LogError(f'{where}: qsl_idx {idx!r} is not an integer')
    if idx < 0 or (count is not None and idx >= count):
      raise LogError(f'{where}: qsl_idx {idx} is out of range: the data set '
                     f'has samples 0..{(count or 1) - 1} (is this the log of '
                     'another workload or scale?)')
    try:
      data = bytes.fromhex(e['data'])
    except (TypeError, ValueError):
      raise LogError(f'{where}: data {e["data"]!r:.40} is not hex') from None
    out.setdefault(idx, data)
  return out


def score(spec: api.InferenceSpec, log_path: str) -> dict[str, float]:
  """The workload's metrics over the samples in the log."""
  return spec.accuracy(read_log(log_path, spec.count))


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
  problems = []
  if args.workload not in workloads.all_names():
    problems.append(f'unknown workload {args.workload!r}; valid workloads: '
                    f'{", ".join(workloads.all_names())}')
  elif (workloads.get_class(args.workload).inference
        is api.Workload.inference):
    problems.append(f'workload {args.workload!r} has no inference model, so '
                    'no accuracy script')
  if not os.path.isfile(args.log):
    problems.append(f'cannot read {args.log!r}: it is not a file (give the '
                    'mlperf_log_accuracy.json of an accuracy-mode run)')
  if args.data_dir and not os.path.isdir(args.data_dir):
    problems.append(f'--data-dir {args.data_dir!r} is not a directory')
  if problems:
    checks.fail(p, problems)
  try:
    wl = workloads.get(args.workload, args.scale, data_dir=args.data_dir)
    spec = wl.inference()
  except (NotImplementedError, OSError, ImportError, ValueError) as e:
    # No such scale, or its data set is missing or unreadable.
    p.error(f'cannot score {args.workload} ({args.scale}): {e}')
  try:
    log = read_log(args.log, spec.count)
    metrics = spec.accuracy(log)
  except LogError as e:
    p.error(str(e))
  except (ValueError, KeyError, IndexError, TypeError) as e:
    p.error(f'{args.log}: the responses cannot be decoded as '
            f'{args.workload} outputs ({type(e).__name__}: {e}); is this the '
            'log of another workload?')
  print(describe(metrics, spec.metric))
  return 0


if __name__ == '__main__':
  sys.exit(main())
