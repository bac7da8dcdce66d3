# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""KiTS19 `prepare` on small NIfTI files, the reference sampler and
augmentations, the sliding-window plan and importance map against NumPy
transcriptions of the reference, and DICE against scikit-learn's F1."""

import os
import subprocess
import sys

import nibabel
import numpy as np
import pytest
from scipy.signal import windows
from sklearn.metrics import f1_score

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import kits19
from mlperf_jax.input_pipelines import synthetic_kidneys
from mlperf_jax.metrics import dice
from mlperf_jax.models import sliding_window as sw


# ---- prepare ----------------------------------------------------------------------

def _linear_1d(v, axis, n):
  """Resize along one axis, corners aligned, with np.interp (separable)."""
  src = np.linspace(0, v.shape[axis] - 1, n)
  return np.apply_along_axis(
      lambda r: np.interp(src, np.arange(len(r)), r), axis, v)


def _write_case(root, cid, shape, spacing, rng):
  d = os.path.join(root, f'case_{cid:05d}')
  os.makedirs(d)
  image = rng.uniform(-300, 500, shape).astype(np.float32)
  label = np.zeros(shape, np.uint8)
  label[2:6, 3:9, 4:10] = 1
  label[3:5, 4:6, 5:7] = 2
  affine = np.diag(list(spacing) + [1.0])
  nibabel.save(nibabel.Nifti1Image(image, affine),
               os.path.join(d, 'imaging.nii.gz'))
  nibabel.save(nibabel.Nifti1Image(label, affine),
               os.path.join(d, 'segmentation.nii.gz'))
  return image, label


def test_prepare_from_nifti_matches_the_reference_equations(tmp_path):
  raw, out = tmp_path / 'raw', tmp_path / 'out'
  rng = np.random.default_rng(0)
  image, label = _write_case(str(raw), 3, (10, 14, 12), (3.2, 1.5, 0.9), rng)
  _write_case(str(raw), 5, (8, 8, 8), (1.6, 1.2, 1.2), rng)
  _write_case(str(raw), 230, (8, 8, 8), (1.6, 1.2, 1.2), rng)  # id >= 210
  r = subprocess.run([sys.executable, '-m', 'mlperf_jax.input_pipelines.kits19',
                      'prepare', str(raw), str(out)], capture_output=True,
                     text=True, check=False)
  assert r.returncode == 0, r.stderr
  assert 'prepared 2 cases' in r.stdout and 'warning' in r.stdout
  assert sorted(os.listdir(out)) == [
      'case_00003_x.npy', 'case_00003_y.npy', 'case_00005_x.npy',
      'case_00005_y.npy']
  x = np.load(out / 'case_00003_x.npy')
  y = np.load(out / 'case_00003_y.npy')
  # New shape int(spacing / target * shape), with the header's float32
  # spacing (0.9 is 0.89999998: 8, not 9), then edge-padded to >= 128 per
  # axis (floor half first).
  spacing = np.float32([3.2, 1.5, 0.9]).tolist()
  new = [int(s / t * n) for s, t, n in
         zip(spacing, kits19.TARGET_SPACING, image.shape)]
  assert new == [20, 17, 8]
  assert x.shape == y.shape == (1, 128, 128, 128)
  assert x.dtype == np.float32 and y.dtype == np.uint8
  ref = image.astype(np.float64)
  for axis, n in enumerate(new):
    ref = _linear_1d(ref, axis, n)
  ref = (np.clip(ref, -79, 304) - 101) / 76.9
  pads = [((128 - n) // 2, 128 - n - (128 - n) // 2) for n in new]
  ref = np.pad(ref, pads, mode='edge')
  np.testing.assert_allclose(x[0], ref, rtol=1e-5, atol=1e-5)
  idx = [np.floor(np.arange(n) * (s / n)).astype(int)
         for s, n in zip(label.shape, new)]
  ref_y = np.pad(label[np.ix_(*idx)], pads, mode='edge')
  np.testing.assert_array_equal(y[0], ref_y)


def test_split_follows_evaluation_cases_and_reports_bad_folders(tmp_path):
  assert len(kits19.EVAL_CASES) == 42 and len(set(kits19.EVAL_CASES)) == 42
  assert kits19.EVAL_CASES[:3] == ('00000', '00003', '00005')
  for cid in ('00003', '00004', '00005'):
    np.save(tmp_path / f'case_{cid}_x.npy', np.zeros((1, 2, 2, 2), np.float32))
  np.save(tmp_path / 'case_00003_y.npy', np.zeros((1, 2, 2, 2), np.uint8))
  problems = kits19.split_problems(str(tmp_path))
  assert any('images and labels differ' in p for p in problems)
  assert any('1 training and 2 evaluation cases' in p for p in problems)
  assert 'prepare' in kits19.split_problems(str(tmp_path / 'nope'))[0]
  with pytest.raises(ValueError, match='168 / 42'):
    kits19.open_split(str(tmp_path), 'train')


# ---- training sampler and augmentations -------------------------------------------

def _cases(n=4, size=24):
  images, labels = synthetic_kidneys.make_split(n, size, 11)
  return kits19.ArrayCases(list(images), list(labels))


def test_foreground_crop_holds_the_chosen_class_and_the_patch_size():
  cases = _cases()
  for seed in range(20):
    rng = np.random.default_rng(seed)
    x, y = kits19.foreground_crop(cases.image(0), cases.label(0), (16,) * 3,
                                  rng)
    assert x.shape == y.shape == (16, 16, 16)
    assert (y > 0).any()
  # A label without foreground falls back to a random crop.
  x, y = kits19.foreground_crop(cases.image(0), np.zeros((24,) * 3, np.uint8),
                                (16,) * 3, np.random.default_rng(0))
  assert y.shape == (16,) * 3


def test_foreground_crop_centres_small_objects_like_the_reference():
  label = np.zeros((40, 40, 40), np.uint8)
  label[30:34, 5:9, 18:22] = 1   # a 4^3 object, 16^3 patch
  image = np.arange(label.size, dtype=np.float32).reshape(label.shape)
  for seed in range(10):
    x, y = kits19.foreground_crop(image, label, (16,) * 3,
                                  np.random.default_rng(seed))
    assert y.sum() == 64  # the whole object is inside the crop
    lo = np.unravel_index(int(x[0, 0, 0]), label.shape)
    # Each axis: start in [obj_start - 12, obj_start] clipped to the volume.
    for axis, start in enumerate((30, 5, 18)):
      assert max(0, start - 12) <= lo[axis] <= min(start, 40 - 16)


def test_augmentation_rates_match_the_reference():
  image = np.ones((20, 20, 20), np.float32)
  label = np.zeros((20, 20, 20), np.uint8)
  label[10, 10, 10] = 1
  bright = noisy = 0
  n = 2000
  for i in range(n):
    x, _ = kits19.augment(image, label, (8, 8, 8), 0.4,
                          np.random.default_rng(i))
    m = float(np.median(x))
    bright += m > 1.5          # image * (1 + U(0.7, 1.3)): x 1.7 .. 2.3
    noisy += float(np.std(x)) > 1e-4
  assert abs(bright / n - 0.1) < 0.03 and abs(noisy / n - 0.1) < 0.03


def test_train_batches_are_deterministic_and_host_count_independent():
  cases = _cases()
  kw = dict(patch=(16,) * 3, oversampling=0.4, global_batch_size=4, seed=3)
  one = next(kits19.train_batches(cases, **kw, start_step=2))
  halves = [next(kits19.train_batches(cases, **kw, host=HostShard(h, 2),
                                      start_step=2)) for h in range(2)]
  for k in ('image', 'label'):
    np.testing.assert_array_equal(np.concatenate([h[k] for h in halves]),
                                  one[k])
  assert one['image'].shape == (4, 16, 16, 16, 1)
  assert one['label'].dtype == np.int32
  it = kits19.train_batches(cases, **kw)
  next(it), next(it)
  np.testing.assert_array_equal(next(it)['image'], one['image'])  # resume


def test_sampler_draws_with_replacement_and_rounds_the_epoch_up():
  assert kits19.samples_per_epoch(168, 2) == 168
  assert kits19.samples_per_epoch(168, 32) == 192
  draws = np.concatenate([kits19.step_cases(5, s, 4, 0) for s in range(50)])
  assert set(draws) == set(range(5))
  assert any(len(set(kits19.step_cases(5, s, 4, 0))) < 4 for s in range(50))


# ---- sliding window -------------------------------------------------------------------

def _reference_plan(shape, roi, overlap):
  """A line-by-line NumPy transcription of the reference's trim, pad and
  window loops (runtime/inference.py)."""
  strides = [int(roi * (1 - overlap))] * 3
  bounds = [shape[i] % strides[i] for i in range(3)]
  bounds = [bounds[i] if bounds[i] < strides[i] // 2 else 0 for i in range(3)]
  trimmed = [shape[i] - bounds[i] for i in range(3)]
  b2 = [(strides[i] - trimmed[i] % strides[i]) % strides[i] for i in range(3)]
  b2 = [b2[i] if trimmed[i] + b2[i] >= roi else b2[i] + strides[i]
        for i in range(3)]
  padded = [trimmed[i] + b2[i] for i in range(3)]
  size = [(padded[i] - roi) // strides[i] + 1 for i in range(3)]
  origins = [(i, j, k)
             for i in range(0, strides[0] * size[0], strides[0])
             for j in range(0, strides[1] * size[1], strides[1])
             for k in range(0, strides[2] * size[2], strides[2])]
  trim = [(bounds[i] // 2, shape[i] - (bounds[i] - bounds[i] // 2))
          for i in range(3)]
  pad = [(b2[i] // 2, b2[i] - b2[i] // 2) for i in range(3)]
  return trim, pad, origins


@pytest.mark.parametrize('shape', [(128, 128, 128), (200, 250, 190),
                                   (131, 160, 255), (129, 300, 140)])
def test_window_plan_equals_the_reference_loops(shape):
  plan = sw.plan_windows(shape, 128, 0.5)
  trim, pad, origins = _reference_plan(shape, 128, 0.5)
  assert list(plan.trim) == trim and list(plan.pad) == pad
  assert [tuple(o) for o in plan.origins] == origins
  assert all(p % 64 == 0 and p >= 128 for p in plan.padded_shape)


def test_gaussian_importance_map():
  g = windows.gaussian(16, 2.0)
  ref = np.cbrt(np.outer(np.outer(g, g), g).reshape(16, 16, 16))
  np.testing.assert_allclose(sw.gaussian_importance(16), ref / ref.max(),
                             rtol=1e-6)
  assert sw.gaussian_importance(16).max() == 1.0


def test_sliding_window_of_one_window_is_the_direct_forward():
  """A volume the size of one window: the result is the model's output."""
  rng = np.random.default_rng(0)
  image = rng.standard_normal((16, 16, 16, 1)).astype(np.float32)
  w = rng.standard_normal((1, 3)).astype(np.float32)

  def predict(x):
    return np.tanh(x @ w)  # any per-voxel function

  logits, plan = sw.sliding_window_logits(predict, image, 16, 0.5, 3)
  assert len(plan.origins) == 1
  np.testing.assert_allclose(logits, predict(image[None])[0], rtol=1e-6)


def test_sliding_window_average_pads_with_minus_2_2():
  image = np.zeros((20, 24, 24, 1), np.float32)  # 20 -> padded to 24
  seen = []

  def predict(x):
    seen.append(x)
    return np.repeat(x, 3, axis=-1)

  logits, plan = sw.sliding_window_logits(predict, image, 16, 0.5, 3,
                                          batch=2)
  assert plan.pad[0] == (2, 2) and plan.padded_shape == (24, 24, 24)
  wins = np.concatenate(seen)
  assert wins.min() == pytest.approx(-2.2) and wins.max() == 0.0
  np.testing.assert_allclose(logits, 0.0, atol=1e-6)  # padding cropped off
  assert logits.shape == (20, 24, 24, 3)


def test_eval_batches_cover_every_window_once_and_count_cases():
  cases = _cases(3, 32)
  plans = kits19.eval_plans(cases, 16, 0.5)
  batches = list(kits19.eval_batches(cases, roi=16, overlap=0.5,
                                     window_batch=8))
  cid = np.concatenate([b['case'] for b in batches])
  assert len(cid) == kits19.num_windows(plans, 8) == 88  # 81 + 7 padding
  assert [int((cid == c).sum()) for c in range(3)] == [27, 27, 27]
  assert sum(float(b['mask'].sum()) for b in batches) == 3
  assert np.all(cid[81:] == -1)
  b = batches[0]
  padded = plans[0].padded_image(cases.image(0))
  o = b['origin'][5]
  np.testing.assert_array_equal(b['image'][5, ..., 0],
                                padded[o[0]:o[0] + 16, o[1]:o[1] + 16,
                                       o[2]:o[2] + 16])


# ---- DICE and the loss -------------------------------------------------------------------

def test_dice_equals_f1_score_and_absent_classes_score_one():
  rng = np.random.default_rng(5)
  label = rng.integers(0, 3, (6, 7, 8))
  pred = np.where(rng.random(label.shape) < 0.7, label,
                  rng.integers(0, 3, label.shape))
  got = dice.dice_per_class(pred, label)
  for c in (1, 2):
    ref = f1_score(label.ravel() == c, pred.ravel() == c)
    assert got[c - 1] == pytest.approx(ref, rel=1e-6)
  none = np.zeros((4, 4, 4), int)
  assert list(dice.dice_per_class(none, none)) == [1.0, 1.0]
  assert dice.mean_dice([[1.0, 0.5], [0.0, 0.5]]) == pytest.approx(0.5)


def test_dice_ce_loss_equals_numpy_transcription():
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(6)
  logits = rng.standard_normal((2, 4, 5, 3, 3)).astype(np.float32)
  labels = rng.integers(0, 3, (2, 4, 5, 3))
  loss, per = dice.dice_ce_loss(jnp.asarray(logits), jnp.asarray(labels))
  p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  onehot = np.eye(3)[labels]
  ce = -np.mean(np.log(np.take_along_axis(p, labels[..., None], -1)))
  inter = (p * onehot).sum((1, 2, 3))[:, 1:]
  den = onehot.sum((1, 2, 3))[:, 1:] + p.sum((1, 2, 3))[:, 1:]
  d = (2 * inter + 1e-6) / (den + 1e-6)
  ref = (np.mean(1 - d) + ce) / 2
  assert float(loss) == pytest.approx(ref, rel=1e-5)
  assert float(np.mean(per)) == pytest.approx(ref, rel=1e-5)


def test_mini_volumes_are_fixed_and_have_three_classes():
  a, la = synthetic_kidneys.make_split(2, 32, synthetic_kidneys.TRAIN_SEED)
  first, again = (synthetic_kidneys.make_case(32, 123),
                  synthetic_kidneys.make_case(32, 123))
  np.testing.assert_array_equal(first[0], again[0])
  np.testing.assert_array_equal(first[1], again[1])
  assert a.shape == (2, 32, 32, 32) and a.dtype == np.float32
  assert set(np.unique(la)) == {0, 1, 2}
  assert abs(float(a.mean())) < 1e-4 and abs(float(a.std()) - 1) < 1e-3
