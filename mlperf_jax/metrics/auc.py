# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Exact ROC AUC for 10^8 scores with ties, in bounded memory (NumPy).

DLRM's quality metric is the ROC AUC over the whole eval set (89,137,319
samples for Criteo 1TB). Each (score, label) pair is packed into one uint64:
an order-preserving key of the float32 score in the high bits and the label
in the lowest bit. One in-place sort (8 bytes per sample) then orders the
samples by score with ties adjacent, and a chunked pass sums, per group of
equal scores, `positives * (negatives below + negatives in the group / 2)`:
the Mann-Whitney statistic with half credit for ties, which is exactly what
`sklearn.metrics.roc_auc_score` computes (trapezoidal ROC). Extra memory is
one chunk of temporaries (`chunk` samples), independent of the set size.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

_CHUNK = 1 << 22


def _float_keys(scores: np.ndarray) -> np.ndarray:
  """uint32 keys ordered like the float32 scores (-0.0 == +0.0)."""
  s = np.asarray(scores, np.float32).ravel()
  if np.isnan(s).any():
    raise ValueError('AUC scores contain NaN; the model diverged or the eval '
                     'outputs are corrupt')
  s = s + np.float32(0.0)  # -0.0 -> +0.0, so both get one key
  bits = s.view(np.uint32)
  neg = (bits >> 31).astype(bool)
  return np.where(neg, ~bits, bits | np.uint32(0x80000000))


def pack(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """uint64 `key(score) << 1 | label` for each sample."""
  labels = np.asarray(labels).ravel()
  if labels.shape[0] != np.asarray(scores).size:
    raise ValueError(f'{np.asarray(scores).size} scores but '
                     f'{labels.shape[0]} labels')
  if labels.size and not np.isin(labels, (0, 1)).all():
    raise ValueError('AUC labels must be 0 or 1')
  keys = _float_keys(scores).astype(np.uint64)
  return (keys << np.uint64(1)) | labels.astype(np.uint64)


def auc_from_packed(packed: np.ndarray, chunk: int = _CHUNK) -> float:
  """ROC AUC of packed samples; sorts `packed` in place.

  Args:
    packed: uint64 array from `pack` (sorted in place).
    chunk: samples per pass; bounds the temporary memory.

  Returns:
    The AUC, or NaN when only one class is present (sklearn raises there).
  """
  packed.sort()
  n = packed.size
  pos_total = 0
  neg_below = 0
  num = 0.0
  start = 0
  while start < n:
    stop = min(n, start + chunk)
    if stop < n:  # move the cut to the start of the group it falls in
      group_key = (packed[stop] >> np.uint64(1)) << np.uint64(1)
      cut = int(np.searchsorted(packed[start:stop], group_key, 'left'))
      if cut > 0:
        stop = start + cut
      else:  # one group longer than a chunk: take all of it
        stop = int(np.searchsorted(packed, group_key + np.uint64(2), 'left'))
    c = packed[start:stop]
    keys = c >> np.uint64(1)
    labels = (c & np.uint64(1)).astype(np.int64)
    starts = np.concatenate(([0], np.flatnonzero(keys[1:] != keys[:-1]) + 1))
    pos = np.add.reduceat(labels, starts)
    cnt = np.diff(np.append(starts, c.size))
    neg = cnt - pos
    below = neg_below + np.cumsum(neg) - neg
    num += float(np.sum(pos * (below + 0.5 * neg)))
    neg_below += int(neg.sum())
    pos_total += int(pos.sum())
    start = stop
  if pos_total == 0 or neg_below == 0:
    return float('nan')
  return num / (float(pos_total) * float(neg_below))


def roc_auc(scores: np.ndarray, labels: np.ndarray,
            chunk: int = _CHUNK) -> float:
  """Exact ROC AUC of `scores` for binary `labels` (ties get half credit)."""
  return auc_from_packed(pack(scores, labels), chunk)


class AucAccumulator:
  """`EvalAccumulator` collecting masked (score, label) pairs for the AUC.

  Stores 8 bytes per real sample in a growing buffer (preallocated when the
  eval set size is known); `result()` sorts it in place.
  """

  def __init__(self, expected: int = 0, score_key: str = 'score',
               label_key: str = 'label', mask_key: str = 'mask'):
    self._buf = np.empty(max(int(expected), 1), np.uint64)
    self._n = 0
    self._keys = (score_key, label_key, mask_key)

  def add(self, outputs: Mapping[str, np.ndarray]) -> None:
    sk, lk, mk = self._keys
    scores = np.asarray(outputs[sk]).ravel()
    labels = np.asarray(outputs[lk]).ravel()
    if mk in outputs:
      keep = np.asarray(outputs[mk]).ravel() > 0
      scores, labels = scores[keep], labels[keep]
    packed = pack(scores, np.rint(labels).astype(np.int64))
    if self._n + packed.size > self._buf.size:
      grown = np.empty(max(2 * self._buf.size, self._n + packed.size),
                       np.uint64)
      grown[:self._n] = self._buf[:self._n]
      self._buf = grown
    self._buf[self._n:self._n + packed.size] = packed
    self._n += packed.size

  def result(self) -> dict[str, float]:
    auc = auc_from_packed(self._buf[:self._n])
    return {'auc': auc, 'count': float(self._n)}
