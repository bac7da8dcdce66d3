# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""RNN-T features against independent references: torch.stft's framing
transcribed with numpy.fft and numpy.hanning, Slaney's mel formulas (and
librosa when installed), torch's normalisation and splicing semantics."""

import math

import numpy as np
import pytest

from mlperf_jax.input_pipelines import audio_features as af


def test_stft_framing_matches_a_numpy_fft_transcription():
  rng = np.random.default_rng(0)
  x = rng.normal(size=1234)
  got = af.power_spectrum(x)
  # torch.stft(center=True, pad_mode='reflect'): pad 256 mirrored samples
  # (without repeating the edge), frame every 160, the symmetric 320-point
  # Hann window centred in 512.
  padded = np.concatenate([x[256:0:-1], x, x[-2:-258:-1]])
  assert len(padded) == len(x) + 512
  win = np.zeros(512)
  win[96:416] = np.hanning(320)
  n_frames = 1 + len(x) // 160
  expect = np.stack([np.abs(np.fft.fft(padded[i * 160:i * 160 + 512] * win)
                            [:257]) ** 2 for i in range(n_frames)])
  assert got.shape == (n_frames, 257) == (8, 257)
  np.testing.assert_allclose(got, expect, rtol=1e-9, atol=1e-9)


def test_slaney_mel_scale_and_filter_areas():
  # Slaney: linear 3 mel / 200 Hz below 1 kHz, log step ln(6.4) / 27 above.
  np.testing.assert_allclose(af._hz_to_mel([0, 200, 1000]), [0, 3, 15])
  np.testing.assert_allclose(af._hz_to_mel(6400), 15 + 27)
  np.testing.assert_allclose(af._mel_to_hz(af._hz_to_mel([123.0, 4567.0])),
                             [123.0, 4567.0])
  fb = af.mel_filterbank().astype(np.float64)
  assert fb.shape == (80, 257)
  assert (fb >= 0).all()
  # Each triangle has unit area in Hz (the 'slaney' normalisation): check
  # the filters wide enough to be well sampled by 31.25 Hz bins.
  df = 16000 / 512
  areas = fb.sum(1) * df
  np.testing.assert_allclose(areas[40:], 1.0, rtol=0.02)
  # Peaks rise in frequency and sit at the mel points.
  assert (np.diff(np.argmax(fb, 1)) >= 0).all()


def test_mel_filters_equal_librosa_when_installed():
  librosa = pytest.importorskip('librosa')
  ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0,
                            fmax=8000)
  np.testing.assert_allclose(af.mel_filterbank(), ref, atol=1e-7)


def test_normalisation_stacking_and_lengths():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(11, 4)).astype(np.float32) * 3 + 2
  y = af.normalize_per_feature(x, 9)
  v = x[:9].astype(np.float64)
  np.testing.assert_allclose(
      y, (x - v.mean(0)) / (v.std(0, ddof=1) + 1e-5), rtol=1e-5)
  s, n = af.stack_subsample(x, 11)
  assert n == 4 and s.shape == (4, 12)
  np.testing.assert_array_equal(s[0], np.concatenate([x[0], x[1], x[2]]))
  np.testing.assert_array_equal(s[3], np.concatenate([x[9], x[10], 0 * x[0]]))
  assert af.valid_frames(16000) == 100 and af.valid_frames(16001) == 101


def test_whole_pipeline_shapes_and_determinism():
  t = np.arange(16000) / 16000
  audio = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
  f1, n1 = af.features(audio)
  f2, _ = af.features(audio)
  np.testing.assert_array_equal(f1, f2)
  assert f1.shape == (n1, 240) and n1 == math.ceil(math.ceil(16000 / 160) / 3)
  # Stacking: block 1 of frame k is block 0 of frame k + 1's predecessor.
  np.testing.assert_array_equal(f1[0, 80:160], af.features(audio)[0][0, 80:160])
  assert np.isfinite(f1).all() and 0.3 < np.abs(f1).mean() < 3
  slow, n_slow = af.features(audio, speed=1.15, trim=False)
  assert n_slow == math.ceil(math.ceil(16000 * 23 / 20 / 160) / 3)


def test_spec_augment_masks_within_bounds():
  rng = np.random.default_rng(2)
  x = np.ones((300, 80), np.float32)
  y = af.spec_augment(x, 300, rng)
  zero_cols = np.flatnonzero((y == 0).all(0))
  zero_rows = np.flatnonzero((y == 0).all(1))
  assert len(zero_cols) <= 40
  # 10 time masks of at most round(0.03 * 300) = 9 frames.
  assert len(zero_rows) <= 90
  assert 0 < (y == 0).mean() < 0.8
  # Untouched cells keep their values.
  assert set(np.unique(y)) <= {0.0, 1.0}


def test_trim_silence_keeps_the_loud_region():
  x = np.zeros(20000, np.float32)
  x[6000:9000] = np.sin(np.arange(3000) / 3.0)
  y = af.trim_silence(x)
  assert 2900 < len(y) < 3000 + 2048 + 1


def test_inference_features_stack_then_normalise():
  # parts/features.py (MLPerf Inference): log-mel, then frames t, t+1, t+2
  # (zeros past the end of all STFT frames) every 3rd, then each of the 240
  # stacked features normalised over ceil(ceil(n / 160) / 3) frames.
  rng = np.random.default_rng(5)
  audio = (0.1 * rng.normal(size=16000 + 77)).astype(np.float32)
  got, n = af.inference_features(audio, np.random.default_rng(9))
  x = audio + af.DITHER * np.random.default_rng(9).standard_normal(
      len(audio)).astype(np.float32)
  mel = af.log_mel(af.preemphasis(x))
  t = mel.shape[0]
  pad = np.concatenate([mel, np.zeros((2, 80), np.float32)])
  stacked = np.concatenate([pad[0:t], pad[1:t + 1], pad[2:t + 2]], 1)[::3]
  valid = math.ceil(math.ceil(len(audio) / 160) / 3)
  assert n == valid == 34 and got.shape == (valid, 240)
  v = stacked[:valid].astype(np.float64)
  expect = (v - v.mean(0)) / (v.std(0, ddof=1) + 1e-5)
  np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-4)
  # Not the training order (normalise 80 features, then stack).
  train, _ = af.features(audio, np.random.default_rng(9), trim=False)
  assert np.abs(train[:valid] - got).max() > 1e-3
