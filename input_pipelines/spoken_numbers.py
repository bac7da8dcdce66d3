# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The mini RNN-T data: spelled-out numbers spoken by espeak-ng.

Real synthesised speech, made on this machine: espeak-ng (the Debian
package; `apt-get install espeak-ng`) speaks one random number in 0..9999,
written out in LibriSpeech-normalised words ("two thousand forty
one", no "and", no hyphens, 30 distinct words), with one of 8 English voice
variants, a random speed (150..210 words per minute) and pitch (30..70).
Its 22,050 Hz output is resampled to 16 kHz (`scipy.signal.resample_poly`,
320/441). Seven voices train (100 utterances each); the held-out eighth
voice is the eval set (120 utterances), so the target measures speaker
generalisation. Transcripts are tokenised as the reference does, with a
SentencePiece unigram model trained on the training transcripts (48 pieces:
every number word is one piece; blank is 48).

The set is fixed (a constant seed, independent of the run seed) and cached
as one `.npz` in the cache directory (`--data-dir` when given, else
`$MLPERF_JAX_CACHE_DIR` or `~/.cache/mlperf_jax`), with the reference
features of every utterance at three speed-perturbation rates (float16), so
reruns and the runs of a package reuse them; per step only SpecAugment and
the frame stacking run.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import subprocess

import numpy as np

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import audio_features as af
from mlperf_jax.input_pipelines import batching
from mlperf_jax.input_pipelines import librispeech

VOICES = ('en-us', 'en-gb', 'en-gb-scotland', 'en-029', 'en-gb-x-gbclan',
          'en-us-nyc', 'en-gb-x-gbcwmd', 'en-gb-x-rp')
EVAL_VOICE = 'en-gb-x-rp'
TRAIN_PER_VOICE = 100
EVAL_UTTERANCES = 120
TRAIN_UTTERANCES = TRAIN_PER_VOICE * (len(VOICES) - 1)
_SEED = 20261201
_VERSION = 2
ESPEAK = 'espeak-ng'
INSTALL_HINT = 'apt-get install espeak-ng'

_ONES = ('zero one two three four five six seven eight nine ten eleven '
         'twelve thirteen fourteen fifteen sixteen seventeen eighteen '
         'nineteen').split()
_TENS = 'twenty thirty forty fifty sixty seventy eighty ninety'.split()


def number_words(n: int) -> str:
  """0..9999 in words, LibriSpeech style ("three hundred five")."""
  if not 0 <= n <= 9999:
    raise ValueError(f'{n} is outside 0..9999')
  if n < 20:
    return _ONES[n]
  if n < 100:
    tens, ones = divmod(n, 10)
    return _TENS[tens - 2] + ('' if ones == 0 else ' ' + _ONES[ones])
  if n < 1000:
    hundreds, rest = divmod(n, 100)
    return _ONES[hundreds] + ' hundred' + (
        '' if rest == 0 else ' ' + number_words(rest))
  thousands, rest = divmod(n, 1000)
  return _ONES[thousands] + ' thousand' + (
      '' if rest == 0 else ' ' + number_words(rest))


def espeak_binary() -> str:
  path = shutil.which(ESPEAK)
  if path is None:
    raise RuntimeError(
        f'the mini RNN-T data are synthesised with {ESPEAK}, which is not '
        f'installed: run `{INSTALL_HINT}` (Debian/Ubuntu), or use '
        '--synthetic-data')
  return path


def synthesize(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
  """espeak-ng speech of `text`, float32 at 16 kHz."""
  import soundfile  # pylint: disable=import-outside-toplevel
  from scipy import signal  # pylint: disable=import-outside-toplevel
  wav = subprocess.run(
      [espeak_binary(), '-v', voice, '-s', str(speed), '-p', str(pitch),
       '--stdout', text], capture_output=True, check=True).stdout
  audio, sr = soundfile.read(io.BytesIO(wav), dtype='float32')
  if sr != 22050:
    raise RuntimeError(f'{ESPEAK} wrote {sr} Hz audio; expected 22050')
  return signal.resample_poly(audio, 320, 441).astype(np.float32)


def _plan():
  """(transcript, voice, speed, pitch) of every utterance, train first."""
  rng = np.random.default_rng(_SEED)
  plan = []
  train_voices = [v for v in VOICES if v != EVAL_VOICE]
  voices = [v for v in train_voices for _ in range(TRAIN_PER_VOICE)]
  voices += [EVAL_VOICE] * EVAL_UTTERANCES
  seen = set()
  for voice in voices:
    while True:
      text = number_words(int(rng.integers(0, 10000)))
      if text not in seen:
        seen.add(text)
        break
    plan.append((text, voice, int(rng.integers(150, 211)),
                 int(rng.integers(30, 71))))
  return plan


def cache_dir(data_dir: str | None = None) -> str:
  if data_dir:
    return data_dir
  return os.environ.get('MLPERF_JAX_CACHE_DIR') or os.path.join(
      os.path.expanduser('~'), '.cache', 'mlperf_jax')


def _cache_path(directory: str) -> str:
  key = hashlib.sha256(repr((_VERSION, _plan())).encode()).hexdigest()[:12]
  return os.path.join(directory, f'spoken_numbers-{key}.npz')


@functools.lru_cache(maxsize=2)
def load(data_dir: str | None = None) -> dict[str, np.ndarray]:
  """The whole set: 'audio' (concatenated int16), 'offsets' [N + 1],
  'text' [N], 'voice' [N]; train utterances first. Synthesised once and
  cached (written atomically)."""
  path = _cache_path(cache_dir(data_dir))
  if os.path.isfile(path):
    with np.load(path) as z:
      return {k: z[k] for k in z.files}
  espeak_binary()
  plan = _plan()
  clips = [synthesize(*p) for p in plan]
  offsets = np.concatenate([[0], np.cumsum([len(c) for c in clips])])
  # 16-bit samples: half the cache, below the features' 1e-5 dither.
  audio = np.round(np.clip(np.concatenate(clips), -1, 1) * 32767)
  data = {'audio': audio.astype(np.int16), 'offsets': offsets,
          'text': np.array([p[0] for p in plan]),
          'voice': np.array([p[1] for p in plan])}
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = f'{path}.{os.getpid()}.tmp.npz'
  np.savez(tmp, **data)
  os.replace(tmp, path)
  return data


def clip(data, i: int) -> np.ndarray:
  """Utterance i as float32 in [-1, 1]."""
  pcm = data['audio'][data['offsets'][i]:data['offsets'][i + 1]]
  return pcm.astype(np.float32) / 32767


# Speed perturbation of the mini: one of these rates per utterance and step
# (the reference's U(0.85, 1.15), quantised so that features are computed
# once per rate and cached instead of every step on a 2-core CI machine).
SPEEDS = (0.85, 1.0, 1.15)


@functools.lru_cache(maxsize=2)
def load_features(data_dir: str | None = None) -> dict[str, np.ndarray]:
  """Normalised 80-dim log-mel features (steps 1-7 of the reference pipeline,
  dither drawn once per utterance and rate) of every utterance at every
  rate in SPEEDS, cached next to the audio as float16: 'feats' (concatenated
  [frames, 80]), 'offsets' [len(SPEEDS), N + 1], 'lengths' [len(SPEEDS), N]
  valid frames."""
  audio_path = _cache_path(cache_dir(data_dir))
  path = audio_path.replace('.npz', f'-features-{len(SPEEDS)}.npz')
  if os.path.isfile(path):
    with np.load(path) as z:
      return {k: z[k] for k in z.files}
  data = load(data_dir)
  n = len(data['text'])
  feats, lengths, sizes = [], np.zeros((len(SPEEDS), n), np.int32), []
  for r, speed in enumerate(SPEEDS):
    for i in range(n):
      rng = np.random.default_rng((_SEED, r, i))
      f, lengths[r, i] = af.log_mel_features(clip(data, i), rng, speed=speed)
      feats.append(f.astype(np.float16))
      sizes.append(len(f))
  offsets = np.concatenate([[0], np.cumsum(sizes)]).reshape(-1)
  out = {'feats': np.concatenate(feats), 'lengths': lengths,
         'offsets': np.stack([offsets[r * n:r * n + n + 1]
                              for r in range(len(SPEEDS))])}
  tmp = f'{path}.{os.getpid()}.tmp.npz'
  np.savez(tmp, **out)
  os.replace(tmp, path)
  return out


SENTENCEPIECE_VOCAB = 48


def tokenizer(data_dir: str | None = None):
  """The mini's SentencePiece model (trained once on the training
  transcripts, cached next to the audio)."""
  prefix = _cache_path(cache_dir(data_dir)).replace(
      '.npz', f'-sp{SENTENCEPIECE_VOCAB}')
  if not os.path.isfile(prefix + '.model'):
    texts = [str(t) for t in load(data_dir)['text'][:TRAIN_UTTERANCES]]
    tmp = f'{prefix}.{os.getpid()}.tmp'
    librispeech.train_sentencepiece(texts, tmp, SENTENCEPIECE_VOCAB)
    os.replace(tmp + '.model', prefix + '.model')
    os.remove(tmp + '.vocab')
  return librispeech.SentencePieceTokenizer(prefix + '.model')


class SpokenNumbers:
  """Batches of the mini set (features as the reference pipeline)."""

  def __init__(self, data_dir: str | None = None, augment: bool = True):
    self.data = load(data_dir)
    self.feats = load_features(data_dir)
    self.augment = augment
    self.tokenizer = tokenizer(data_dir)
    n = len(self.data['text'])
    self.train_idx = np.arange(TRAIN_UTTERANCES)
    self.eval_idx = np.arange(TRAIN_UTTERANCES, n)
    self.labels = [self.tokenizer.encode(t) for t in self.data['text']]
    rates = range(len(SPEEDS)) if augment else [SPEEDS.index(1.0)]
    frames = max(-(-int(self.feats['lengths'][r].max()) // af.SUBSAMPLING)
                 for r in rates)
    self.frames = int(np.ceil(frames / 8) * 8)
    self.max_labels = max(len(x) for x in self.labels)

  def log_mel(self, rate: int, i: int) -> tuple[np.ndarray, int]:
    o = self.feats['offsets'][rate]
    return (self.feats['feats'][o[i]:o[i + 1]].astype(np.float32),
            int(self.feats['lengths'][rate, i]))

  def transcript(self, i: int) -> str:
    return str(self.data['text'][i])

  def train_batches(self, *, global_batch_size: int, seed: int,
                    host: HostShard, start_step: int = 0):
    unit = SPEEDS.index(1.0)

    def load_batch(idx, rng):
      items = []
      for i in idx:
        i = int(self.train_idx[int(i)])
        rate = int(rng.integers(len(SPEEDS))) if self.augment else unit
        f, n = af.splice(*self.log_mel(rate, i), rng, train=self.augment)
        items.append((f, n, self.labels[i]))
      return librispeech.collate(items, self.frames, self.max_labels)
    return batching.train_batches(
        len(self.train_idx), load_batch, global_batch_size=global_batch_size,
        seed=seed, host=host, start_step=start_step)

  def eval_batches(self, *, global_batch_size: int, host: HostShard):
    unit = SPEEDS.index(1.0)

    def load_batch(idx, rng):
      del rng
      items = []
      for i in idx:
        i = int(self.eval_idx[int(i)])
        f, n = af.splice(*self.log_mel(unit, i))
        items.append((f, n, self.labels[i]))
      return librispeech.collate(items, self.frames, self.max_labels)
    return batching.eval_batches(len(self.eval_idx), load_batch,
                                 global_batch_size=global_batch_size,
                                 host=host)
