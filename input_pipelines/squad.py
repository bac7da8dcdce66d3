# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SQuAD v1.1 examples and BERT features, as the MLPerf inference reference.

The reference (`mlcommons/inference` `language/bert/create_squad_data.py`,
the DeepLearningExamples copy of google-research/bert `run_squad.py`):

* `read_squad_examples`: each paragraph's context is split into words on
  whitespace (space, tab, CR, LF and U+202F), with a character -> word map;
  for training the answer's character span becomes a word span, and an
  answer whose words do not contain the whitespace-normalised answer text is
  skipped.
* `convert_examples_to_features`: the question is WordPiece-tokenized and
  cut to `max_query_length` (64); the context words are WordPiece-tokenized
  with token <-> word maps; windows of at most `max_seq_length - query - 3`
  context tokens start every `doc_stride` (128) tokens until one reaches the
  end; each window is `[CLS] query [SEP] window [SEP]`, segment ids 0 then
  1, zero-padded to `max_seq_length` (384), with each context token's word
  index and whether this window is its "max context" window (the window
  maximising min(left, right context) + 0.01 * window length). Training
  targets are the answer's token span (improved to the tokenized answer text
  where a sub-span matches it), or (0, 0) where the window does not hold it.
  Unique ids count from 1,000,000,000.

At seq 384 / stride 128 / query 64 the SQuAD v1.1 dev set gives the 10,833
features of the MLPerf QSL.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from mlperf_jax.input_pipelines import bert_tokenization

MAX_SEQ_LENGTH = 384
DOC_STRIDE = 128
MAX_QUERY_LENGTH = 64
FIRST_UNIQUE_ID = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class Example:
  """One question over a paragraph's whitespace words."""
  qas_id: str
  question_text: str
  doc_tokens: tuple[str, ...]
  answers: tuple[str, ...] = ()
  orig_answer_text: str | None = None
  start_position: int | None = None  # word index (training)
  end_position: int | None = None


@dataclasses.dataclass(frozen=True)
class Feature:
  """One window of one example (a LoadGen sample)."""
  unique_id: int
  example_index: int
  doc_span_index: int
  tokens: tuple[str, ...]
  token_to_orig_map: Mapping[int, int]
  token_is_max_context: Mapping[int, bool]
  input_ids: np.ndarray
  input_mask: np.ndarray
  segment_ids: np.ndarray
  start_position: int | None = None
  end_position: int | None = None


def _is_squad_whitespace(c: str) -> bool:
  return c in (' ', '\t', '\r', '\n') or ord(c) == 0x202F


def split_context(text: str) -> tuple[list[str], list[int]]:
  """(whitespace words, word index of every character)."""
  words, char_to_word, prev_ws = [], [], True
  for c in text:
    if _is_squad_whitespace(c):
      prev_ws = True
    else:
      if prev_ws:
        words.append(c)
      else:
        words[-1] += c
      prev_ws = False
    char_to_word.append(len(words) - 1)
  return words, char_to_word


def read_squad_examples(data: Sequence[Mapping[str, Any]], is_training: bool
                        ) -> list[Example]:
  """Examples of a SQuAD v1.1 JSON's `data` list, in file order.

  Raises:
    ValueError: a training question without exactly one answer.
  """
  out = []
  for entry in data:
    for paragraph in entry['paragraphs']:
      words, char_to_word = split_context(paragraph['context'])
      for qa in paragraph['qas']:
        answers = tuple(a['text'] for a in qa.get('answers', ()))
        fields = {}
        if is_training:
          if len(qa['answers']) != 1:
            raise ValueError(f'question {qa["id"]!r}: a training question '
                             f'needs exactly 1 answer, it has '
                             f'{len(qa["answers"])}')
          a = qa['answers'][0]
          text, offset = a['text'], int(a['answer_start'])
          if not text or offset + len(text) > len(char_to_word):
            continue
          start = char_to_word[offset]
          end = char_to_word[offset + len(text) - 1]
          actual = ' '.join(words[start:end + 1])
          if actual.find(' '.join(
              bert_tokenization.whitespace_tokenize(text))) == -1:
            continue  # the reference skips answers it cannot recover
          fields = dict(orig_answer_text=text, start_position=start,
                        end_position=end)
        out.append(Example(qas_id=qa['id'], question_text=qa['question'],
                           doc_tokens=tuple(words), answers=answers,
                           **fields))
  return out


def _is_max_context(spans: Sequence[tuple[int, int]], cur: int,
                    position: int) -> bool:
  best_score, best = None, None
  for k, (start, length) in enumerate(spans):
    end = start + length - 1
    if position < start or position > end:
      continue
    score = min(position - start, end - position) + 0.01 * length
    if best_score is None or score > best_score:
      best_score, best = score, k
  return cur == best


def _improve_answer_span(doc_tokens, start, end, tokenizer, answer_text):
  target = ' '.join(tokenizer.tokenize(answer_text))
  for s in range(start, end + 1):
    for e in range(end, s - 1, -1):
      if ' '.join(doc_tokens[s:e + 1]) == target:
        return s, e
  return start, end


def doc_spans(n_tokens: int, max_tokens: int, stride: int
              ) -> list[tuple[int, int]]:
  """(start, length) of the sliding windows over `n_tokens` tokens."""
  spans, start = [], 0
  while start < n_tokens:
    length = min(n_tokens - start, max_tokens)
    spans.append((start, length))
    if start + length == n_tokens:
      break
    start += min(length, stride)
  return spans


def convert_examples_to_features(
    examples: Iterable[Example], tokenizer: bert_tokenization.FullTokenizer,
    *, max_seq_length: int = MAX_SEQ_LENGTH, doc_stride: int = DOC_STRIDE,
    max_query_length: int = MAX_QUERY_LENGTH, is_training: bool = False
) -> list[Feature]:
  """Every window of every example, unique ids from 1,000,000,000."""
  features, unique_id = [], FIRST_UNIQUE_ID
  for ex_index, ex in enumerate(examples):
    query = tokenizer.tokenize(ex.question_text)[:max_query_length]
    tok_to_orig, orig_to_tok, doc = [], [], []
    for i, word in enumerate(ex.doc_tokens):
      orig_to_tok.append(len(doc))
      for piece in tokenizer.tokenize(word):
        tok_to_orig.append(i)
        doc.append(piece)
    tok_start = tok_end = None
    if is_training:
      tok_start = orig_to_tok[ex.start_position]
      tok_end = (orig_to_tok[ex.end_position + 1] - 1
                 if ex.end_position < len(ex.doc_tokens) - 1 else len(doc) - 1)
      tok_start, tok_end = _improve_answer_span(
          doc, tok_start, tok_end, tokenizer, ex.orig_answer_text)
    max_tokens = max_seq_length - len(query) - 3
    if max_tokens <= 0:
      raise ValueError(f'max_seq_length {max_seq_length} leaves no room for '
                       f'the context after a {len(query)}-token query')
    spans = doc_spans(len(doc), max_tokens, doc_stride)
    for k, (start, length) in enumerate(spans):
      tokens = ['[CLS]', *query, '[SEP]']
      segment = [0] * len(tokens)
      to_orig, max_ctx = {}, {}
      for i in range(length):
        to_orig[len(tokens)] = tok_to_orig[start + i]
        max_ctx[len(tokens)] = _is_max_context(spans, k, start + i)
        tokens.append(doc[start + i])
      tokens.append('[SEP]')
      segment += [1] * (length + 1)
      ids = tokenizer.convert_tokens_to_ids(tokens)
      pad = max_seq_length - len(ids)
      start_pos = end_pos = None
      if is_training:
        if tok_start >= start and tok_end <= start + length - 1:
          off = len(query) + 2 - start
          start_pos, end_pos = tok_start + off, tok_end + off
        else:
          start_pos = end_pos = 0
      features.append(Feature(
          unique_id=unique_id, example_index=ex_index, doc_span_index=k,
          tokens=tuple(tokens), token_to_orig_map=to_orig,
          token_is_max_context=max_ctx,
          input_ids=np.asarray(ids + [0] * pad, np.int32),
          input_mask=np.asarray([1] * len(ids) + [0] * pad, np.int32),
          segment_ids=np.asarray(segment + [0] * pad, np.int32),
          start_position=start_pos, end_position=end_pos))
      unique_id += 1
  return features


def feature_arrays(features: Sequence[Feature]) -> dict[str, np.ndarray]:
  """The model inputs (and training targets, where set) stacked."""
  out = {k: np.stack([getattr(f, k) for f in features])
         for k in ('input_ids', 'input_mask', 'segment_ids')}
  if features and features[0].start_position is not None:
    out['start_positions'] = np.asarray(
        [f.start_position for f in features], np.int32)
    out['end_positions'] = np.asarray([f.end_position for f in features],
                                      np.int32)
  return out
