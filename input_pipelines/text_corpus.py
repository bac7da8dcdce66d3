# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Real English text that ships with Python, as BERT pre-training data.

Source: CPython's `pydoc_data/topics.py` (the language reference topics shown
by `help()`) and the docstrings of every top-level standard-library module
(modules, classes and functions, read with `ast`, never imported). Each topic
and each module is one document. Documents are split deterministically into
training and held-out sets (every 10th document in order of a hash of its
name is held out), so no held-out sentence is seen in training, not even by
the vocabulary.

Preparation (offline, like the reference's TFRecord creation; cached on disk):

1. BERT's basic tokenisation, uncased: lower-case, strip accents, split on
   whitespace and punctuation (each punctuation character is a token).
2. A WordPiece vocabulary trained on the training documents (`train_wordpiece`:
   most-frequent-pair merges, continuation pieces prefixed '##'), special
   tokens [PAD] [UNK] [CLS] [SEP] [MASK] first.
3. WordPiece tokenisation (greedy longest match first, as BERT).
4. Sentence-pair instances as the reference's `create_pretraining_data.py`:
   `[CLS] A [SEP] B [SEP]`, segment ids 0/1, B the actual continuation or (with
   probability 1/2) a span of another document (`next_sentence_labels` 0 /
   1), the longer segment truncated at a random end to fit.

Masking as the reference (`create_masked_lm_predictions`): 15 % of the
non-special tokens (at least 1, at most `max_predictions`), of which 80 %
become [MASK], 10 % stay, 10 % become a random token; positions sorted,
padded with weight 0. Training instances are re-masked for every batch from
the batch's own deterministic generator (the reference bakes 10 masked copies
per instance into its files; drawing a fresh mask is the same distribution);
the held-out set is masked once, with a fixed seed.
"""

from __future__ import annotations

import ast
import collections
import dataclasses
import glob
import hashlib
import heapq
import json
import os
import re
import sys
import sysconfig
import unicodedata
from typing import Iterator, Sequence

import numpy as np

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import batching

SPECIAL_TOKENS = ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]')
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
FEATURES = ('input_ids', 'input_mask', 'segment_ids', 'masked_lm_positions',
            'masked_lm_ids', 'masked_lm_weights', 'next_sentence_labels')
# Bump when anything below changes what `prepare` produces.
_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
  """What the prepared data depends on.

  Attributes:
    vocab_size: WordPiece vocabulary size (special tokens included).
    max_seq_length: tokens per instance, [CLS] and [SEP]s included.
    max_predictions: masked positions per instance (padded).
    masked_lm_prob: fraction of tokens to mask.
    eval_every: every `eval_every`-th document (by name hash) is held out.
    seed: seed of the instance creation and of the eval masks.
  """
  vocab_size: int = 2048
  max_seq_length: int = 64
  max_predictions: int = 10
  masked_lm_prob: float = 0.15
  eval_every: int = 10
  seed: int = 12345


# ---- corpus -----------------------------------------------------------------


def documents() -> list[tuple[str, str]]:
  """(name, text) of every document, in a fixed order."""
  from pydoc_data import topics  # pylint: disable=import-outside-toplevel
  docs = [(f'topic:{k}', topics.topics[k]) for k in sorted(topics.topics)]
  stdlib = sysconfig.get_paths()['stdlib']
  for path in sorted(glob.glob(os.path.join(stdlib, '*.py'))):
    name = os.path.basename(path)[:-3]
    if name in ('this', 'antigravity'):  # rot13 text and an easter egg
      continue
    try:
      with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    except (SyntaxError, UnicodeDecodeError, ValueError):
      continue
    parts = []
    for node in ast.walk(tree):
      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                           ast.AsyncFunctionDef)):
        doc = ast.get_docstring(node)
        if doc:
          parts.append(doc)
    if parts:
      docs.append((f'module:{name}', '\n\n'.join(parts)))
  return docs


def is_held_out(name: str, every: int) -> bool:
  """Whether document `name` belongs to the held-out split."""
  h = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], 'little')
  return h % every == 0


def _is_punct(ch: str) -> bool:
  cp = ord(ch)
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(ch).startswith('P')


def basic_tokenize(text: str) -> list[str]:
  """BERT's uncased BasicTokenizer: lower, strip accents, split punctuation."""
  text = unicodedata.normalize('NFD', text.lower())
  text = ''.join(c for c in text if unicodedata.category(c) != 'Mn')
  out = []
  for word in text.split():
    cur = []
    for ch in word:
      if _is_punct(ch):
        if cur:
          out.append(''.join(cur))
          cur = []
        out.append(ch)
      elif unicodedata.category(ch)[0] != 'C':
        cur.append(ch)
    if cur:
      out.append(''.join(cur))
  return out


_SENTENCE_RE = re.compile(r'(?<=[.!?:])\s+|\n\s*\n')


def sentences(text: str) -> list[str]:
  """Rough sentence split (on . ! ? : followed by space, and blank lines)."""
  return [s for s in _SENTENCE_RE.split(text) if s and s.strip()]


# ---- WordPiece ----------------------------------------------------------------


def train_wordpiece(word_counts: dict[str, int], vocab_size: int,
                    special_tokens: Sequence[str] = SPECIAL_TOKENS
                    ) -> list[str]:
  """Trains a WordPiece vocabulary on word counts.

  Every word starts as its characters (`w`, `##o`, `##r`, `##d`); the most
  frequent pair of adjacent pieces is merged, repeatedly, until the
  vocabulary (special tokens + every single character piece + merged pieces)
  reaches `vocab_size` or no pair occurs twice. This is how the `tokenizers`
  library's WordPiece trainer builds its vocabulary (byte-pair merges by
  frequency, written in WordPiece's '##' notation); the likelihood score of
  Google's original WordPiece (`count(ab) / (count(a) count(b))`) favours
  rare character pairs and, at a 2k vocabulary, splits even 'the'. Ties
  break on the pieces' text: the result is a pure function of the counts.

  Args:
    word_counts: word -> occurrences (basic-tokenised words).
    vocab_size: target size including the special tokens.
    special_tokens: tokens placed first.

  Returns:
    The vocabulary, special tokens first, then pieces in order of creation.
  """
  words = sorted(word_counts)
  freqs = [word_counts[w] for w in words]
  splits = [[w[0]] + ['##' + c for c in w[1:]] for w in words]
  vocab = list(special_tokens)
  seen = set(vocab)
  for sp in splits:
    for p in sp:
      if p not in seen:
        seen.add(p)
        vocab.append(p)
  vocab[len(special_tokens):] = sorted(vocab[len(special_tokens):])
  piece_count = collections.Counter()
  pair_count = collections.Counter()
  pair_words = collections.defaultdict(set)
  for i, sp in enumerate(splits):
    for p in sp:
      piece_count[p] += freqs[i]
    for a, b in zip(sp, sp[1:]):
      pair_count[(a, b)] += freqs[i]
      pair_words[(a, b)].add(i)

  def score(pair):
    return pair_count[pair]

  heap = [(-score(p), p) for p, c in pair_count.items() if c >= 2]
  heapq.heapify(heap)
  while len(vocab) < vocab_size and heap:
    neg, pair = heapq.heappop(heap)
    if pair_count.get(pair, 0) < 2:
      continue
    if -neg != score(pair):  # stale: its count fell; re-queued below
      continue
    a, b = pair
    merged = a + (b[2:] if b.startswith('##') else b)
    if merged not in seen:
      seen.add(merged)
      vocab.append(merged)
    touched = set()
    for i in sorted(pair_words.pop(pair, ())):
      sp, f = splits[i], freqs[i]
      for x, y in zip(sp, sp[1:]):
        pair_count[(x, y)] -= f
      for p in sp:
        piece_count[p] -= f
      out, j = [], 0
      while j < len(sp):
        if j + 1 < len(sp) and sp[j] == a and sp[j + 1] == b:
          out.append(merged)
          j += 2
        else:
          out.append(sp[j])
          j += 1
      splits[i] = out
      for p in out:
        piece_count[p] += f
      for x, y in zip(out, out[1:]):
        pair_count[(x, y)] += f
        pair_words[(x, y)].add(i)
        touched.add((x, y))
    pair_count.pop(pair, None)
    for p in sorted(touched):
      if pair_count.get(p, 0) >= 2:
        heapq.heappush(heap, (-score(p), p))
  return vocab[:vocab_size]


class WordPieceTokenizer:
  """Greedy longest-match-first WordPiece (BERT's WordpieceTokenizer)."""

  def __init__(self, vocab: Sequence[str], max_chars_per_word: int = 100):
    self.vocab = list(vocab)
    self.ids = {t: i for i, t in enumerate(self.vocab)}
    self.max_chars = max_chars_per_word
    self._cache: dict[str, list[int]] = {}

  def word_ids(self, word: str) -> list[int]:
    if word in self._cache:
      return self._cache[word]
    if len(word) > self.max_chars:
      return [UNK_ID]
    out, start = [], 0
    while start < len(word):
      end, cur = len(word), None
      while start < end:
        piece = word[start:end] if start == 0 else '##' + word[start:end]
        if piece in self.ids:
          cur = self.ids[piece]
          break
        end -= 1
      if cur is None:
        out = [UNK_ID]
        break
      out.append(cur)
      start = end
    self._cache[word] = out
    return out

  def encode(self, text: str) -> list[int]:
    return [i for w in basic_tokenize(text) for i in self.word_ids(w)]


# ---- instances and masking ----------------------------------------------------


def _create_instances(docs: list[list[list[int]]], cfg: CorpusConfig,
                      rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                 np.ndarray]:
  """Sentence-pair instances as the reference (see the module docstring).

  Returns:
    tokens [N, T] int32 (0-padded), segment_ids [N, T] int32, lengths [N]
    int32, next_sentence_labels [N] int32.
  """
  max_tokens = cfg.max_seq_length - 3
  rows, segs, labels = [], [], []
  for d, doc in enumerate(docs):
    chunk, length, i = [], 0, 0
    while i < len(doc):
      chunk.append(doc[i])
      length += len(doc[i])
      if i == len(doc) - 1 or length >= max_tokens:
        if chunk:
          a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
          a = [t for s in chunk[:a_end] for t in s]
          random_next = len(chunk) == 1 or rng.random() < 0.5
          if random_next and len(docs) > 1:
            other = int(rng.integers(0, len(docs) - 1))
            other += other >= d
            odoc = docs[other]
            start = int(rng.integers(0, len(odoc)))
            b = [t for s in odoc[start:] for t in s][:max_tokens]
            # The unused sentences go back, as in the reference.
            i -= len(chunk) - a_end
            label = 1
          else:
            b = [t for s in chunk[a_end:] for t in s]
            label = 0
          a, b = list(a), list(b)
          while len(a) + len(b) > max_tokens:
            longer = a if len(a) > len(b) else b
            if rng.random() < 0.5:
              del longer[0]
            else:
              longer.pop()
          if a and b:
            rows.append([CLS_ID, *a, SEP_ID, *b, SEP_ID])
            segs.append([0] * (len(a) + 2) + [1] * (len(b) + 1))
            labels.append(label)
        chunk, length = [], 0
      i += 1
  n, t = len(rows), cfg.max_seq_length
  tokens = np.zeros((n, t), np.int32)
  segment = np.zeros((n, t), np.int32)
  lengths = np.zeros((n,), np.int32)
  for k, (r, s) in enumerate(zip(rows, segs)):
    tokens[k, :len(r)] = r
    segment[k, :len(s)] = s
    lengths[k] = len(r)
  return tokens, segment, lengths, np.asarray(labels, np.int32)


def mask_instances(tokens: np.ndarray, lengths: np.ndarray, cfg: CorpusConfig,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
  """Masked-LM inputs for a batch of instances (the reference's procedure).

  Args:
    tokens: [B, T] int token ids, 0-padded, with [CLS]/[SEP].
    lengths: [B] real lengths.
    cfg: vocabulary size, max predictions and masking probability.
    rng: generator for this batch.

  Returns:
    input_ids, input_mask, masked_lm_positions, masked_lm_ids,
    masked_lm_weights (float32).
  """
  b, t = tokens.shape
  p = cfg.max_predictions
  input_ids = tokens.copy()
  positions = np.zeros((b, p), np.int32)
  ids = np.zeros((b, p), np.int32)
  weights = np.zeros((b, p), np.float32)
  for k in range(b):
    n = int(lengths[k])
    row = tokens[k, :n]
    cand = np.flatnonzero((row != CLS_ID) & (row != SEP_ID))
    rng.shuffle(cand)
    num = min(p, max(1, int(round(n * cfg.masked_lm_prob))))
    chosen = np.sort(cand[:num])
    for j, pos in enumerate(chosen):
      if rng.random() < 0.8:
        new = MASK_ID
      elif rng.random() < 0.5:
        new = row[pos]
      else:
        new = int(rng.integers(0, cfg.vocab_size))
      input_ids[k, pos] = new
      positions[k, j] = pos
      ids[k, j] = row[pos]
      weights[k, j] = 1.0
  input_mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.int32)
  return {'input_ids': input_ids, 'input_mask': input_mask,
          'masked_lm_positions': positions, 'masked_lm_ids': ids,
          'masked_lm_weights': weights}


# ---- preparation and cache ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Prepared:
  """The prepared corpus.

  Attributes:
    vocab: WordPiece vocabulary.
    train: tokens, segment_ids, lengths, next_sentence_labels of training
      instances (unmasked).
    eval: the 7 features of the held-out instances, masked once.
    unigram_accuracy: held-out masked-LM accuracy of always predicting the
      most frequent training token (the no-context baseline).
  """
  vocab: list[str]
  train: dict[str, np.ndarray]
  eval: dict[str, np.ndarray]
  unigram_accuracy: float


def cache_dir() -> str:
  return os.environ.get('MLPERF_JAX_CACHE', os.path.join(
      os.path.expanduser('~'), '.cache', 'mlperf_jax'))


def _cache_path(cfg: CorpusConfig) -> str:
  key = json.dumps([_FORMAT_VERSION, sys.version, dataclasses.asdict(cfg)])
  digest = hashlib.sha256(key.encode()).hexdigest()[:16]
  return os.path.join(cache_dir(), 'text_corpus', f'{digest}.npz')


def build(cfg: CorpusConfig) -> Prepared:
  """Prepares the corpus from scratch (a few seconds)."""
  docs = documents()
  train_docs = [t for n, t in docs if not is_held_out(n, cfg.eval_every)]
  eval_docs = [t for n, t in docs if is_held_out(n, cfg.eval_every)]
  counts = collections.Counter(w for t in train_docs for w in basic_tokenize(t))
  vocab = train_wordpiece(counts, cfg.vocab_size)
  vocab += [f'[unused{i}]' for i in range(cfg.vocab_size - len(vocab))]
  tok = WordPieceTokenizer(vocab)

  def encode(texts):
    out = []
    for text in texts:
      sents = [s for s in (tok.encode(x) for x in sentences(text)) if s]
      if sents:
        out.append(sents)
    return out

  rng = np.random.default_rng(cfg.seed)
  tr = _create_instances(encode(train_docs), cfg, rng)
  ev = _create_instances(encode(eval_docs), cfg, rng)
  train = dict(zip(('tokens', 'segment_ids', 'lengths',
                    'next_sentence_labels'), tr))
  eval_masked = mask_instances(ev[0], ev[2], cfg, np.random.default_rng(
      (cfg.seed, 1)))
  eval_masked['segment_ids'] = ev[1]
  eval_masked['next_sentence_labels'] = ev[3][:, None]
  real = train['tokens'][train['tokens'] > SEP_ID]
  top = np.bincount(real, minlength=cfg.vocab_size).argmax()
  w = eval_masked['masked_lm_weights']
  unigram = float(np.sum((eval_masked['masked_lm_ids'] == top) * w) / w.sum())
  return Prepared(vocab=vocab, train=train, eval=eval_masked,
                  unigram_accuracy=unigram)


def prepare(cfg: CorpusConfig = CorpusConfig()) -> str:
  """Builds the corpus once and caches it; returns the cache file path."""
  path = _cache_path(cfg)
  if os.path.exists(path):
    return path
  p = build(cfg)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  arrays = {f'train_{k}': v for k, v in p.train.items()}
  arrays.update({f'eval_{k}': v for k, v in p.eval.items()})
  arrays['vocab'] = np.asarray(p.vocab)
  arrays['unigram_accuracy'] = np.asarray(p.unigram_accuracy)
  tmp = f'{path}.{os.getpid()}.tmp.npz'
  np.savez(tmp, **arrays)
  os.replace(tmp, path)  # atomic: concurrent preparers are harmless
  return path


def load(cfg: CorpusConfig = CorpusConfig()) -> Prepared:
  """The prepared corpus (built and cached on first use)."""
  with np.load(prepare(cfg)) as z:
    train = {k[6:]: z[k] for k in z.files if k.startswith('train_')}
    ev = {k[5:]: z[k] for k in z.files if k.startswith('eval_')}
    return Prepared(vocab=[str(v) for v in z['vocab']], train=train, eval=ev,
                    unigram_accuracy=float(z['unigram_accuracy']))


# ---- batches --------------------------------------------------------------------


def train_batches(prepared: Prepared, cfg: CorpusConfig, *,
                  global_batch_size: int, seed: int,
                  host: HostShard = HostShard(), start_step: int = 0
                  ) -> Iterator[dict[str, np.ndarray]]:
  """Infinite deterministic stream of freshly masked training batches."""
  tr = prepared.train

  def load_fn(idx, rng):
    out = mask_instances(tr['tokens'][idx], tr['lengths'][idx], cfg, rng)
    out['segment_ids'] = tr['segment_ids'][idx]
    out['next_sentence_labels'] = tr['next_sentence_labels'][idx][:, None]
    return out

  return batching.train_batches(
      len(tr['tokens']), load_fn, global_batch_size=global_batch_size,
      seed=seed, host=host, start_step=start_step)


def eval_batches(prepared: Prepared, *, global_batch_size: int,
                 host: HostShard = HostShard()
                 ) -> Iterator[dict[str, np.ndarray]]:
  """The held-out set once, in order, padded and masked (`mask` key)."""
  ev = prepared.eval

  def load_fn(idx, rng):
    del rng
    return {k: v[idx] for k, v in ev.items()}

  return batching.eval_batches(
      len(ev['input_ids']), load_fn, global_batch_size=global_batch_size,
      host=host)
