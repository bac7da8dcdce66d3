# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The RNN-T reference's audio features, in NumPy (host-side preprocessing).

Reference: mlcommons/training `rnn_speech_recognition/pytorch` (v1.1),
`common/data/features.py` (`FilterbankFeatures`, `SpecAugment`,
`stack_subsample_frames`), `common/data/dali/pipeline.py` (speed
perturbation by resampling at decode, silence trimming at -60 dB, then
dither, preemphasis, spectrogram, mel, log, per-feature normalisation) and
`configs/baseline_v3-1023sp.yaml`:

1. speed perturbation (training): the utterance resampled by a factor
   U(0.85, 1.15) (DALI decodes at `rate * 16000` Hz and reads it as 16 kHz);
2. silence trimming: the region whose short-time power is within 60 dB of
   the utterance's peak (DALI `NonsilentRegion`, window 2048);
3. dither `x + 1e-5 * N(0, 1)` (training and eval, as the reference);
4. preemphasis `y[0] = x[0]`, `y[n] = x[n] - 0.97 x[n - 1]`;
5. power spectrum of `torch.stft(n_fft=512, hop_length=160, win_length=320,
   window=hann_window(320, periodic=False), center=True)`: the signal
   reflect-padded by `n_fft / 2` on both sides, `1 + len // 160` frames, the
   320-sample window zero-padded to 512 in the centre;
6. 80 Slaney mel filters (`librosa.filters.mel(sr=16000, n_fft=512,
   n_mels=80, fmin=0, fmax=8000)`: Slaney's mel scale, area-normalised
   triangles), then `log(x + 1e-20)`;
7. per-utterance, per-feature normalisation over the `ceil(len / 160)` valid
   frames: `(x - mean) / (std + 1e-5)`, std unbiased (torch's default);
8. SpecAugment (training, before splicing): per utterance 2 frequency masks
   of width U{0..20} at U{0..F - w} and 10 time masks of width
   U{0..round(0.03 * T_valid)} at U{0..T - w}, masked to 0;
9. frame stacking 3 / subsampling 3: frame t concatenated with t + 1 and
   t + 2 (zeros past the end), every 3rd kept: 240 features per 30 ms,
   lengths `ceil(T / 3)`.

Features are `[frames, features]` (time-major per utterance); the reference
keeps `[features, frames]`, the same numbers transposed.
"""

from __future__ import annotations

import fractions
import functools
import math

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 160         # 0.01 s
WIN = 320         # 0.02 s
N_MELS = 80
DITHER = 1e-5
PREEMPH = 0.97
LOG_EPS = 1e-20
NORM_EPS = 1e-5
STACKING = 3
SUBSAMPLING = 3
SILENCE_DB = -60.0
SILENCE_WINDOW = 2048


def speed_perturb(audio: np.ndarray, rate: float) -> np.ndarray:
  """Resamples by `rate` (> 1: longer, i.e. slower speech), as DALI's
  decoder at `rate * sample_rate` Hz: polyphase, the rate rounded to a
  fraction with denominator <= 32 (within 0.1 % over 0.85..1.15)."""
  from scipy import signal  # pylint: disable=import-outside-toplevel
  frac = fractions.Fraction(rate).limit_denominator(32)
  if frac == 1:
    return audio.astype(np.float32)
  return signal.resample_poly(audio, frac.numerator,
                              frac.denominator).astype(np.float32)


def trim_silence(audio: np.ndarray, cutoff_db: float = SILENCE_DB,
                 window: int = SILENCE_WINDOW) -> np.ndarray:
  """The region from the first to the last sample whose `window`-long mean
  power is within `cutoff_db` of the peak; all of it if none is."""
  if len(audio) == 0:
    return audio
  csum = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
  half = window // 2
  idx = np.arange(len(audio))
  lo = np.clip(idx - half, 0, len(audio))
  hi = np.clip(idx - half + window, 0, len(audio))
  power = (csum[hi] - csum[lo]) / window  # centred moving mean
  peak = power.max()
  if peak <= 0:
    return audio
  loud = np.flatnonzero(10 * np.log10(np.maximum(power, 1e-30) / peak)
                        >= cutoff_db)
  return audio[loud[0]:loud[-1] + 1]


def preemphasis(audio: np.ndarray, coeff: float = PREEMPH) -> np.ndarray:
  return np.concatenate([audio[:1], audio[1:] - coeff * audio[:-1]])


@functools.lru_cache(maxsize=4)
def window(win: int = WIN, n_fft: int = N_FFT) -> np.ndarray:
  """`torch.hann_window(win, periodic=False)` zero-padded to `n_fft` with
  `(n_fft - win) // 2` zeros in front (torch.stft's placement)."""
  n = np.arange(win)
  hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (win - 1))
  left = (n_fft - win) // 2
  out = np.zeros(n_fft)
  out[left:left + win] = hann
  return out


def frames(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP
           ) -> np.ndarray:
  """torch.stft(center=True) framing: reflect padding of n_fft // 2, then
  `1 + len // hop` frames of `n_fft` samples, `[frames, n_fft]`."""
  pad = n_fft // 2
  x = np.pad(audio, (pad, pad), mode='reflect')
  count = 1 + (len(x) - n_fft) // hop
  idx = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
  return x[idx]


def power_spectrum(audio: np.ndarray) -> np.ndarray:
  """|STFT|^2, `[frames, n_fft // 2 + 1]`."""
  spec = np.fft.rfft(frames(audio) * window(), axis=-1)
  return spec.real ** 2 + spec.imag ** 2


def _hz_to_mel(f):
  """Slaney's mel scale: linear below 1 kHz (3 mel per 200 Hz), log above."""
  f = np.asarray(f, np.float64)
  f_sp = 200.0 / 3
  mels = f / f_sp
  min_log_hz = 1000.0
  min_log_mel = min_log_hz / f_sp
  logstep = np.log(6.4) / 27.0
  return np.where(f >= min_log_hz,
                  min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz)
                  / logstep, mels)


def _mel_to_hz(m):
  m = np.asarray(m, np.float64)
  f_sp = 200.0 / 3
  min_log_hz = 1000.0
  min_log_mel = min_log_hz / f_sp
  logstep = np.log(6.4) / 27.0
  return np.where(m >= min_log_mel,
                  min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@functools.lru_cache(maxsize=4)
def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT,
                   n_mels: int = N_MELS, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
  """Slaney mel filters `[n_mels, n_fft // 2 + 1]` (librosa's default:
  triangles between n_mels + 2 points equally spaced in Slaney mel, each
  scaled by 2 / (its band's width in Hz))."""
  fmax = sr / 2 if fmax is None else fmax
  fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
  mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax),
                                 n_mels + 2))
  fdiff = np.diff(mel_f)
  ramps = mel_f[:, None] - fft_freqs[None, :]
  lower = -ramps[:-2] / fdiff[:-1, None]
  upper = ramps[2:] / fdiff[1:, None]
  weights = np.maximum(0, np.minimum(lower, upper))
  weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
  return weights.astype(np.float32)


def log_mel(audio: np.ndarray) -> np.ndarray:
  """log(mel filterbank energies + 1e-20), `[frames, 80]` float32."""
  mel = power_spectrum(audio.astype(np.float64)) @ mel_filterbank().T
  return np.log(mel + LOG_EPS).astype(np.float32)


def valid_frames(num_samples: int, hop: int = HOP) -> int:
  """The reference's feature length `ceil(len / hop)`."""
  return math.ceil(num_samples / hop)


def normalize_per_feature(x: np.ndarray, length: int) -> np.ndarray:
  """(x - mean) / (std + 1e-5) per feature over the first `length` frames
  (unbiased std, as torch's `Tensor.std`)."""
  v = x[:length].astype(np.float64)
  mean = v.mean(0)
  std = v.std(0, ddof=1) if length > 1 else np.zeros_like(mean)
  return ((x - mean) / (std + NORM_EPS)).astype(np.float32)


def spec_augment(x: np.ndarray, length: int, rng: np.random.Generator, *,
                 freq_masks: int = 2, min_freq: int = 0, max_freq: int = 20,
                 time_masks: int = 10, min_time: float = 0,
                 max_time: float = 0.03) -> np.ndarray:
  """The reference's `SpecAugment` on one utterance `[frames, features]`
  (adaptive time masks: width up to round(max_time * length) frames)."""
  t, f = x.shape
  mask = np.zeros_like(x, dtype=bool)
  for _ in range(freq_masks):
    w = int(rng.integers(min_freq, max_freq + 1))
    f0 = int(rng.integers(0, max(1, f - w + 1)))
    mask[:, f0:f0 + w] = True
  t_max = int(round(length * max_time)) if 0 < max_time < 1 else int(max_time)
  for _ in range(time_masks):
    w = int(rng.integers(int(min_time), t_max + 1))
    t0 = int(rng.integers(0, max(1, t - w + 1)))
    mask[t0:t0 + w] = True
  return np.where(mask, 0.0, x).astype(x.dtype)


def stack_subsample(x: np.ndarray, length: int, stacking: int = STACKING,
                    subsampling: int = SUBSAMPLING
                    ) -> tuple[np.ndarray, int]:
  """`stack_subsample_frames` on `[frames, features]`: returns the stacked
  frames (trimmed to the new length) and `ceil(length / subsampling)`."""
  t, f = x.shape
  parts = [x]
  for n in range(1, stacking):
    parts.append(np.concatenate([x[n:], np.zeros((n, f), x.dtype)]))
  y = np.concatenate(parts, axis=1)[::subsampling]
  new_len = math.ceil(length / subsampling)
  return y[:max(new_len, 1)], new_len


def log_mel_features(audio: np.ndarray, rng: np.random.Generator | None = None,
                     *, speed: float = 1.0, dither: float = DITHER,
                     trim: bool = True) -> tuple[np.ndarray, int]:
  """Steps 1-7 on one 16 kHz utterance: `(normalised log-mel float32
  [frames, 80], valid frames)`; rng (None: a fixed one) draws the dither."""
  rng = rng if rng is not None else np.random.default_rng(0)
  x = np.asarray(audio, np.float32)
  if speed != 1.0:
    x = speed_perturb(x, speed)
  if trim:
    x = trim_silence(x)
  if dither:
    x = x + dither * rng.standard_normal(len(x)).astype(np.float32)
  x = preemphasis(x)
  length = valid_frames(len(x))
  return normalize_per_feature(log_mel(x), length), length


def splice(feats: np.ndarray, length: int,
           rng: np.random.Generator | None = None, *, train: bool = False
           ) -> tuple[np.ndarray, int]:
  """Steps 8-9: SpecAugment (when `train`), then stacking/subsampling."""
  if train:
    feats = spec_augment(feats, length, rng)
  return stack_subsample(feats, length)


def features(audio: np.ndarray, rng: np.random.Generator | None = None, *,
             train: bool = False, speed: float = 1.0,
             dither: float = DITHER, trim: bool = True
             ) -> tuple[np.ndarray, int]:
  """The whole pipeline on one 16 kHz utterance.

  Args:
    audio: float mono samples at 16 kHz.
    rng: random generator for dither and SpecAugment (None: a fixed one, for
      deterministic eval).
    train: apply SpecAugment (speed perturbation is the `speed` argument).
    speed: the speed-perturbation rate (1: none).
    dither: dither amplitude (the reference: 1e-5 in train and eval).
    trim: trim leading and trailing silence.

  Returns:
    `(features float32 [ceil(T / 3), 240], valid stacked frames)`.
  """
  rng = rng if rng is not None else np.random.default_rng(0)
  feats, length = log_mel_features(audio, rng, speed=speed, dither=dither,
                                   trim=trim)
  return splice(feats, length, rng, train=train)


def inference_features(audio: np.ndarray,
                       rng: np.random.Generator | None = None
                       ) -> tuple[np.ndarray, int]:
  """The MLPerf Inference RNN-T's features (`speech_recognition/rnnt/pytorch/
  parts/features.py`, `FilterbankFeatures` with `configs/rnnt.toml`'s
  `input_eval`), which order the steps differently from training: no
  silence trimming or augmentation; dither, preemphasis, the same log-mel
  spectrogram, then frame stacking 3 / subsampling 3, then per-feature
  normalisation of the 240 stacked features over the `ceil(ceil(len / 160)
  / 3)` valid stacked frames (unbiased std + 1e-5).

  Returns:
    `(features float32 [frames, 240], valid stacked frames)`.
  """
  rng = rng if rng is not None else np.random.default_rng(0)
  x = np.asarray(audio, np.float32)
  x = x + DITHER * rng.standard_normal(len(x)).astype(np.float32)
  x = preemphasis(x)
  mel = log_mel(x)
  stacked, length = stack_subsample(mel, valid_frames(len(x)))
  return normalize_per_feature(stacked, length), length
