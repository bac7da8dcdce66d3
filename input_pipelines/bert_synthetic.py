# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Random BERT pre-training batches with the reference's structure.

Unlike uniform random features, these respect what the model and the metric
assume: `[CLS] A [SEP] B [SEP]` with padding after a random length, segment
ids 0/1, masked positions inside the real tokens and sorted, weights 1 on the
real predictions and 0 on the padding ones, `masked_lm_ids` the original
tokens, 80/10/10 masking (via `text_corpus.mask_instances`). For smoke and
throughput runs only.
"""

from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np

from mlperf_jax.input_pipelines import text_corpus


def synthetic_batch(batch: int, seq_length: int, max_predictions: int,
                    vocab_size: int, rng: np.random.Generator
                    ) -> dict[str, np.ndarray]:
  """One batch of the 7 features (see the module docstring)."""
  cfg = text_corpus.CorpusConfig(vocab_size=vocab_size,
                                 max_seq_length=seq_length,
                                 max_predictions=max_predictions)
  lengths = rng.integers(max(5, seq_length // 2), seq_length + 1, size=batch)
  tokens = np.zeros((batch, seq_length), np.int32)
  segment = np.zeros((batch, seq_length), np.int32)
  first = len(text_corpus.SPECIAL_TOKENS)
  for k, n in enumerate(lengths):
    a = int(rng.integers(1, n - 3))
    tokens[k, :n] = rng.integers(first, vocab_size, size=n)
    tokens[k, 0] = text_corpus.CLS_ID
    tokens[k, a + 1] = text_corpus.SEP_ID
    tokens[k, n - 1] = text_corpus.SEP_ID
    segment[k, a + 2:n] = 1
  out = text_corpus.mask_instances(tokens, lengths, cfg, rng)
  out['segment_ids'] = segment
  out['next_sentence_labels'] = rng.integers(0, 2, size=(batch, 1),
                                             dtype=np.int32)
  return out


def train_batches(batch: int, seq_length: int, max_predictions: int,
                  vocab_size: int, *, seed: int, pool: int = 4
                  ) -> Iterator[dict[str, np.ndarray]]:
  """Infinite stream cycling through `pool` pre-generated batches."""
  rng = np.random.default_rng(seed)
  batches = [synthetic_batch(batch, seq_length, max_predictions, vocab_size,
                             rng) for _ in range(pool)]
  return itertools.cycle(batches)


def eval_batches(batch: int, seq_length: int, max_predictions: int,
                 vocab_size: int, *, num_batches: int = 2, seed: int = 0
                 ) -> list[dict[str, np.ndarray]]:
  """`num_batches` fixed batches with an all-ones eval `mask`."""
  rng = np.random.default_rng((seed, 1))
  out = []
  for _ in range(num_batches):
    b = synthetic_batch(batch, seq_length, max_predictions, vocab_size, rng)
    b['mask'] = np.ones((batch,), np.float32)
    out.append(b)
  return out
