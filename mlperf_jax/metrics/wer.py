# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Word error rate over a set, as the RNN-T reference computes it.

Reference: `rnn_speech_recognition/pytorch/common/metrics.py`
(`word_error_rate`): the word-level Levenshtein distance (substitutions,
insertions, deletions, each 1) of every hypothesis to its reference, summed
over the set, divided by the total number of reference words (inf when the
references have none). Words are whitespace-split.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np


def edit_distance(a: Sequence, b: Sequence) -> int:
  """Levenshtein distance between two sequences (two rows of the table)."""
  if len(a) < len(b):
    a, b = b, a
  prev = list(range(len(b) + 1))
  for i, x in enumerate(a, 1):
    cur = [i] + [0] * len(b)
    for j, y in enumerate(b, 1):
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
    prev = cur
  return prev[-1]


def word_errors(hypothesis: str, reference: str) -> tuple[int, int]:
  """(word edits, reference words) of one utterance."""
  ref = reference.split()
  return edit_distance(hypothesis.split(), ref), len(ref)


def word_error_rate(hypotheses: Sequence[str], references: Sequence[str]
                    ) -> float:
  if len(hypotheses) != len(references):
    raise ValueError(f'{len(hypotheses)} hypotheses for {len(references)} '
                     'references')
  edits = words = 0
  for h, r in zip(hypotheses, references):
    e, n = word_errors(h, r)
    edits, words = edits + e, words + n
  return edits / words if words else float('inf')


class WerAccumulator:
  """Turns eval-step outputs (hypothesis and reference label ids, their
  lengths, the mask) into the set's WER.

  Args:
    detokenize: label ids -> text.
  """

  def __init__(self, detokenize: Callable[[Sequence[int]], str]):
    self._detokenize = detokenize
    self._edits = 0
    self._words = 0
    self._count = 0.0
    self._loss = 0.0

  def add(self, outputs: Mapping[str, np.ndarray]) -> None:
    mask = np.asarray(outputs['mask'])
    for i in np.flatnonzero(mask > 0):
      hyp = self._detokenize(outputs['hyp'][i, :int(outputs['hyp_lens'][i])])
      ref = self._detokenize(outputs['labels'][i,
                                               :int(outputs['label_lens'][i])])
      e, n = word_errors(hyp, ref)
      self._edits += e
      self._words += n
    self._count += float(mask.sum())
    if 'loss_sum' in outputs:
      self._loss += float(np.sum(outputs['loss_sum']))

  def result(self) -> dict[str, float]:
    wer = self._edits / self._words if self._words else float('inf')
    out = {'wer': wer, 'count': self._count, 'word_edits': float(self._edits),
           'words': float(self._words)}
    if self._count:
      out['loss'] = self._loss / self._count
    return out
