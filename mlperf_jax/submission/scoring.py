# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The olympic score of a benchmark's runs.

The score is the mean time to train after dropping the fastest and slowest
runs (how many: the variant's `olympic_drop`), times the RCP normalization
factor the package checker writes to `scaling.json`.
"""

from __future__ import annotations

import json
import math
import os

from mlperf_jax import workloads


def olympic_mean(scores: list[float], drop: int = 1) -> float | None:
  """Mean after dropping the `drop` fastest and slowest scores.

  Non-converged runs count as infinite, so they are dropped as the slowest;
  more than `drop` of them make the result invalid (None).
  """
  s = sorted(scores)
  if sum(1 for x in s if not math.isfinite(x)) > drop or len(s) <= 2 * drop:
    return None
  kept = s[drop:len(s) - drop]
  return sum(kept) / len(kept)


def drop_count(benchmark: str) -> int:
  """Runs the olympic mean drops at each end (the variant says; 1 for a
  benchmark no workload logs)."""
  found = workloads.by_benchmark(benchmark)
  return found[1].olympic_drop if found else 1


def scaling_factor(results_dir: str) -> float | None:
  """The normalization factor in `results_dir/scaling.json`, or None."""
  path = os.path.join(results_dir, 'scaling.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return float(json.load(f)['scaling_factor'])


def olympic_minutes(times_s: list[float], benchmark: str,
                    normalization: float) -> float | None:
  """The score in minutes (normalization included), or None when the
  olympic mean has none."""
  mean = olympic_mean([t / 60 for t in times_s], drop_count(benchmark))
  return None if mean is None else mean * normalization
