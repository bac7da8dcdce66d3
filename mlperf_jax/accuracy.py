# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Accuracy scripts: score `mlperf_log_accuracy.json` against ground truth.

  python -m mlperf_jax.accuracy --workload resnet [--scale mini] LOG_JSON

ResNet: each response is the predicted class as one little-endian int32;
top-1 over the unique `qsl_idx` entries (MultiStream may repeat samples).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np


def read_log(path: str) -> dict[int, bytes]:
  """qsl_idx -> response bytes (the first response for a repeated sample)."""
  with open(path) as f:
    entries = json.load(f)
  out: dict[int, bytes] = {}
  for e in entries:
    out.setdefault(int(e['qsl_idx']), bytes.fromhex(e['data']))
  return out


def score(workload, log_path: str, labels: Any) -> dict[str, float]:
  """Workload metric over the samples in the log."""
  if workload.name != 'resnet':
    raise NotImplementedError(f'no accuracy script for {workload.name!r} yet')
  responses = read_log(log_path)
  idx = sorted(responses)
  pred = np.array([np.frombuffer(responses[i], '<i4')[0] for i in idx])
  truth = np.array([int(labels[i]) for i in idx])
  return {'top1': float(np.mean(pred == truth)) if idx else float('nan'),
          'samples': float(len(idx))}


def describe(acc: dict[str, float]) -> str:
  return (f"top-1 = {100 * acc['top1']:.3f} % over {int(acc['samples'])} "
          'samples')


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(prog='python -m mlperf_jax.accuracy',
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--workload', default='resnet')
  p.add_argument('--scale', choices=('mini', 'reference'), default='mini')
  p.add_argument('--data-dir')
  p.add_argument('log')
  args = p.parse_args(argv)
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  wl = workloads.get(args.workload, args.scale, data_dir=args.data_dir)
  acc = score(wl, args.log, wl.inference_set().labels)
  print(describe(acc))
  return 0


if __name__ == '__main__':
  sys.exit(main())
