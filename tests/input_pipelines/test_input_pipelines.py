# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Tests for mlperf_jax.input_pipelines (numpy only; no TensorFlow needed)."""

import importlib.util
import io
import json

import numpy as np
import PIL.Image
import pytest
import tensorflow_datasets as tfds

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import batching
from mlperf_jax.input_pipelines import digits
from mlperf_jax.input_pipelines import image_ops
from mlperf_jax.input_pipelines import imagenet
from mlperf_jax.input_pipelines import synthetic

_HAS_TF = importlib.util.find_spec('tensorflow') is not None


def _index_load(indices, rng):
  """A loader that exposes what batching decided: indices and rng draws."""
  out = {'index': np.asarray(indices, np.int64)}
  if rng is not None:
    out['draw'] = rng.random(len(indices))
  return out


def _take(it, n):
  return [next(it) for _ in range(n)]


def _assert_streams_equal(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x.keys() == y.keys()
    for k in x:
      np.testing.assert_array_equal(x[k], y[k])


# ------------------------------------------------------------------ batching


def test_train_stream_is_deterministic_in_seed():
  kw = dict(global_batch_size=16, host=HostShard(0, 1))
  a = _take(batching.train_batches(100, _index_load, seed=3, **kw), 20)
  b = _take(batching.train_batches(100, _index_load, seed=3, **kw), 20)
  c = _take(batching.train_batches(100, _index_load, seed=4, **kw), 20)
  _assert_streams_equal(a, b)
  assert not np.array_equal(np.concatenate([x['index'] for x in a]),
                            np.concatenate([x['index'] for x in c]))
  # Each batch gets its own augmentation stream.
  assert not np.array_equal(a[0]['draw'], a[1]['draw'])


@pytest.mark.parametrize('num_hosts', [1, 2, 4])
@pytest.mark.parametrize('num_examples,gbs', [(96, 16), (50, 16), (10, 24)])
def test_every_example_once_per_epoch_across_hosts(num_examples, gbs,
                                                   num_hosts):
  steps = 3 * num_examples // gbs + 2
  per_host = [
      _take(batching.train_batches(num_examples, _index_load,
                                   global_batch_size=gbs, seed=7,
                                   host=HostShard(h, num_hosts)), steps)
      for h in range(num_hosts)]
  single = _take(batching.train_batches(num_examples, _index_load,
                                        global_batch_size=gbs, seed=7), steps)
  stream = []
  for step in range(steps):
    joined = np.concatenate([per_host[h][step]['index']
                             for h in range(num_hosts)])
    assert all(len(per_host[h][step]['index']) == gbs // num_hosts
               for h in range(num_hosts))
    # Host slices concatenate to the single-host global batch.
    np.testing.assert_array_equal(joined, single[step]['index'])
    stream.append(joined)
  stream = np.concatenate(stream)
  # Epochs run back to back (partial batches borrow from the next epoch).
  for epoch in range(len(stream) // num_examples):
    chunk = stream[epoch * num_examples:(epoch + 1) * num_examples]
    np.testing.assert_array_equal(np.sort(chunk), np.arange(num_examples))
    np.testing.assert_array_equal(
        chunk, batching.epoch_permutation(num_examples, 7, epoch))


def test_start_step_equals_skipping_and_threads_change_nothing():
  kw = dict(global_batch_size=12, seed=11, host=HostShard(1, 3))
  full = _take(batching.train_batches(37, _index_load, **kw), 25)
  resumed = _take(batching.train_batches(37, _index_load, start_step=9, **kw),
                  16)
  _assert_streams_equal(full[9:], resumed)
  threaded = _take(batching.train_batches(37, _index_load, num_threads=3,
                                          prefetch=1, **kw), 25)
  _assert_streams_equal(full, threaded)
  np.testing.assert_array_equal(
      full[5]['index'], batching.train_batch_indices(37, 5, **kw))


def test_bad_sharding_arguments_raise():
  with pytest.raises(ValueError, match='divisible by host_count'):
    batching.train_batches(10, _index_load, global_batch_size=10, seed=0,
                           host=HostShard(0, 4))
  with pytest.raises(ValueError, match='host_index'):
    batching.eval_batches(10, _index_load, global_batch_size=8,
                          host=HostShard(2, 2))
  with pytest.raises(ValueError, match='seed'):
    batching.train_batches(10, _index_load, global_batch_size=2, seed=-1)


@pytest.mark.parametrize('num_hosts', [1, 2, 4])
@pytest.mark.parametrize('num_examples,gbs', [(103, 16), (64, 16), (3, 8)])
def test_eval_covers_each_example_once(num_examples, gbs, num_hosts):
  expected = batching.num_eval_batches(num_examples, gbs)
  per_host = [
      list(batching.eval_batches(num_examples, _index_load,
                                 global_batch_size=gbs,
                                 host=HostShard(h, num_hosts),
                                 num_threads=h % 2))
      for h in range(num_hosts)]
  assert [len(b) for b in per_host] == [expected] * num_hosts
  real, total_mask = [], 0.0
  for step in range(expected):
    for h in range(num_hosts):
      batch = per_host[h][step]
      assert batch['mask'].dtype == np.float32
      assert batch['index'].shape == batch['mask'].shape == (gbs // num_hosts,)
      assert 'draw' not in batch  # Eval loads get no rng.
      real.append(batch['index'][batch['mask'] == 1])
      np.testing.assert_array_equal(batch['index'][batch['mask'] == 0], 0)
      total_mask += batch['mask'].sum()
  # In order, each exactly once.
  np.testing.assert_array_equal(np.concatenate(real), np.arange(num_examples))
  assert total_mask == num_examples


# ----------------------------------------------------------------- image_ops


def _jpeg(array):
  buf = io.BytesIO()
  PIL.Image.fromarray(array).save(buf, format='JPEG', quality=95)
  return buf.getvalue()


def test_image_ops_shapes_and_dtypes():
  rng = np.random.default_rng(0)
  rgb = rng.integers(0, 256, (61, 90, 3), dtype=np.uint8)
  for image in (rgb, _jpeg(rgb), rgb[:, :, 0], PIL.Image.fromarray(rgb)):
    train = image_ops.preprocess_for_train(image, rng)
    evals = image_ops.preprocess_for_eval(image, image_size=64)
    assert train.shape == (224, 224, 3) and train.dtype == np.float32
    assert evals.shape == (64, 64, 3) and evals.dtype == np.float32
  assert image_ops.decode_image(_jpeg(rgb)).shape == (61, 90, 3)
  # The std-division option: (x - mean) / std per channel.
  flat = np.full((2, 2, 3), 200, np.uint8)
  np.testing.assert_allclose(
      image_ops.normalize(flat, std=image_ops.STDDEV_RGB)[0, 0],
      (200 - np.array(image_ops.MEAN_RGB)) / np.array(image_ops.STDDEV_RGB),
      rtol=1e-6)


def test_eval_center_crop_on_gradient():
  # Pixel value = column index in channel 0, row index in channel 1. Bilinear
  # resampling of a linear ramp is exact, so expected values are analytic.
  def ramp(h, w):
    img = np.zeros((h, w, 3), np.float32)
    img[..., 0] = np.arange(w)[None, :]
    img[..., 1] = np.arange(h)[:, None]
    return img

  raw = dict(mean=None, std=None)
  # No resize (shorter side already 256): a pure centre crop.
  out = image_ops.preprocess_for_eval(ramp(256, 320), **raw)
  np.testing.assert_array_equal(out[0, :, 0], np.arange(48, 48 + 224))
  np.testing.assert_array_equal(out[:, 0, 1], np.arange(16, 16 + 224))
  # Downscale by 2 (TF1 sampling: output o reads source 2 * o), then crop.
  out = image_ops.preprocess_for_eval(ramp(640, 512), **raw)
  assert image_ops.eval_resize_shape(640, 512) == (320, 256)
  np.testing.assert_allclose(out[0, :, 0], 2 * np.arange(16, 16 + 224))
  np.testing.assert_allclose(out[:, 0, 1], 2 * np.arange(48, 48 + 224))
  # A windowed resize equals resize-then-slice.
  img = np.random.default_rng(1).random((37, 53, 3)).astype(np.float32)
  full = image_ops.resize_bilinear(img, 30, 41)
  np.testing.assert_allclose(
      image_ops.resize_bilinear(img, 30, 41, window=(3, 5, 20, 30)),
      full[3:23, 5:35], rtol=1e-6)


@pytest.mark.parametrize('crop', [image_ops.MLPERF_CROP,
                                  image_ops.INCEPTION_CROP])
def test_random_crop_within_bounds(crop):
  rng = np.random.default_rng(0)
  h, w = 300, 400
  boxes = np.array([image_ops.sample_crop_box(h, w, rng, crop)
                    for _ in range(3000)])
  y, x, ch, cw = boxes.T
  assert np.all((y >= 0) & (x >= 0) & (y + ch <= h) & (x + cw <= w))
  area = ch * cw / (h * w)
  aspect = cw / ch
  # The whole-image "object" must be >= 10 % covered, on top of area_range.
  low = max(crop.area_range[0], crop.min_object_covered)
  assert area.min() >= low and area.max() <= crop.area_range[1]
  lo, hi = crop.aspect_ratio_range
  # Widths are rounded to whole pixels.
  assert np.all(aspect >= lo - 1 / ch) and np.all(aspect <= hi + 1 / ch)
  # Roughly uniform in height: the mean area sits well inside the range, and
  # both ends of the range are reached.
  assert 0.3 < area.mean() < 0.5
  assert area.min() < low + 0.02 and area.max() > 0.9
  # A tiny image cannot fit the constraints: the fallback applies.
  fallback = image_ops.sample_crop_box(2, 2, rng, crop)
  if crop.fallback == 'whole_image':
    assert fallback == (0, 0, 2, 2)
  else:
    assert fallback == image_ops.center_crop_box(2, 2)


# -------------------------------------------------------------------- digits


def test_digits_split_and_batches():
  split = digits.load_digits_split()
  assert split['train_image'].shape == (digits.DIGITS_TRAIN_SAMPLES, 8, 8, 1)
  assert split['eval_image'].shape == (digits.DIGITS_EVAL_SAMPLES, 8, 8, 1)
  assert split['train_image'].dtype == np.float32
  assert abs(float(split['train_image'].mean())) < 1e-4
  assert abs(float(split['train_image'].std()) - 1) < 1e-4
  # Stratified: every class has 35-37 of the 360 eval digits.
  counts = np.bincount(split['eval_label'], minlength=10)
  assert counts.sum() == 360 and counts.min() >= 35 and counts.max() <= 37
  # Fixed: independent of process state and run seeds.
  digits.load_digits_split.cache_clear()
  again = digits.load_digits_split()
  np.testing.assert_array_equal(again['eval_label'], split['eval_label'])
  np.testing.assert_array_equal(again['train_image'], split['train_image'])

  kw = dict(global_batch_size=32, seed=5, host=HostShard(1, 2))
  a = _take(digits.digits_train_batches(**kw), 3)
  b = _take(digits.digits_train_batches(**kw), 3)
  _assert_streams_equal(a, b)
  assert a[0]['image'].shape == (16, 8, 8, 1)
  assert a[0]['label'].dtype == np.int32

  # Augmentation only translates by <= 1 pixel, filling with background.
  plain = _take(digits.digits_train_batches(augment=False, **kw), 1)[0]
  np.testing.assert_array_equal(plain['label'], a[0]['label'])
  fill = -split['mean'] / split['std']
  padded = np.pad(plain['image'], ((0, 0), (1, 1), (1, 1), (0, 0)),
                  constant_values=fill)
  for i in range(16):
    shifts = [padded[i, dy:dy + 8, dx:dx + 8]
              for dy in range(3) for dx in range(3)]
    assert any(np.allclose(a[0]['image'][i], s) for s in shifts)

  evals = list(digits.digits_eval_batches(global_batch_size=100))
  assert len(evals) == 4
  assert sum(float(e['mask'].sum()) for e in evals) == 360


# ----------------------------------------------------------------- synthetic


def test_synthetic_batches():
  spec = {'image': ((4, 8, 8, 3), np.float32, None),
          'label': ((4,), np.int32, 10),
          'weight': ((4,), 'float32', 2.0)}
  it = synthetic.synthetic_train_batches(spec, seed=0, pool=2)
  b0, b1, b2 = _take(it, 3)
  assert b0['image'].shape == (4, 8, 8, 3) and b0['image'].dtype == np.float32
  assert b0['label'].dtype == np.int32
  assert b0['label'].min() >= 0 and b0['label'].max() < 10
  assert 0 <= b0['weight'].min() and b0['weight'].max() < 2
  assert b2 is b0 and b1 is not b0  # Cycles through the pool.
  assert not b0['image'].flags.writeable
  evals = list(synthetic.synthetic_eval_batches(spec, num_batches=3, seed=0))
  assert len(evals) == 3
  np.testing.assert_array_equal(evals[0]['mask'], [1, 1, 1, 1])
  np.testing.assert_array_equal(evals[-1]['mask'], [1, 1, 0, 0])
  with pytest.raises(ValueError, match='maxval'):
    synthetic.synthetic_train_batches({'x': ((2,), np.int32, None)}, seed=0)


# ------------------------------------------------------------------ imagenet


class _TinyImagenet(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A few random JPEGs written exactly as tfds' imagenet2012 5.1.0 layout."""

  name = 'imagenet2012'
  VERSION = tfds.core.Version('5.1.0')
  SIZES = {'train': 13, 'validation': 7}

  def _info(self):
    return tfds.core.DatasetInfo(
        builder=self,
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(encoding_format='jpeg'),
            'label': tfds.features.ClassLabel(num_classes=1000),
            'file_name': tfds.features.Text(),
        }),
        supervised_keys=('image', 'label'))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(split, n)
            for split, n in self.SIZES.items()}

  def _generate_examples(self, split, n):
    rng = np.random.default_rng(len(split))
    for i in range(n):
      shape = (int(rng.integers(20, 70)), int(rng.integers(20, 70)), 3)
      pixels = rng.integers(0, 256, shape, dtype=np.uint8)
      yield f'{split}{i}', {'image': _jpeg(pixels), 'label': 100 + i,
                            'file_name': f'{split}_{i}.JPEG'}


@pytest.fixture(scope='module')
def tiny_imagenet_dir(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp('tfds'))
  _TinyImagenet(data_dir=data_dir,
                file_format='array_record').download_and_prepare()
  return data_dir


def test_imagenet_array_record_without_tensorflow(tiny_imagenet_dir):
  prepared = imagenet.find_prepared_dataset(tiny_imagenet_dir)
  assert prepared.file_format == 'array_record'
  assert imagenet.find_prepared_dataset(prepared.path) == prepared
  batches = _take(imagenet.imagenet_train_batches(
      tiny_imagenet_dir, global_batch_size=8, seed=0, host=HostShard(1, 2),
      image_size=32, num_threads=2), 4)
  for b in batches:
    assert b['image'].shape == (4, 32, 32, 3) and b['image'].dtype == np.float32
    assert b['label'].dtype == np.int32
  # 4 steps x 8 = 32 positions >= 2 epochs of 13: every label seen.
  again = _take(imagenet.imagenet_train_batches(
      tiny_imagenet_dir, global_batch_size=8, seed=0, host=HostShard(1, 2),
      image_size=32, start_step=2, num_threads=0), 2)
  _assert_streams_equal(batches[2:], again)

  evals = [list(imagenet.imagenet_eval_batches(
      tiny_imagenet_dir, global_batch_size=4, host=HostShard(h, 2),
      image_size=32)) for h in range(2)]
  assert len(evals[0]) == len(evals[1]) == 2
  labels = np.concatenate([e['label'][e['mask'] == 1]
                           for step in zip(*evals) for e in step])
  np.testing.assert_array_equal(np.sort(labels), 100 + np.arange(7))
  assert evals[0][0]['image'].shape == (2, 32, 32, 3)


def test_imagenet_with_tfds_mock_data(tmp_path):
  # mock_data replaces the files; our own format check still needs the
  # dataset_info.json of an array_record build.
  version_dir = tmp_path / 'imagenet2012' / '5.1.0'
  version_dir.mkdir(parents=True)
  (version_dir / 'dataset_info.json').write_text(
      json.dumps({'fileFormat': 'array_record'}))
  with tfds.testing.mock_data(num_examples=12):
    train = next(imagenet.imagenet_train_batches(
        str(tmp_path), global_batch_size=4, seed=0, num_threads=0))
    evals = list(imagenet.imagenet_eval_batches(
        str(tmp_path), global_batch_size=8, num_threads=0))
  assert train['image'].shape == (4, 224, 224, 3)
  assert train['image'].dtype == np.float32
  assert train['label'].min() >= 0 and train['label'].max() < 1000
  assert len(evals) == 2 and evals[-1]['image'].shape == (8, 224, 224, 3)
  assert sum(float(e['mask'].sum()) for e in evals) == 12


def test_imagenet_missing_data_is_a_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError, match='does not exist'):
    imagenet.imagenet_train_batches(str(tmp_path / 'nope'),
                                    global_batch_size=8, seed=0)
  with pytest.raises(FileNotFoundError, match='tfds build imagenet2012'):
    imagenet.imagenet_eval_batches(str(tmp_path), global_batch_size=8)


@pytest.mark.skipif(_HAS_TF, reason='TensorFlow installed: tfrecord readable')
def test_imagenet_tfrecord_without_tensorflow_is_a_clear_error(tmp_path):
  version_dir = tmp_path / 'imagenet2012' / '5.1.0'
  version_dir.mkdir(parents=True)
  (version_dir / 'dataset_info.json').write_text(json.dumps({'name': 'x'}))
  (version_dir / 'imagenet2012-train.tfrecord-00000-of-00001').touch()
  assert imagenet.find_prepared_dataset(str(tmp_path)).file_format == 'tfrecord'
  with pytest.raises(imagenet.TensorFlowRequiredError,
                     match=r"(?s)mlperf_jax\[tf\]'.*convert_format"):
    imagenet.imagenet_train_batches(str(tmp_path), global_batch_size=8, seed=0)
  with pytest.raises(ImportError, match='array_record'):
    imagenet.open_split(str(tmp_path), 'validation')
