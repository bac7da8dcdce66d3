# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Masked sums divided once: exact means over padded, sharded eval sets."""

from __future__ import annotations

from typing import Mapping

import numpy as np


class SumAccumulator:
  """Adds up masked sums; `result` divides by the count key once.

  Args:
    count_key: the summed key holding the number (or weight) of examples.
    ratios: metric name -> summed key; the metric is sum / count.
  """

  def __init__(self, count_key: str, ratios: Mapping[str, str]):
    self._count_key = count_key
    self._ratios = dict(ratios)
    self._sums: dict[str, float] = {}

  def add(self, outputs: Mapping[str, np.ndarray]) -> None:
    for k, v in outputs.items():
      self._sums[k] = self._sums.get(k, 0.0) + float(np.sum(v))

  def result(self) -> dict[str, float]:
    n = self._sums.get(self._count_key, 0.0)
    out = {self._count_key: n}
    for name, key in self._ratios.items():
      out[name] = self._sums.get(key, 0.0) / n if n else float('nan')
    return out
