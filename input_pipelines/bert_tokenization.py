# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""BERT's uncased WordPiece tokenizer from a vocab file (no transformers).

As the reference BERT `tokenization.py` (google-research/bert; the MLPerf
inference BERT's `accuracy-squad.py` at v1.0.1 builds its features with an
uncased `BertTokenizer` over `vocab.txt` and decodes answers with
`tokenization.BasicTokenizer(do_lower_case=True)`):

* `BasicTokenizer`: drop NUL, U+FFFD and control characters, map every
  whitespace character to a space, put spaces around CJK ideographs, split
  on whitespace, then per word lower-case, strip accents (NFD, drop
  combining marks) and split off every punctuation character (ASCII
  symbols and Unicode category P*).
* `WordpieceTokenizer`: greedy longest-match-first over the vocabulary,
  continuation pieces prefixed '##'; a word longer than 100 characters, or
  one with no full cover, becomes '[UNK]'.
* `FullTokenizer`: the two in sequence, and token <-> id through the vocab
  file (one token a line, id = line number).
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, Sequence

UNK = '[UNK]'


def load_vocab(path: str) -> list[str]:
  """Tokens of a vocab file, one a line (id = line number)."""
  with open(path, encoding='utf-8') as f:
    return [line.rstrip('\n').strip() for line in f]


def whitespace_tokenize(text: str) -> list[str]:
  return text.strip().split()


def is_whitespace(ch: str) -> bool:
  if ch in (' ', '\t', '\n', '\r'):
    return True
  return unicodedata.category(ch) == 'Zs'


def is_control(ch: str) -> bool:
  if ch in ('\t', '\n', '\r'):
    return False
  return unicodedata.category(ch).startswith('C')


def is_punctuation(ch: str) -> bool:
  cp = ord(ch)
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(ch).startswith('P')


def _is_cjk(cp: int) -> bool:
  return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF
          or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
          or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
          or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class BasicTokenizer:
  """Cleaning, lower-casing, accent stripping and punctuation splitting."""

  def __init__(self, do_lower_case: bool = True):
    self.do_lower_case = do_lower_case

  def tokenize(self, text: str) -> list[str]:
    chars = []
    for ch in text:
      cp = ord(ch)
      if cp == 0 or cp == 0xFFFD or is_control(ch):
        continue
      if is_whitespace(ch):
        chars.append(' ')
      elif _is_cjk(cp):
        chars.extend((' ', ch, ' '))
      else:
        chars.append(ch)
    out = []
    for word in whitespace_tokenize(''.join(chars)):
      if self.do_lower_case:
        word = unicodedata.normalize('NFD', word.lower())
        word = ''.join(c for c in word if unicodedata.category(c) != 'Mn')
      out.extend(_split_punctuation(word))
    return whitespace_tokenize(' '.join(out))


def _split_punctuation(word: str) -> list[str]:
  pieces, cur = [], []
  for ch in word:
    if is_punctuation(ch):
      if cur:
        pieces.append(''.join(cur))
        cur = []
      pieces.append(ch)
    else:
      cur.append(ch)
  if cur:
    pieces.append(''.join(cur))
  return pieces


class WordpieceTokenizer:
  """Greedy longest-match-first WordPiece over a vocabulary."""

  def __init__(self, vocab: Iterable[str], unk_token: str = UNK,
               max_input_chars_per_word: int = 100):
    self.vocab = set(vocab)
    self.unk_token = unk_token
    self.max_chars = max_input_chars_per_word

  def tokenize(self, text: str) -> list[str]:
    out = []
    for word in whitespace_tokenize(text):
      if len(word) > self.max_chars:
        out.append(self.unk_token)
        continue
      pieces, start, bad = [], 0, False
      while start < len(word):
        end, cur = len(word), None
        while start < end:
          piece = word[start:end] if start == 0 else '##' + word[start:end]
          if piece in self.vocab:
            cur = piece
            break
          end -= 1
        if cur is None:
          bad = True
          break
        pieces.append(cur)
        start = end
      out.extend([self.unk_token] if bad else pieces)
    return out


class FullTokenizer:
  """BasicTokenizer then WordpieceTokenizer, with ids from the vocab."""

  def __init__(self, vocab: Sequence[str], do_lower_case: bool = True):
    self.vocab = list(vocab)
    self.ids = {t: i for i, t in enumerate(self.vocab)}
    if UNK not in self.ids:
      raise ValueError(f'the vocabulary has no {UNK} token; is it a BERT '
                       'vocab.txt?')
    self.basic = BasicTokenizer(do_lower_case)
    self.wordpiece = WordpieceTokenizer(self.vocab)
    self._cache: dict[str, list[str]] = {}

  @classmethod
  def from_file(cls, path: str, do_lower_case: bool = True) -> 'FullTokenizer':
    return cls(load_vocab(path), do_lower_case)

  def tokenize(self, text: str) -> list[str]:
    out = []
    for word in self.basic.tokenize(text):
      pieces = self._cache.get(word)
      if pieces is None:
        pieces = self._cache[word] = self.wordpiece.tokenize(word)
      out.extend(pieces)
    return out

  def convert_tokens_to_ids(self, tokens: Iterable[str]) -> list[int]:
    return [self.ids[t] for t in tokens]
