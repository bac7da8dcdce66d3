# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The mini U-Net's data: generated CT-like volumes with exact labels.

Each volume is a cube of side `size` with three classes, as KiTS19:

* kidney (1): `skimage.data.binary_blobs` (blob size fraction 0.3, volume
  fraction 0.12), a few smooth, irregular connected blobs;
* tumour (2): one or two spheres of radius 4-7 voxels centred on kidney
  voxels, clipped to the kidney dilated by one voxel;
* background (0): the rest, crossed by three thin straight tubes
  ("vessels", radius 0.8-1.3 voxels) as bright as the kidney, kept two
  voxels away from it.

The difficulty is structured, so that neither a per-voxel threshold nor a
threshold on a smoothed volume solves it, while a network that sees shape,
texture and context does:

* the tumour is hypodense (0.5, between the background's 0 and the
  kidney's 1.0, as a blurred kidney edge is) with a correlated texture
  (sigma 0.4): only its position inside the kidney tells it from an edge;
* the vessels have the kidney's intensity and differ only by their shape;
* a smooth multiplicative bias field (+-0.4) and a smooth additive one
  (+-0.6, both low-pass random fields) make any global threshold wrong
  somewhere in the volume; only local contrast is reliable.

Then white noise (sigma 0.3), a blur (sigma 0.6) and a per-volume
standardisation. The trivial baselines (a two-threshold classifier per voxel,
fitted on training volumes or tuned on the eval volumes, raw or smoothed:
`tests/workloads/test_unet3d_workload.py`) score a mean DICE of 0.48 on the
mini's 32^3 eval volumes (kidney 0.85, tumour 0.12). The volumes are a pure
function of (split seed, index): the split never depends on a run's seed.
Nothing here is KiTS19 data; a run on it is not an MLPerf result.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

# Fixed seeds of the train and eval splits (never a run's seed).
TRAIN_SEED = 20261201
EVAL_SEED = 20261202
_KIDNEY, _TUMOUR = 1, 2
_VESSELS = 3
# Tumour intensity below the kidney's (hypodense) and its texture; the
# amplitudes of the bias fields and of the white noise.
_TUMOUR_OFFSET = -0.5
_TEXTURE = 0.4
_GAIN_BIAS = 0.4
_OFFSET_BIAS = 0.6
_NOISE = 0.3
_RADII = (4.0, 7.0)


def _smooth_field(rng: np.random.Generator, size: int, sigma: float
                  ) -> np.ndarray:
  """A low-pass random field on [size]^3, scaled to max |f| = 1."""
  f = ndimage.gaussian_filter(rng.standard_normal((size,) * 3), sigma)
  return f / max(np.abs(f).max(), 1e-12)


def _tubes(rng: np.random.Generator, grid: np.ndarray, count: int
           ) -> np.ndarray:
  """`count` straight tubes of radius 0.8-1.3 through random points."""
  size = grid.shape[0]
  out = np.zeros(grid.shape[:3], bool)
  for _ in range(count):
    a = rng.uniform(0, size, 3)
    d = rng.standard_normal(3)
    d /= np.linalg.norm(d)
    rel = grid - a
    dist = np.linalg.norm(rel - (rel @ d)[..., None] * d, axis=-1)
    out |= dist <= rng.uniform(0.8, 1.3)
  return out


def make_case(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """One volume: (image float32 [size]^3, label uint8 [size]^3)."""
  from skimage import data as skdata  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(seed)
  kidney = skdata.binary_blobs(size, blob_size_fraction=0.3, n_dim=3,
                               volume_fraction=0.12,
                               rng=int(rng.integers(2**31)))
  label = kidney.astype(np.uint8) * _KIDNEY
  grid = np.stack(np.meshgrid(*[np.arange(size)] * 3, indexing='ij'), -1)
  allowed = ndimage.binary_dilation(kidney, iterations=1)
  voxels = np.argwhere(kidney)
  for _ in range(int(rng.integers(1, 3))):
    if not len(voxels):
      break
    c = voxels[rng.integers(len(voxels))]
    r = rng.uniform(*_RADII)
    sphere = np.sum((grid - c)**2, -1) <= r * r
    label[sphere & allowed] = _TUMOUR
  vessels = _tubes(rng, grid, _VESSELS) & ~ndimage.binary_dilation(
      label > 0, iterations=2)
  image = np.where(vessels | (label > 0), 1.0, 0.0)
  image += _TUMOUR_OFFSET * (label == _TUMOUR)
  texture = ndimage.gaussian_filter(rng.standard_normal(label.shape), 0.7)
  image += np.where(label == _TUMOUR, _TEXTURE / texture.std() * texture, 0.)
  image = (image * (1.0 + _GAIN_BIAS * _smooth_field(rng, size, size / 6))
           + _OFFSET_BIAS * _smooth_field(rng, size, size / 5))
  image = ndimage.gaussian_filter(image + rng.normal(0.0, _NOISE, image.shape),
                                  0.6)
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
