# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""LibriSpeech for the RNN-T reference: flac reading, transcripts, tokens,
length buckets and padded batches.

Reference: mlcommons/training `rnn_speech_recognition/pytorch` (v1.1):
`utils/convert_librispeech.py` + `scripts/preprocess_librispeech.sh` (train
on train-clean-100 + train-clean-360 + train-other-500, eval on dev-clean,
2,703 utterances), `common/data/dali/data_loader.py` (training utterances
longer than `max_duration` 16.7 s dropped), `common/text/` (transcripts
normalised: lower case, only the 28 labels `' abcdefghijklmnopqrstuvwxyz'`
plus apostrophe kept), `common/tokenizer.py` with the SentencePiece unigram
model `librispeech1023.model` (`scripts/create_sentencepieces.sh`: vocab
1023 over the training transcripts), and `common/data/dali/sampler.py`
(`BucketingSampler`: utterances sorted by duration into `num_buckets`
equal buckets, each epoch shuffled within buckets, cut into batches, the
batches shuffled).

Here the original LibriSpeech tree is read directly (`<split>/<speaker>/
<chapter>/<id>.flac` and `<speaker>-<chapter>.trans.txt`) with `soundfile`
(the reference converts to wav with sox first; the samples are the same).
Batches are padded to their bucket's frame count (one compiled shape per
bucket) and label count.
"""

from __future__ import annotations

import dataclasses
import glob
import math
import os
import re
from typing import Callable, Iterator, Sequence

import numpy as np

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import audio_features as af
from mlperf_jax.input_pipelines import batching

LABELS = " abcdefghijklmnopqrstuvwxyz'"
TRAIN_SPLITS = ('train-clean-100', 'train-clean-360', 'train-other-500')
EVAL_SPLIT = 'dev-clean'
DEV_CLEAN_UTTERANCES = 2703
SENTENCEPIECE_MODEL = os.path.join('sentencepieces', 'librispeech1023.model')
MAX_SPEED = 1.15


def normalize_transcript(text: str) -> str:
  """Lower case, only the 28 labels kept, whitespace collapsed."""
  text = text.lower()
  text = ''.join(c if c in LABELS else ' ' for c in text)
  return re.sub(r'\s+', ' ', text).strip()


class CharTokenizer:
  """The 28 characters (ids 0..27); blank is 28 (the inference model's)."""
  num_labels = len(LABELS)

  def encode(self, text: str) -> list[int]:
    return [LABELS.index(c) for c in text]

  def decode(self, ids: Sequence[int]) -> str:
    return ''.join(LABELS[i] for i in ids if 0 <= i < len(LABELS))


class SentencePieceTokenizer:
  """The reference's SentencePiece pieces (ids 0..N-1); blank is N."""

  def __init__(self, model_path: str):
    import sentencepiece  # pylint: disable=import-outside-toplevel
    self.sp = sentencepiece.SentencePieceProcessor(model_file=model_path)
    self.num_labels = self.sp.get_piece_size()

  def encode(self, text: str) -> list[int]:
    return list(self.sp.encode(text))

  def decode(self, ids: Sequence[int]) -> str:
    return self.sp.decode([int(i) for i in ids if 0 <= i < self.num_labels])


def train_sentencepiece(transcripts: Sequence[str], prefix: str,
                        vocab_size: int = 1023) -> str:
  """Trains the unigram model as `create_sentencepieces.sh`; returns the
  `.model` path."""
  import sentencepiece  # pylint: disable=import-outside-toplevel
  sentencepiece.SentencePieceTrainer.train(
      sentence_iterator=iter(transcripts), model_prefix=prefix,
      vocab_size=vocab_size, character_coverage=1.0, bos_id=-1, eos_id=-1,
      model_type='unigram', num_threads=1, minloglevel=2)
  return prefix + '.model'


@dataclasses.dataclass(frozen=True)
class Utterance:
  path: str
  transcript: str
  duration: float


def read_split(root: str, split: str) -> list[Utterance]:
  """Every utterance of `root/split` (sorted by id), with its normalised
  transcript and duration (from the flac header)."""
  import soundfile  # pylint: disable=import-outside-toplevel
  out = []
  for trans in sorted(glob.glob(os.path.join(root, split, '*', '*',
                                             '*.trans.txt'))):
    folder = os.path.dirname(trans)
    with open(trans, encoding='utf-8') as f:
      for line in f:
        if not line.strip():
          continue
        uid, text = line.strip().split(' ', 1)
        path = os.path.join(folder, uid + '.flac')
        out.append(Utterance(path, normalize_transcript(text),
                             soundfile.info(path).duration))
  return out


def check_layout(root: str) -> list[str]:
  """Problems with a LibriSpeech tree (missing splits or tokenizer)."""
  problems = []
  for split in (*TRAIN_SPLITS, EVAL_SPLIT):
    if not os.path.isdir(os.path.join(root, split)):
      problems.append(f'--data-dir {root!r} has no LibriSpeech split {split!r} '
                      '(expected <data-dir>/<split>/<speaker>/<chapter>/'
                      '*.flac from openslr.org/12)')
  if not os.path.isfile(os.path.join(root, SENTENCEPIECE_MODEL)):
    problems.append(f'--data-dir {root!r} has no {SENTENCEPIECE_MODEL} (train '
                    'it as the reference create_sentencepieces.sh does: '
                    'input_pipelines.librispeech.train_sentencepiece)')
  return problems


def read_audio(path: str) -> np.ndarray:
  import soundfile  # pylint: disable=import-outside-toplevel
  audio, sr = soundfile.read(path, dtype='float32')
  if sr != af.SAMPLE_RATE:
    raise ValueError(f'{path}: sample rate {sr}, expected {af.SAMPLE_RATE}')
  return audio


def stacked_frames(num_samples: int) -> int:
  """Encoder-input frames of an utterance (valid STFT frames / 3)."""
  return math.ceil(af.valid_frames(num_samples) / af.SUBSAMPLING)


def bucket_frames(durations: np.ndarray, num_buckets: int,
                  speed: float = MAX_SPEED, multiple: int = 8
                  ) -> tuple[np.ndarray, tuple[int, ...]]:
  """The BucketingSampler's equal-count buckets by duration.

  Returns (bucket id per utterance, padded frame count per bucket: its
  longest utterance at the largest speed-perturbation rate, rounded up to
  `multiple`; the stacking keeps `2 * multiple`-frame encoder shapes even).
  """
  order = np.argsort(durations, kind='stable')
  ids = np.empty(len(durations), np.int64)
  sizes = []
  for b, members in enumerate(np.array_split(order, num_buckets)):
    ids[members] = b
    longest = float(durations[members].max()) if len(members) else 0.0
    frames = stacked_frames(int(math.ceil(longest * speed * af.SAMPLE_RATE))) + 1
    sizes.append(int(math.ceil(frames / multiple) * multiple))
  return ids, tuple(sizes)


def collate(items: Sequence[tuple[np.ndarray, int, Sequence[int]]],
            frames: int, max_labels: int) -> dict[str, np.ndarray]:
  """(features [T, 240], valid frames, label ids) per utterance -> a batch
  padded to `frames` and `max_labels` (features past the valid frames 0)."""
  b = len(items)
  feats = np.zeros((b, frames, af.N_MELS * af.STACKING), np.float32)
  feat_lens = np.zeros((b,), np.int32)
  labels = np.zeros((b, max_labels), np.int32)
  label_lens = np.zeros((b,), np.int32)
  for i, (f, n, ids) in enumerate(items):
    n = min(n, frames, len(f))
    feats[i, :n] = f[:n]
    feat_lens[i] = n
    ids = list(ids)[:max_labels]
    labels[i, :len(ids)] = ids
    label_lens[i] = len(ids)
  return {'feats': feats, 'feat_lens': feat_lens, 'labels': labels,
          'label_lens': label_lens}


def bucketed_train_batches(bucket_ids: np.ndarray, num_buckets: int,
                           load: Callable[[np.ndarray, int,
                                           np.random.Generator], dict],
                           *, global_batch_size: int, seed: int,
                           host: HostShard, start_step: int = 0
                           ) -> Iterator[dict]:
  """The BucketingSampler as a pure function of (seed, step, host).

  Epoch e: each bucket's members permuted by `rng((seed, e, b))` and cut
  into full global batches (the remainder dropped), all the epoch's batches
  permuted by `rng((seed, e))`. Global batch i of the stream is this host's
  contiguous slice; `load(indices, bucket, rng)` makes it.
  """
  per_host = batching.host_batch_size(global_batch_size, host)

  def epoch_batches(epoch):
    batches = []
    for b in range(num_buckets):
      members = np.flatnonzero(bucket_ids == b)
      members = np.random.default_rng((seed, epoch, b)).permutation(members)
      for k in range(len(members) // global_batch_size):
        batches.append((members[k * global_batch_size:
                                (k + 1) * global_batch_size], b))
    order = np.random.default_rng((seed, epoch)).permutation(len(batches))
    return [batches[i] for i in order]

  per_epoch = len(epoch_batches(0))
  if per_epoch == 0:
    raise ValueError(f'no bucket holds a whole global batch of '
                     f'{global_batch_size}; lower --num-buckets or the batch')
  step, cache = start_step, {}
  while True:
    epoch, k = divmod(step, per_epoch)
    if epoch not in cache:
      cache = {epoch: epoch_batches(epoch)}
    members, bucket = cache[epoch][k]
    idx = members[host.index * per_host:(host.index + 1) * per_host]
    yield load(idx, bucket, batching.augmentation_rng(seed, step, host))
    step += 1


def batches_per_epoch(bucket_ids: np.ndarray, num_buckets: int,
                      global_batch_size: int) -> int:
  return sum(int(np.sum(bucket_ids == b)) // global_batch_size
             for b in range(num_buckets))


class LibriSpeech:
  """The prepared reference data: training set (<= 16.7 s), dev-clean."""

  def __init__(self, root: str, max_duration: float = 16.7,
               num_buckets: int = 6):
    self.root = root
    self.tokenizer = SentencePieceTokenizer(
        os.path.join(root, SENTENCEPIECE_MODEL))
    train = [u for s in TRAIN_SPLITS for u in read_split(root, s)]
    self.train = [u for u in train if u.duration <= max_duration]
    self.eval = read_split(root, EVAL_SPLIT)
    durations = np.array([u.duration for u in self.train])
    self.bucket_ids, self.bucket_sizes = bucket_frames(durations, num_buckets)
    self.num_buckets = num_buckets
    self.max_labels = max(len(self.tokenizer.encode(u.transcript))
                          for u in self.train + self.eval)
    eval_longest = max(u.duration for u in self.eval)
    self.eval_frames = stacked_frames(
        int(math.ceil(eval_longest * af.SAMPLE_RATE))) + 1

  def train_batches(self, *, global_batch_size: int, seed: int,
                    host: HostShard, start_step: int = 0):
    def load(idx, bucket, rng):
      items = []
      for i in idx:
        u = self.train[int(i)]
        speed = float(rng.uniform(0.85, MAX_SPEED))
        f, n = af.features(read_audio(u.path), rng, train=True, speed=speed)
        items.append((f, n, self.tokenizer.encode(u.transcript)))
      return collate(items, self.bucket_sizes[bucket], self.max_labels)
    return bucketed_train_batches(
        self.bucket_ids, self.num_buckets, load,
        global_batch_size=global_batch_size, seed=seed, host=host,
        start_step=start_step)

  def eval_batches(self, *, global_batch_size: int, host: HostShard):
    def load(idx, rng):
      del rng
      items = []
      for i in idx:
        u = self.eval[int(i)]
        f, n = af.features(read_audio(u.path))
        items.append((f, n, self.tokenizer.encode(u.transcript)))
      return collate(items, self.eval_frames, self.max_labels)
    return batching.eval_batches(len(self.eval), load,
                                 global_batch_size=global_batch_size,
                                 host=host)
