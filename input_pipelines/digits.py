# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The mini dataset: scikit-learn's bundled 8x8 handwritten digits.

1,797 real 8x8 grey images (pixel values 0..16) that ship inside scikit-learn
(`sklearn/datasets/data/digits.csv.gz`), so they need no download. The split is
fixed once for the project, independent of any run seed: a stratified 1,437
train / 360 eval split drawn with a constant numpy seed (our own code, so a
scikit-learn upgrade cannot move it). Images are float32 [N, 8, 8, 1],
normalised with the scalar mean and standard deviation of the train pixels.

Training augmentation is a random translation by up to one pixel in each axis,
filling with the background (raw pixel 0); no flips, since digits are not
mirror-symmetric.
"""

from collections.abc import Iterator
import functools

import numpy as np

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import batching

DIGITS_NUM_SAMPLES = 1797
DIGITS_TRAIN_SAMPLES = 1437
DIGITS_EVAL_SAMPLES = 360
DIGITS_NUM_CLASSES = 10
DIGITS_IMAGE_SHAPE = (8, 8, 1)
# Fixed seed of the train/eval split; never tied to a run's seed.
_SPLIT_SEED = 20260101
_MAX_SHIFT = 1


def _stratified_eval_indices(labels: np.ndarray, num_eval: int,
                             seed: int) -> np.ndarray:
  """Picks `num_eval` indices, keeping each class's share of `labels`."""
  rng = np.random.default_rng(seed)
  classes, counts = np.unique(labels, return_counts=True)
  quotas = counts * num_eval / len(labels)
  take = np.floor(quotas).astype(int)
  # Largest remainders get the leftover slots; ties go to the smaller class id.
  order = np.argsort(-(quotas - take), kind='stable')
  take[order[:num_eval - take.sum()]] += 1
  picked = []
  for c, k in zip(classes, take):
    members = np.flatnonzero(labels == c)
    picked.append(rng.permutation(members)[:k])
  return np.sort(np.concatenate(picked))


@functools.lru_cache(maxsize=1)
def load_digits_split() -> dict[str, np.ndarray]:
  """The fixed split, normalised, read-only.

  Returns:
    dict with 'train_image' float32 [1437, 8, 8, 1], 'train_label' int32
    [1437], 'eval_image' float32 [360, 8, 8, 1], 'eval_label' int32 [360],
    and the scalar 'mean' / 'std' (raw-pixel units) used to normalise.
  """
  from sklearn import datasets  # Deferred: sklearn import costs ~1 s.
  raw = datasets.load_digits()
  images = raw.images.astype(np.float64)
  labels = raw.target.astype(np.int32)
  if len(labels) != DIGITS_NUM_SAMPLES:
    raise RuntimeError(f'Expected {DIGITS_NUM_SAMPLES} digits from '
                       f'scikit-learn, got {len(labels)}.')
  eval_idx = _stratified_eval_indices(labels, DIGITS_EVAL_SAMPLES, _SPLIT_SEED)
  train_mask = np.ones(len(labels), bool)
  train_mask[eval_idx] = False
  train_idx = np.flatnonzero(train_mask)
  mean = float(images[train_idx].mean())
  std = float(images[train_idx].std())

  def prep(x: np.ndarray) -> np.ndarray:
    return ((x - mean) / std).astype(np.float32)[..., None]

  split = {
      'train_image': prep(images[train_idx]),
      'train_label': labels[train_idx],
      'eval_image': prep(images[eval_idx]),
      'eval_label': labels[eval_idx],
      'mean': np.float32(mean),
      'std': np.float32(std),
  }
  # Cached and shared by every batch: guard against in-place edits.
  for v in split.values():
    if isinstance(v, np.ndarray):
      v.flags.writeable = False
  return split


def random_translate(images: np.ndarray, rng: np.random.Generator,
                     max_shift: int = _MAX_SHIFT,
                     fill: float = 0.0) -> np.ndarray:
  """Shifts each image [B, H, W, C] by up to `max_shift` pixels per axis.

  Args:
    images: batch of images.
    rng: random generator (one draw of 2 * B shifts).
    max_shift: largest shift in pixels.
    fill: value of the pixels shifted in.

  Returns:
    Translated copy, same shape and dtype.
  """
  b, h, w, _ = images.shape
  p = max_shift
  padded = np.pad(images, ((0, 0), (p, p), (p, p), (0, 0)),
                  constant_values=fill)
  # Offsets into the padded image: p means "no shift".
  dy, dx = rng.integers(0, 2 * p + 1, size=(2, b))
  rows = dy[:, None] + np.arange(h)[None, :]
  cols = dx[:, None] + np.arange(w)[None, :]
  return padded[np.arange(b)[:, None, None], rows[:, :, None],
                cols[:, None, :]]


def _make_load(images: np.ndarray, labels: np.ndarray, augment: bool,
               fill: float):

  def load(indices: np.ndarray, rng: np.random.Generator | None):
    x = images[indices]
    if augment and rng is not None:
      x = random_translate(x, rng, fill=fill)
    return {'image': np.ascontiguousarray(x, np.float32),
            'label': labels[indices].astype(np.int32)}

  return load


def digits_train_batches(
    *, global_batch_size: int, seed: int, host: HostShard = HostShard(),
    start_step: int = 0,
    augment: bool = True) -> Iterator[dict[str, np.ndarray]]:
  """Infinite training stream of `{'image', 'label'}` host batches.

  Args:
    global_batch_size: examples per global batch, over all hosts.
    seed: data seed (order and augmentation).
    host: this host's shard; `host.count` must divide `global_batch_size`.
    start_step: first step to produce (resume).
    augment: random one-pixel translations.

  Returns:
    Iterator of dicts: 'image' float32 [GBS/H, 8, 8, 1], 'label' int32.
  """
  split = load_digits_split()
  # Background (raw 0) in normalised units, so shifted-in pixels look blank.
  fill = float(-split['mean'] / split['std'])
  load = _make_load(split['train_image'], split['train_label'], augment, fill)
  return batching.train_batches(
      DIGITS_TRAIN_SAMPLES, load, global_batch_size=global_batch_size,
      seed=seed, host=host, start_step=start_step)


def digits_eval_batches(*, global_batch_size: int,
                        host: HostShard = HostShard()
                        ) -> Iterator[dict[str, np.ndarray]]:
  """The 360 eval digits once, padded, with `mask` (see `batching`)."""
  split = load_digits_split()
  load = _make_load(split['eval_image'], split['eval_label'], False, 0.0)
  return batching.eval_batches(
      DIGITS_EVAL_SAMPLES, load, global_batch_size=global_batch_size,
      host=host)
