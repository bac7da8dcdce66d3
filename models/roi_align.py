# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ROIAlign and its multi-level (FPN) pooler, with fixed shapes, in JAX.

Reference: mlcommons/training `object_detection/pytorch/maskrcnn_benchmark`
`csrc/cpu/ROIAlign_cpu.cpp` (the forward kernel) and
`modeling/poolers.py` (`Pooler`, `LevelMapper`). The legacy convention,
`aligned=False`, is what the reference trains with:

* a box `(x1, y1, x2, y2)` in image pixels maps to the feature map as
  `start = x1 * scale`, `end = x2 * scale`, with no half-pixel shift, and its
  size is clamped to at least one feature cell;
* each of the `P x P` bins averages `sampling_ratio x sampling_ratio`
  bilinear samples at `start + (p + (i + 0.5) / S) * bin_size`;
* a sample more than one cell outside the map (`y < -1` or `y > H`) is zero;
  one in `[-1, 0]` is clamped to 0, one past the last row or column reads the
  last row or column.

`aligned=True` (detectron2's ROIAlignV2: a -0.5 shift and no size clamp) is
used for cropping ground-truth bitmasks into mask targets.

Sampling is separable (the y of a sample depends only on its row, the x only
on its column), so each output cell is a sum of four gathered corners with
weights `wy * wx`; the gradient is the matching scatter-add. `FPN` pooling
runs ROIAlign over every level and keeps each box's own level (4x the
gathers, no dynamic shapes).
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp


def _axis_samples(start, size, length: int, pooled: int, ratio: int):
  """Low/high indices and weights of the samples along one axis.

  Args:
    start, size: [R] box start and (clamped) size in feature cells.
    length: the feature map's length along this axis.
    pooled: output bins along the axis.
    ratio: samples per bin.

  Returns:
    (low, high, w_low, w_high, valid), each [R, pooled * ratio].
  """
  bin_size = size / pooled
  p = jnp.arange(pooled, dtype=jnp.float32)
  i = jnp.arange(ratio, dtype=jnp.float32)
  offs = (p[:, None] + (i[None, :] + 0.5) / ratio).reshape(-1)
  c = start[:, None] + offs[None, :] * bin_size[:, None]
  valid = (c >= -1.0) & (c <= length)
  c = jnp.maximum(c, 0.0)
  low = jnp.floor(c).astype(jnp.int32)
  at_end = low >= length - 1
  low = jnp.where(at_end, length - 1, low)
  high = jnp.where(at_end, length - 1, low + 1)
  c = jnp.where(at_end, low.astype(c.dtype), c)
  frac = c - low
  return low, high, 1.0 - frac, frac, valid


def _axis_matrix(low, high, w_low, w_high, valid, length: int, pooled: int,
                 ratio: int):
  """[R, pooled, length]: each bin's average interpolation weights."""
  wl = (w_low * valid)[..., None] * jax.nn.one_hot(low, length)
  wh = (w_high * valid)[..., None] * jax.nn.one_hot(high, length)
  r = low.shape[0]
  return (wl + wh).reshape(r, pooled, ratio, length).mean(axis=2)


def roi_align(features, boxes, output_size: int, spatial_scale: float,
              sampling_ratio: int = 2, aligned: bool = False,
              impl: str = 'gather'):
  """ROIAlign of boxes on one image's feature map.

  Args:
    features: [H, W, C] feature map.
    boxes: [R, 4] (x1, y1, x2, y2) in image pixels.
    output_size: P, the pooled height and width.
    spatial_scale: feature cells per image pixel (1 / stride).
    sampling_ratio: samples per bin along each axis (fixed, > 0).
    aligned: False is the reference's legacy convention (see module doc).
    impl: 'gather' (four gathered corners per sample; the gradient is a
      scatter-add) or 'matmul' (the separable weights as [P, H] and [P, W]
      matrices contracted with the map: the same numbers, and on small maps
      far faster, above all its gradient, on CPU).

  Returns:
    [R, P, P, C] pooled features, in the features' dtype.
  """
  if sampling_ratio <= 0:
    raise ValueError('adaptive sampling (sampling_ratio <= 0) has dynamic '
                     f'shapes; pass a fixed ratio, got {sampling_ratio}')
  h, w, c = features.shape
  boxes = boxes.astype(jnp.float32)
  shift = 0.5 if aligned else 0.0
  x1 = boxes[:, 0] * spatial_scale - shift
  y1 = boxes[:, 1] * spatial_scale - shift
  bw = boxes[:, 2] * spatial_scale - shift - x1
  bh = boxes[:, 3] * spatial_scale - shift - y1
  if not aligned:
    bw, bh = jnp.maximum(bw, 1.0), jnp.maximum(bh, 1.0)
  s = sampling_ratio
  ylo, yhi, wyl, wyh, vy = _axis_samples(y1, bh, h, output_size, s)
  xlo, xhi, wxl, wxh, vx = _axis_samples(x1, bw, w, output_size, s)
  if impl == 'matmul':
    wy = _axis_matrix(ylo, yhi, wyl, wyh, vy, h, output_size, s)
    wx = _axis_matrix(xlo, xhi, wxl, wxh, vx, w, output_size, s)
    f = features.astype(jnp.float32)
    rows = jnp.einsum('rph,hwc->rpwc', wy, f)
    return jnp.einsum('rqw,rpwc->rpqc', wx, rows).astype(features.dtype)
  if impl != 'gather':
    raise ValueError(f"impl must be 'gather' or 'matmul', got {impl!r}")
  flat = features.reshape(h * w, c)
  r = boxes.shape[0]

  def corner(yi, xi, wy, wx):
    idx = yi[:, :, None] * w + xi[:, None, :]          # [R, Ps, Ps]
    wt = (wy * vy)[:, :, None] * (wx * vx)[:, None, :]
    g = jnp.take(flat, idx.reshape(-1), axis=0).reshape(*idx.shape, c)
    return g * wt[..., None].astype(features.dtype)

  total = (corner(ylo, xlo, wyl, wxl) + corner(ylo, xhi, wyl, wxh) +
           corner(yhi, xlo, wyh, wxl) + corner(yhi, xhi, wyh, wxh))
  p = output_size
  total = total.reshape(r, p, s, p, s, c)
  return (total.sum(axis=(2, 4)) / (s * s)).astype(features.dtype)


def box_levels(boxes, min_level: int, max_level: int,
               canonical_scale: float = 224.0, canonical_level: int = 4,
               eps: float = 1e-6):
  """`LevelMapper`: the FPN level of each box, minus `min_level`.

  `floor(canonical_level + log2(sqrt(area) / canonical_scale + eps))`
  clamped to [min_level, max_level], with the legacy +1 area
  `(x2 - x1 + 1) * (y2 - y1 + 1)` (`BoxList.area`, `TO_REMOVE = 1`).
  """
  area = (boxes[..., 2] - boxes[..., 0] + 1) * (boxes[..., 3] - boxes[..., 1]
                                                + 1)
  s = jnp.sqrt(jnp.maximum(area, 0.0))
  lvl = jnp.floor(canonical_level + jnp.log2(s / canonical_scale + eps))
  return (jnp.clip(lvl, min_level, max_level) - min_level).astype(jnp.int32)


def multilevel_roi_align(feature_maps: Sequence, boxes, output_size: int,
                         scales: Sequence[float], sampling_ratio: int = 2,
                         canonical_scale: float = 224.0,
                         canonical_level: int = 4, impl: str = 'gather'):
  """`Pooler` over FPN levels, for a batch.

  Args:
    feature_maps: per level [N, H_l, W_l, C], finest first.
    boxes: [N, R, 4] boxes in image pixels.
    output_size: pooled size P.
    scales: per level spatial scale (1/4, 1/8, ...); the levels are
      `-log2(scale)` (2, 3, ...), as the reference derives them.
    sampling_ratio: samples per bin and axis.
    canonical_scale / canonical_level: `LevelMapper`'s constants.
    impl: see `roi_align`.

  Returns:
    [N, R, P, P, C]: each box pooled from its own level.
  """
  levels = [int(round(-math.log2(s))) for s in scales]
  lvl = box_levels(boxes, levels[0], levels[-1], canonical_scale,
                   canonical_level)
  out = None
  for k, (fmap, scale) in enumerate(zip(feature_maps, scales)):
    pooled = jax.vmap(lambda f, b, sc=scale: roi_align(
        f, b, output_size, sc, sampling_ratio, impl=impl))(fmap, boxes)
    pick = (lvl == k)[..., None, None, None]
    out = jnp.where(pick, pooled, 0 if out is None else out)
  return out
