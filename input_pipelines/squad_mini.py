# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""A small extractive QA set in SQuAD v1.1 format, from the mini BERT corpus.

The mini BERT is pre-trained on the English text that ships with Python
(`text_corpus`); this builds cloze-style extractive questions from the same
documents, keeping its train / held-out document split (so no held-out
paragraph was seen in pre-training or fine-tuning):

* paragraphs: blank-line separated blocks of 30-80 whitespace words of prose
  (at least 80 % of the words alphabetic; no interpreter sessions or
  tracebacks);
* per paragraph, up to `QUESTIONS_PER_PARAGRAPH` sentences of at least 8
  words; in each, the answer is one or two consecutive alphabetic words of 3+
  letters (not a stop word), drawn from a generator seeded by the
  paragraph's name; the question is the sentence's words around the answer
  (at most 6 on each side) with the answer replaced by "what", ending in '?';
  `answer_start` is the answer's character offset in the context, so the
  answer is a span of the context, as SQuAD's.

Deterministic: the same Python (its documentation) gives the same set; it
is cached as JSON under the corpus cache. Two trivial baselines
(`baselines`) score it: the context's first two words, and a random span of
one or two words.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from typing import Any

import numpy as np

from mlperf_jax.input_pipelines import text_corpus

QUESTIONS_PER_PARAGRAPH = 2
MIN_WORDS, MAX_WORDS = 30, 80
CONTEXT_WORDS = 6
_FORMAT_VERSION = 1
_STOP = frozenset(
    'the and for are but not you all any can had her was one our out has his '
    'how its may new now see two who did get use that with have this will '
    'your from they been were what when which their there than then them '
    'these those into also only other some such more most must each else '
    'does done just like over very would could should about after before '
    'where while being both same here'.split())
_WORD = re.compile(r'[A-Za-z]{3,}')
_SENTENCE = re.compile(r'[^.!?]+[.!?]')


def _prose(paragraph: str) -> bool:
  words = paragraph.split()
  if not MIN_WORDS <= len(words) <= MAX_WORDS:
    return False
  if '>>>' in paragraph or 'Traceback' in paragraph:
    return False
  alpha = sum(1 for w in words if re.fullmatch(r'[A-Za-z][a-z]*[,.;:]?', w))
  return alpha >= 0.8 * len(words)


def _questions(name: str, k: int, context: str, rng) -> list[dict[str, Any]]:
  out = []
  sents = [m for m in _SENTENCE.finditer(context)
           if len(m.group().split()) >= 8]
  order = rng.permutation(len(sents))[:QUESTIONS_PER_PARAGRAPH]
  for j in sorted(order):
    sent = sents[j]
    words = [m for m in _WORD.finditer(context, sent.start(), sent.end())
             if m.group().lower() not in _STOP]
    if not words:
      continue
    first = words[rng.integers(len(words))]
    a0, a1 = first.start(), first.end()
    nxt = context[a1:a1 + 1 + 40]
    m2 = re.match(r' ([A-Za-z]{3,})\b', nxt)
    if m2 and m2.group(1).lower() not in _STOP and rng.random() < 0.5:
      a1 += m2.end()
    left = context[sent.start():a0].split()[-CONTEXT_WORDS:]
    right = context[a1:sent.end()].split()[:CONTEXT_WORDS]
    question = ' '.join([*left, 'what', *right]).rstrip('.!?') + '?'
    out.append({'id': f'{name}#{k}.{j}', 'question': question,
                'answers': [{'text': context[a0:a1], 'answer_start': a0}]})
  return out


def build() -> dict[str, dict[str, Any]]:
  """{'train', 'dev'}: SQuAD v1.1 JSON dicts (`version`, `data`)."""
  cfg = text_corpus.CorpusConfig()
  splits = {'train': [], 'dev': []}
  for name, text in text_corpus.documents():
    paragraphs = []
    for k, p in enumerate(re.split(r'\n\s*\n', text)):
      context = ' '.join(p.split())
      if not _prose(context):
        continue
      seed = int.from_bytes(hashlib.sha256(f'{name}#{k}'.encode()).digest()[:8],
                            'little')
      qas = _questions(name, k, context, np.random.default_rng(seed))
      if qas:
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


def baselines(dataset: dict[str, Any], seed: int = 0) -> dict[str, float]:
  """F1 of the trivial answerers: the context's first two words, and a
  random span of one or two whitespace words."""
  from mlperf_jax.metrics import squad as squad_metric  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(seed)
  first, rand = {}, {}
  for article in dataset['data']:
    for p in article['paragraphs']:
      words = p['context'].split()
      for qa in p['qas']:
        first[qa['id']] = ' '.join(words[:2])
        i, n = int(rng.integers(len(words))), int(rng.integers(1, 3))
        rand[qa['id']] = ' '.join(words[i:i + n])
  data = dataset['data']
  return {'first_words_f1': squad_metric.evaluate(data, first)['f1'],
          'random_span_f1': squad_metric.evaluate(data, rand)['f1']}
