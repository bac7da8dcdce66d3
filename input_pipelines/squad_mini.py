# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""A small extractive QA set in SQuAD v1.1 format, from the mini BERT corpus.

The mini BERT is pre-trained on the English text that ships with Python
(`text_corpus`); this builds extractive questions from the same documents,
keeping its train / held-out document split (so no held-out paragraph was
seen in pre-training or fine-tuning). Each question names a kind of span
and the paragraph holds exactly one span of that kind, so the question
determines the answer and the model must read it to find the span:

  kind       question                            answer (a span of the context)
  number     'which number is given?'            a number: 3, 0.5
  quoted     'what is quoted?'                   the text inside "..."
  paren      'what is in parentheses?'           the text inside (...)
  call       'which function is called?'         a call: name()
  dotted     'which dotted name is used?'        a dotted name: os.path
  capital    'which capitalized word is used?'   a capitalised word mid-sentence
  acronym    'which acronym is used?'            an all-capitals word: ASCII

Paragraphs: blank-line separated blocks of 12-120 whitespace words with no
interpreter sessions ('>>>'), whitespace collapsed; one question per kind
with exactly one match (of 1-30 characters) in the paragraph. A cloze set
(the sentence around a blanked word as the question) was tried first: the
mini BERT (2 layers, 128 wide) did not learn to align question and context
words within a CPU-minutes fine-tune (held-out F1 8.5-11 after 550 steps;
see `mlperf_jax/workloads/bert.py` `MINI_SQUAD_TARGET_F1`).

Deterministic: the same Python (its documentation) gives the same set; it
is cached as JSON under the corpus cache. `baselines` scores the trivial
answerers that ignore the question.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import sys
from typing import Any, Mapping

import numpy as np

from mlperf_jax.input_pipelines import text_corpus

MIN_WORDS, MAX_WORDS = 12, 120
# Paragraphs with questions of at least two kinds: the kind asked for must
# be read from the question.
MIN_QUESTIONS = 2
_FORMAT_VERSION = 5
# kind -> (question, pattern, the group holding the answer).
KINDS: dict[str, tuple[str, str, int]] = {
    'number': ('which number is given?',
               r'(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])', 1),
    'quoted': ('what is quoted?', r'"([^"]{1,30})"', 1),
    'paren': ('what is in parentheses?', r'\(([^()]{1,30})\)', 1),
    'call': ('which function is called?', r'\b([a-z_][a-z0-9_]*\(\))', 1),
    'dotted': ('which dotted name is used?', r'\b([a-z_]+\.[a-z_]+)\b', 1),
    'capital': ('which capitalized word is used?',
                r'(?<=[a-z,] )([A-Z][a-z]+)\b', 1),
    'acronym': ('which acronym is used?', r'\b([A-Z]{2,})\b', 1),
}


def _paragraphs(text: str):
  for k, p in enumerate(re.split(r'\n\s*\n', text)):
    context = ' '.join(p.split())
    if MIN_WORDS <= len(context.split()) <= MAX_WORDS and '>>>' not in context:
      yield k, context


def _questions(name: str, k: int, context: str) -> list[dict[str, Any]]:
  out = []
  for kind, (question, pattern, group) in KINDS.items():
    matches = list(re.finditer(pattern, context))
    if len(matches) != 1 or not matches[0].group(group).strip():
      continue
    m = matches[0]
    out.append({'id': f'{name}#{k}:{kind}', 'question': question,
                'answers': [{'text': m.group(group),
                             'answer_start': m.start(group)}]})
  return out


def build() -> dict[str, dict[str, Any]]:
  """{'train', 'dev'}: SQuAD v1.1 JSON dicts (`version`, `data`)."""
  cfg = text_corpus.CorpusConfig()
  splits = {'train': [], 'dev': []}
  for name, text in text_corpus.documents():
    paragraphs = []
    for k, context in _paragraphs(text):
      qas = _questions(name, k, context)
      if len(qas) >= MIN_QUESTIONS:
        paragraphs.append({'context': context, 'qas': qas})
    if paragraphs:
      split = 'dev' if text_corpus.is_held_out(name, cfg.eval_every) else (
          'train')
      splits[split].append({'title': name, 'paragraphs': paragraphs})
  return {k: {'version': '1.1', 'data': v} for k, v in splits.items()}


def _cache_path() -> str:
  key = json.dumps([_FORMAT_VERSION, sys.version])
  digest = hashlib.sha256(key.encode()).hexdigest()[:16]
  return os.path.join(text_corpus.cache_dir(), 'squad_mini', f'{digest}.json')


def load() -> dict[str, dict[str, Any]]:
  """The set, built and cached on first use."""
  path = _cache_path()
  if not os.path.exists(path):
    sets = build()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
      json.dump(sets, f)
    os.replace(tmp, path)
  with open(path) as f:
    return json.load(f)


def baselines(dataset: Mapping[str, Any], train: Mapping[str, Any],
              seed: int = 0) -> dict[str, float]:
  """F1 of answerers that ignore the question: the context's first word;
  a random span of one or two whitespace words; the most frequent training
  answer; and the paragraph's first span of any kind (the best that
  finding spans without reading the question can do)."""
  from mlperf_jax.metrics import squad as squad_metric  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(seed)
  frequent = collections.Counter(
      qa['answers'][0]['text'] for a in train['data']
      for p in a['paragraphs'] for qa in p['qas']).most_common(1)[0][0]
  answers = collections.defaultdict(dict)
  for article in dataset['data']:
    for p in article['paragraphs']:
      words = p['context'].split()
      spans = sorted((m.start(g), m.group(g)) for _, pat, g in KINDS.values()
                     for m in re.finditer(pat, p['context']))
      for qa in p['qas']:
        i, n = int(rng.integers(len(words))), int(rng.integers(1, 3))
        answers['first_word_f1'][qa['id']] = words[0]
        answers['random_span_f1'][qa['id']] = ' '.join(words[i:i + n])
        answers['most_frequent_answer_f1'][qa['id']] = frequent
        answers['first_span_of_any_kind_f1'][qa['id']] = spans[0][1]
  return {k: squad_metric.evaluate(dataset['data'], v)['f1']
          for k, v in answers.items()}
