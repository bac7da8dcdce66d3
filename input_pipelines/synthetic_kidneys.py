# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The mini U-Net's data: generated CT-like volumes with exact labels.

Each volume is a cube of side `size` with three classes, as KiTS19:

* kidney (1): `skimage.data.binary_blobs` (blob size fraction 0.3, volume
  fraction 0.12), a few smooth, irregular connected blobs;
* tumour (2): one or two spheres of radius 3-6 voxels (at side 48; scaled
  with the side) centred on kidney voxels, clipped to the kidney dilated by two voxels;
* background (0): the rest.

Intensities are 0 (background), 1.0 (kidney) and 1.6 (tumour), times a
smooth multiplicative bias field (+-0.5, a low-pass random field), plus
Gaussian noise (sigma 0.7), blurred (sigma 0.6) and standardised per volume,
so neither class is separable by a per-voxel threshold (the best two-threshold
classifier scores a mean DICE of ~0.54) and context matters. The volumes are a
pure function of (split seed, index): the split never depends on a run's
seed. Nothing here is KiTS19 data; a run on it is not an MLPerf result.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

# Fixed seeds of the train and eval splits (never a run's seed).
TRAIN_SEED = 20261201
EVAL_SEED = 20261202
_KIDNEY, _TUMOUR = 1, 2


def make_case(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """One volume: (image float32 [size]^3, label uint8 [size]^3)."""
  from skimage import data as skdata  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(seed)
  kidney = skdata.binary_blobs(size, blob_size_fraction=0.3, n_dim=3,
                               volume_fraction=0.12,
                               rng=int(rng.integers(2**31)))
  label = kidney.astype(np.uint8) * _KIDNEY
  zz, yy, xx = np.meshgrid(*[np.arange(size)] * 3, indexing='ij')
  allowed = ndimage.binary_dilation(kidney, iterations=2)
  voxels = np.argwhere(kidney)
  for _ in range(int(rng.integers(1, 3))):
    if not len(voxels):
      break
    c = voxels[rng.integers(len(voxels))]
    r = rng.uniform(3.0, 6.0) * size / 48
    sphere = ((zz - c[0])**2 + (yy - c[1])**2 + (xx - c[2])**2) <= r * r
    label[sphere & allowed] = _TUMOUR
  image = np.choose(label, [0.0, 1.0, 1.6])
  bias = ndimage.gaussian_filter(rng.standard_normal((size,) * 3), size / 6)
  bias = 0.5 * bias / max(np.abs(bias).max(), 1e-12)
  image = image * (1.0 + bias) + rng.normal(0.0, 0.7, image.shape)
  image = ndimage.gaussian_filter(image, 0.6)
  image = (image - image.mean()) / image.std()
  return image.astype(np.float32), label


@functools.lru_cache(maxsize=4)
def make_split(count: int, size: int, seed: int
               ) -> tuple[np.ndarray, np.ndarray]:
  """`count` cases: (images [count, size^3] float32, labels uint8), cached
  and read-only."""
  ss = np.random.SeedSequence(seed)
  cases = [make_case(size, int(s.generate_state(1)[0]))
           for s in ss.spawn(count)]
  images = np.stack([c[0] for c in cases])
  labels = np.stack([c[1] for c in cases])
  images.flags.writeable = False
  labels.flags.writeable = False
  return images, labels
