# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SQuAD v1.1 exact match and F1, as the official evaluation script.

`evaluate-v1.1.py` (the SQuAD authors' script, shipped by the MLPerf BERT
reference as `language/bert/evaluate-v1.1.py`): an answer is normalised by
lower-casing, dropping ASCII punctuation (`string.punctuation`), replacing
the articles a/an/the (whole words) by a space and collapsing whitespace;
EM is equality of normalised strings, F1 the harmonic mean of token
precision and recall over the multiset intersection of normalised
whitespace tokens (0 when nothing is shared); each question takes the
maximum over its ground-truth answers; both are averaged over every
question of the data set (an unanswered one scores 0) and reported in
percent.
"""

from __future__ import annotations

import collections
import re
import string
from typing import Any, Mapping, Sequence

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r'\b(a|an|the)\b')


def normalize_answer(s: str) -> str:
  s = ''.join(ch for ch in s.lower() if ch not in _PUNCTUATION)
  return ' '.join(_ARTICLES.sub(' ', s).split())


def f1_score(prediction: str, ground_truth: str) -> float:
  pred = normalize_answer(prediction).split()
  truth = normalize_answer(ground_truth).split()
  same = sum((collections.Counter(pred) & collections.Counter(truth)).values())
  if same == 0:
    return 0.0
  precision, recall = same / len(pred), same / len(truth)
  return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction: str, ground_truth: str) -> float:
  return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def evaluate(data: Sequence[Mapping[str, Any]],
             predictions: Mapping[str, str]) -> dict[str, float]:
  """{'exact_match', 'f1'} in percent over every question of `data` (the
  JSON's `data` list), plus the number of questions and of unanswered
  ones."""
  em = f1 = 0.0
  total = unanswered = 0
  for article in data:
    for paragraph in article['paragraphs']:
      for qa in paragraph['qas']:
        total += 1
        if qa['id'] not in predictions:
          unanswered += 1
          continue
        truths = [a['text'] for a in qa['answers']]
        pred = predictions[qa['id']]
        em += max(exact_match_score(pred, t) for t in truths)
        f1 += max(f1_score(pred, t) for t in truths)
  if total == 0:
    raise ValueError('the data set holds no questions')
  return {'exact_match': 100.0 * em / total, 'f1': 100.0 * f1 / total,
          'questions': float(total), 'unanswered': float(unanswered)}
