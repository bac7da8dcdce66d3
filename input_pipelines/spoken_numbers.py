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
generalisation. Transcripts use the 28 reference characters (blank 28, the
inference model's alphabet).

The set is fixed (a constant seed, independent of the run seed) and cached
as one `.npz` in the cache directory (`--data-dir` when given, else
`$MLPERF_JAX_CACHE_DIR` or `~/.cache/mlperf_jax`), so reruns and the runs
of a package reuse it; eval features are computed once per process.
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


class SpokenNumbers:
  """Batches of the mini set (features as the reference pipeline)."""

  def __init__(self, data_dir: str | None = None, augment: bool = True):
    self.data = load(data_dir)
    self.augment = augment
    self.tokenizer = librispeech.CharTokenizer()
    n = len(self.data['text'])
    self.train_idx = np.arange(TRAIN_UTTERANCES)
    self.eval_idx = np.arange(TRAIN_UTTERANCES, n)
    self.labels = [self.tokenizer.encode(t) for t in self.data['text']]
    longest = int(np.diff(self.data['offsets']).max())
    speed = librispeech.MAX_SPEED if augment else 1.0
    frames = librispeech.stacked_frames(int(np.ceil(longest * speed))) + 1
    self.frames = int(np.ceil(frames / 8) * 8)
    self.max_labels = max(len(x) for x in self.labels)

  @functools.cached_property
  def eval_features(self):
    return [af.features(clip(self.data, int(i))) for i in self.eval_idx]

  def transcript(self, i: int) -> str:
    return str(self.data['text'][i])

  def train_batches(self, *, global_batch_size: int, seed: int,
                    host: HostShard, start_step: int = 0):
    def load_batch(idx, rng):
      items = []
      for i in idx:
        i = int(self.train_idx[int(i)])
        speed = float(rng.uniform(0.85, librispeech.MAX_SPEED)) if (
            self.augment) else 1.0
        f, n = af.features(clip(self.data, i), rng, train=self.augment,
                           speed=speed)
        items.append((f, n, self.labels[i]))
      return librispeech.collate(items, self.frames, self.max_labels)
    # One loader thread: features of the next batches are computed while
    # the current step runs (order and values do not depend on it).
    return batching.train_batches(
        len(self.train_idx), load_batch, global_batch_size=global_batch_size,
        seed=seed, host=host, start_step=start_step, num_threads=1,
        prefetch=2)

  def eval_batches(self, *, global_batch_size: int, host: HostShard):
    feats = self.eval_features

    def load_batch(idx, rng):
      del rng
      items = [(*feats[int(i)], self.labels[int(self.eval_idx[int(i)])])
               for i in idx]
      return librispeech.collate(items, self.frames, self.max_labels)
    return batching.eval_batches(len(self.eval_idx), load_batch,
                                 global_batch_size=global_batch_size,
                                 host=host)
