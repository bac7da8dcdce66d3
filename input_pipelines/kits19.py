# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""KiTS19 for the 3D U-Net: `prepare` from the raw cases, the training
sampler and augmentations, and the sliding-window eval stream.

Follows mlcommons/training `image_segmentation/pytorch` (v1.1, d0a86d67):

* `preprocess_dataset.py` (our `prepare`, untimed): cases with id < 210;
  resample to spacing (1.6, 1.2, 1.2) mm (image: trilinear with
  `align_corners=True`; label: PyTorch 'nearest', `src = floor(dst * in /
  out)`), with the new shape `int(spacing / target * shape)`; clip HU to
  [-79, 304]; (x - 101) / 76.9; edge-pad each axis to >= 128 (floor half at
  the start); save `case_XXXXX_x.npy` (float32 [1, D, H, W]) and
  `case_XXXXX_y.npy` (uint8), the reference's own layout, so a dataset
  prepared by the reference reads too;
* `data_loader.py`: the 42 cases of `evaluation_cases.txt` are the eval set,
  the other 168 the training set; training draws `samples_per_epoch`
  (168 rounded up to the batch) cases per epoch *with replacement*
  (`RandomSampler(replacement=True)`);
* `pytorch_loader.py`: `RandBalancedCrop` (with probability `oversampling`
  a crop around one of the two largest connected components (by bounding
  box) of a random foreground class, else a uniformly random crop), then
  `RandFlip` (each axis with p 1/3), `RandomBrightnessAugmentation` (p 0.1,
  `image * (1 + U(0.7, 1.3))`, the reference's quirk kept as is) and
  `GaussianNoise` (p 0.1, sigma ~ U(0, 0.1)).

Randomness is a pure function of (seed, step, position in the global
batch): which cases a step trains on is `default_rng((seed, step))`, and each
sample's augmentation has its own `SeedSequence(seed, spawn_key=(step, i))`,
so any number of hosts sees the same global batch and a resumed run the
same stream.

Eval (sliding window, `models/sliding_window.py`): every eval case's window
list, in case order, cut into global batches of `window_batch` windows
(the last one padded with `case == -1`); `mask` is 1 on each case's first
window only, so the masks count cases (the eval samples).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import sys
from typing import Iterator, Protocol, Sequence

import numpy as np
from scipy import ndimage

from mlperf_jax.api import HostShard
from mlperf_jax.models import sliding_window

MAX_ID = 210
TARGET_SPACING = (1.6, 1.2, 1.2)
MIN_SHAPE = (128, 128, 128)
CLIP = (-79.0, 304.0)
MEAN, STD = 101.0, 76.9
TRAIN_CASES = 168
EVAL_CASE_COUNT = 42
# image_segmentation/pytorch/evaluation_cases.txt (42 case ids).
EVAL_CASES: tuple[str, ...] = tuple(f'{i:05d}' for i in (
    0, 3, 5, 6, 12, 24, 34, 41, 44, 49, 52, 56, 61, 65, 66, 70, 76, 78, 80,
    84, 86, 87, 92, 111, 112, 125, 128, 138, 157, 160, 161, 162, 169, 171,
    176, 185, 187, 189, 198, 203, 206, 207))


# ---- prepare (untimed) -------------------------------------------------------

def resample_linear(volume: np.ndarray, shape: Sequence[int]) -> np.ndarray:
  """Trilinear resize with corners aligned (torch `interpolate(...,
  mode='trilinear', align_corners=True)`): output i samples input
  i * (in - 1) / (out - 1)."""
  coords = [np.arange(o, dtype=np.float64) * ((i - 1) / (o - 1) if o > 1 else 0)
            for i, o in zip(volume.shape, shape)]
  grid = np.meshgrid(*coords, indexing='ij')
  return ndimage.map_coordinates(volume.astype(np.float64), grid, order=1,
                                 mode='nearest').astype(np.float32)


def resample_nearest(volume: np.ndarray, shape: Sequence[int]) -> np.ndarray:
  """torch `interpolate(..., mode='nearest')`: output i takes input
  floor(i * in / out)."""
  idx = [np.minimum((np.arange(o) * (i / o)).astype(np.int64), i - 1)
         for i, o in zip(volume.shape, shape)]
  return volume[np.ix_(*idx)]


def prepare_case(image: np.ndarray, label: np.ndarray,
                 spacing: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
  """One raw case (HU image, label, voxel spacing in mm) -> the reference's
  preprocessed (float32 [1, D, H, W], uint8 [1, D, H, W])."""
  spacing = [float(s) for s in spacing]
  image = image.astype(np.float32)
  label = label.astype(np.uint8)
  if spacing != list(TARGET_SPACING):
    shape = (np.array(spacing) / np.array(TARGET_SPACING) *
             np.array(image.shape)).astype(int).tolist()
    image = resample_linear(image, shape)
    label = resample_nearest(label, shape)
  image = (np.clip(image, *CLIP) - MEAN) / STD
  bounds = [max(0, m - s) for m, s in zip(MIN_SHAPE, image.shape)]
  pads = [(b // 2, b - b // 2) for b in bounds]
  image = np.pad(image, pads, mode='edge').astype(np.float32)
  label = np.pad(label, pads, mode='edge').astype(np.uint8)
  return image[None], label[None]


def case_id(name: str) -> int:
  """'case_00042' -> 42."""
  return int(name.split('_')[1])


def prepare(raw_dir: str, out_dir: str, *, log=print) -> list[str]:
  """Preprocesses every raw case `raw_dir/case_XXXXX/{imaging,segmentation}
  .nii.gz` with id < 210 into `out_dir` (see the module docstring). Returns
  the case names written."""
  import nibabel  # pylint: disable=import-outside-toplevel
  cases = sorted(c for c in os.listdir(raw_dir) if c.startswith('case_'))
  if not cases:
    raise ValueError(f'no case_XXXXX folders in {raw_dir}: point it at the '
                     'KiTS19 `data` folder (git clone '
                     'https://github.com/neheller/kits19 and run its '
                     'starter_code/get_imaging.py)')
  os.makedirs(out_dir, exist_ok=True)
  written = []
  for case in cases:
    if case_id(case) >= MAX_ID:
      continue
    img = nibabel.load(os.path.join(raw_dir, case, 'imaging.nii.gz'))
    seg = nibabel.load(os.path.join(raw_dir, case, 'segmentation.nii.gz'))
    spacing = img.header['pixdim'][1:4].tolist()
    x, y = prepare_case(np.asarray(img.get_fdata(), np.float32),
                        np.asarray(seg.get_fdata()).astype(np.uint8), spacing)
    np.save(os.path.join(out_dir, f'{case}_x.npy'), x, allow_pickle=False)
    np.save(os.path.join(out_dir, f'{case}_y.npy'), y, allow_pickle=False)
    log(f'{case}: shape {x.shape[1:]}')
    written.append(case)
  return written


# ---- the prepared dataset ------------------------------------------------------

class Cases(Protocol):
  """A split: `len`, `image(i)` float32 [D, H, W], `label(i)` uint8."""

  def __len__(self) -> int:
    ...

  def image(self, i: int) -> np.ndarray:
    ...

  def label(self, i: int) -> np.ndarray:
    ...


@dataclasses.dataclass(frozen=True)
class ArrayCases:
  """Cases held in memory (the mini data)."""
  images: Sequence[np.ndarray]
  labels: Sequence[np.ndarray]

  def __len__(self):
    return len(self.images)

  def image(self, i):
    return self.images[i]

  def label(self, i):
    return self.labels[i]


@dataclasses.dataclass(frozen=True)
class NpyCases:
  """Prepared KiTS19 cases on disk (memory-mapped `*_x.npy` / `*_y.npy`)."""
  images: tuple[str, ...]
  labels: tuple[str, ...]

  def __len__(self):
    return len(self.images)

  def image(self, i):
    return np.load(self.images[i], mmap_mode='r')[0]

  def label(self, i):
    return np.load(self.labels[i], mmap_mode='r')[0]


def split_problems(data_dir: str) -> list[str]:
  """What is wrong with a prepared KiTS19 folder (empty: nothing)."""
  if not data_dir or not os.path.isdir(data_dir):
    return [f'--data-dir {data_dir!r} is not a folder: prepare KiTS19 with '
            '`python -m mlperf_jax.input_pipelines.kits19 prepare RAW_DIR '
            'OUT_DIR` and pass OUT_DIR']
  xs = sorted(glob.glob(os.path.join(data_dir, 'case_*_x.npy')))
  ys = sorted(glob.glob(os.path.join(data_dir, 'case_*_y.npy')))
  problems = []
  ids_x = {os.path.basename(p).split('_')[1] for p in xs}
  ids_y = {os.path.basename(p).split('_')[1] for p in ys}
  if ids_x != ids_y:
    problems.append(f'{data_dir}: images and labels differ for cases '
                    f'{sorted(ids_x ^ ids_y)[:10]}; rerun `prepare`')
  n_eval = len(ids_x & set(EVAL_CASES))
  n_train = len(ids_x - set(EVAL_CASES))
  if (n_train, n_eval) != (TRAIN_CASES, EVAL_CASE_COUNT):
    problems.append(
        f'{data_dir} holds {n_train} training and {n_eval} evaluation cases; '
        f'the reference split is {TRAIN_CASES} / {EVAL_CASE_COUNT} (all 210 '
        'KiTS19 cases with id < 210, prepared by `python -m '
        'mlperf_jax.input_pipelines.kits19 prepare RAW_DIR OUT_DIR`)')
  return problems


def open_split(data_dir: str, split: str) -> NpyCases:
  """The 'train' or 'eval' cases of a prepared folder, sorted by id."""
  problems = split_problems(data_dir)
  if problems:
    raise ValueError('; '.join(problems))
  xs = sorted(glob.glob(os.path.join(data_dir, 'case_*_x.npy')))
  keep = [p for p in xs if (os.path.basename(p).split('_')[1] in EVAL_CASES)
          == (split == 'eval')]
  return NpyCases(tuple(keep), tuple(p[:-6] + '_y.npy' for p in keep))


# ---- training: sampler and augmentations -------------------------------------------

def samples_per_epoch(num_cases: int, global_batch_size: int) -> int:
  """The reference's `num_samples`: the split rounded up to the batch."""
  return -(-num_cases // global_batch_size) * global_batch_size


def _randrange(rng: np.random.Generator, n: int) -> int:
  return 0 if n == 0 else int(rng.integers(n))


def random_crop(image, label, patch, rng):
  """A uniformly random `patch` crop (`RandBalancedCrop._rand_crop`)."""
  lo = [_randrange(rng, s - p) for s, p in zip(label.shape, patch)]
  sl = tuple(slice(a, a + p) for a, p in zip(lo, patch))
  return image[sl], label[sl]


def foreground_crop(image, label, patch, rng):
  """`RandBalancedCrop.rand_foreg_cropd`: a crop around one of the two
  largest components (by bounding box) of a random foreground class (a
  random crop if the label has no foreground)."""
  classes = np.unique(label[label > 0])
  if not len(classes):
    return random_crop(image, label, patch, rng)
  cl = classes[int(rng.integers(len(classes)))]
  boxes = [b for b in ndimage.find_objects(ndimage.label(label == cl)[0])
           if b is not None]
  volumes = [np.prod([s.stop - s.start for s in b]) for b in boxes]
  boxes = [boxes[i] for i in np.argsort(volumes, kind='stable')[-2:]]
  box = boxes[_randrange(rng, len(boxes))]
  bounds = []
  for ax, (sl, p) in enumerate(zip(box, patch)):
    diff = p - (sl.stop - sl.start)
    sign = -1 if diff < 0 else 1
    diff = abs(diff)
    ladj = _randrange(rng, diff)
    hadj = diff - ladj
    low = max(0, sl.start - sign * ladj)
    high = min(label.shape[ax], sl.stop + sign * hadj)
    diff = p - (high - low)
    if diff > 0 and low == 0:
      high += diff
    elif diff > 0:
      low -= diff
    bounds.append(slice(low, high))
  bounds = tuple(bounds)
  return image[bounds], label[bounds]


def augment(image: np.ndarray, label: np.ndarray, patch: Sequence[int],
            oversampling: float, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
  """One training sample, as the reference's `PytTrain.__getitem__`."""
  if rng.random() < oversampling:
    image, label = foreground_crop(image, label, patch, rng)
  else:
    image, label = random_crop(image, label, patch, rng)
  for axis in range(3):
    if rng.random() < 1 / 3:
      image, label = np.flip(image, axis), np.flip(label, axis)
  image = np.asarray(image, np.float32)
  label = np.asarray(label, np.uint8)
  if rng.random() < 0.1:
    factor = rng.uniform(0.7, 1.3)
    image = (image * (1 + factor)).astype(np.float32)
  if rng.random() < 0.1:
    scale = rng.uniform(0.0, 0.1)
    image = image + rng.normal(0.0, scale, image.shape).astype(np.float32)
  return image, label


def step_cases(num_cases: int, step: int, global_batch_size: int,
               seed: int) -> np.ndarray:
  """The cases of global batch `step` (drawn with replacement)."""
  return np.random.default_rng((seed, step)).integers(
      0, num_cases, global_batch_size)


def sample_rng(seed: int, step: int, position: int) -> np.random.Generator:
  """The augmentation generator of one sample of the global batch."""
  return np.random.default_rng(
      np.random.SeedSequence(seed, spawn_key=(step, position)))


def train_batches(cases: Cases, *, patch: Sequence[int], oversampling: float,
                  global_batch_size: int, seed: int,
                  host: HostShard = HostShard(), start_step: int = 0
                  ) -> Iterator[dict[str, np.ndarray]]:
  """This host's slices of the training batches, forever.

  Yields {'image': float32 [b, P, P, P, 1], 'label': int32 [b, P, P, P]}
  with b = global_batch_size / host.count.
  """
  if global_batch_size % host.count:
    raise ValueError(f'global_batch_size {global_batch_size} is not divisible'
                     f' by {host.count} hosts')
  per_host = global_batch_size // host.count
  step = start_step
  while True:
    ids = step_cases(len(cases), step, global_batch_size, seed)
    images, labels = [], []
    for pos in range(host.index * per_host, (host.index + 1) * per_host):
      x, y = augment(cases.image(int(ids[pos])), cases.label(int(ids[pos])),
                     patch, oversampling, sample_rng(seed, step, pos))
      images.append(x)
      labels.append(y)
    yield {'image': np.stack(images)[..., None],
           'label': np.stack(labels).astype(np.int32)}
    step += 1


# ---- evaluation: windows of whole volumes ---------------------------------------

def eval_plans(cases: Cases, roi: int, overlap: float
               ) -> list[sliding_window.WindowPlan]:
  return [sliding_window.plan_windows(cases.label(i).shape, roi, overlap)
          for i in range(len(cases))]


def num_windows(plans: Sequence[sliding_window.WindowPlan],
                window_batch: int) -> int:
  """Windows of the eval pass, padded to whole global batches."""
  n = sum(len(p.origins) for p in plans)
  return -(-n // window_batch) * window_batch


def eval_batches(cases: Cases, *, roi: int, overlap: float, window_batch: int,
                 host: HostShard = HostShard(),
                 plans: Sequence[sliding_window.WindowPlan] | None = None,
                 pad_value: float = sliding_window.PAD_VALUE
                 ) -> Iterator[dict[str, np.ndarray]]:
  """This host's slices of the eval window batches (see module docstring).

  Yields {'image': float32 [w, R, R, R, 1], 'case': int32 [w] (-1:
  padding), 'origin': int32 [w, 3], 'mask': float32 [w]}.
  """
  if window_batch % host.count:
    raise ValueError(f'eval window batch {window_batch} is not divisible by '
                     f'{host.count} hosts')
  plans = plans if plans is not None else eval_plans(cases, roi, overlap)
  items = [(c, o, j == 0) for c, p in enumerate(plans)
           for j, o in enumerate(p.origins)]
  total = num_windows(plans, window_batch)
  per_host = window_batch // host.count
  padded_cache: dict[int, np.ndarray] = {}

  def window(c, origin):
    if c not in padded_cache:
      padded_cache.clear()
      padded_cache[c] = plans[c].padded_image(
          np.asarray(cases.image(c), np.float32), pad_value)
    return sliding_window.crop_window(padded_cache[c], origin, roi)

  for start in range(0, total, window_batch):
    lo = start + host.index * per_host
    imgs, case, origin, mask = [], [], [], []
    for k in range(lo, lo + per_host):
      if k < len(items):
        c, o, first = items[k]
        imgs.append(window(c, o))
        case.append(c)
        origin.append(o)
        mask.append(1.0 if first else 0.0)
      else:
        imgs.append(np.full((roi,) * 3, pad_value, np.float32))
        case.append(-1)
        origin.append((0, 0, 0))
        mask.append(0.0)
    yield {'image': np.stack(imgs)[..., None].astype(np.float32),
           'case': np.asarray(case, np.int32),
           'origin': np.asarray(origin, np.int32),
           'mask': np.asarray(mask, np.float32)}


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m mlperf_jax.input_pipelines.kits19',
      description='Preprocess raw KiTS19 cases as the MLPerf reference.')
  sub = parser.add_subparsers(dest='command', required=True)
  p = sub.add_parser('prepare', help='raw NIfTI cases -> *_x.npy / *_y.npy')
  p.add_argument('raw_dir', help='the KiTS19 data folder (case_XXXXX/...)')
  p.add_argument('out_dir', help='where the prepared cases go')
  args = parser.parse_args(argv)
  if not os.path.isdir(args.raw_dir):
    print(f'error: {args.raw_dir} is not a folder', file=sys.stderr)
    return 2
  try:
    written = prepare(args.raw_dir, args.out_dir)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  problems = split_problems(args.out_dir)
  print(f'prepared {len(written)} cases into {args.out_dir}')
  for problem in problems:
    print(f'warning: {problem}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
