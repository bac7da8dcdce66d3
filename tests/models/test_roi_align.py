# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ROIAlign against a NumPy transcription of the reference CPU kernel.

The transcription follows mlcommons/training `object_detection/pytorch/
maskrcnn_benchmark/csrc/cpu/ROIAlign_cpu.cpp` (`ROIAlignForward_cpu_kernel`
and `pre_calc_for_bilinear_interpolate`) loop by loop, with `aligned=False`
(no half-pixel offset, RoI size clamped to 1) and a fixed sampling ratio.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from mlperf_jax.models import roi_align as ra


def _bilinear(fmap, y, x):
  h, w = fmap.shape[:2]
  if y < -1.0 or y > h or x < -1.0 or x > w:
    return np.zeros(fmap.shape[2:])
  y, x = max(y, 0.0), max(x, 0.0)
  y_low, x_low = int(y), int(x)
  if y_low >= h - 1:
    y_high = y_low = h - 1
    y = float(y_low)
  else:
    y_high = y_low + 1
  if x_low >= w - 1:
    x_high = x_low = w - 1
    x = float(x_low)
  else:
    x_high = x_low + 1
  ly, lx = y - y_low, x - x_low
  hy, hx = 1 - ly, 1 - lx
  return (hy * hx * fmap[y_low, x_low] + hy * lx * fmap[y_low, x_high] +
          ly * hx * fmap[y_high, x_low] + ly * lx * fmap[y_high, x_high])


def roi_align_reference(fmap, boxes, pooled, scale, ratio):
  out = np.zeros((len(boxes), pooled, pooled, fmap.shape[2]))
  for n, (x1, y1, x2, y2) in enumerate(boxes):
    sw, sh = x1 * scale, y1 * scale
    rw = max(x2 * scale - sw, 1.0)
    rh = max(y2 * scale - sh, 1.0)
    bh, bw = rh / pooled, rw / pooled
    for ph in range(pooled):
      for pw in range(pooled):
        acc = 0
        for iy in range(ratio):
          y = sh + ph * bh + (iy + .5) * bh / ratio
          for ix in range(ratio):
            x = sw + pw * bw + (ix + .5) * bw / ratio
            acc = acc + _bilinear(fmap, y, x)
        out[n, ph, pw] = acc / (ratio * ratio)
  return out


def _random_boxes(rng, n, size):
  # Some far outside the image, some straddling its edges, some degenerate.
  xy = rng.uniform(-0.3 * size, 1.2 * size, (n, 2))
  wh = rng.uniform(0, 0.6 * size, (n, 2))
  wh[:4] = 0.2   # smaller than one feature cell: the size clamp
  boxes = np.concatenate([xy, xy + wh], 1)
  boxes[-1] = [-50, -40, -10, -5]   # entirely off the image
  boxes[-2] = [size + 3, 2, size + 40, 30]
  return boxes.astype(np.float32)


def test_roi_align_matches_the_reference_kernel_including_off_image_boxes():
  rng = np.random.default_rng(0)
  fmap = rng.normal(size=(13, 17, 3)).astype(np.float32)
  boxes = _random_boxes(rng, 40, 68)
  for pooled, scale in ((7, 0.25), (14, 0.25), (7, 0.125)):
    want = roi_align_reference(fmap, boxes, pooled, scale, 2)
    for impl in ('gather', 'matmul'):
      got = ra.roi_align(jnp.asarray(fmap), jnp.asarray(boxes), pooled, scale,
                         2, impl=impl)
      np.testing.assert_allclose(np.asarray(got), want, atol=2e-5)
  # The off-image boxes really pool zeros (and the test could see it).
  assert np.all(want[-1] == 0) and np.abs(want[:-2]).sum() > 0


def test_roi_align_gradient_is_the_transposed_sampling():
  rng = np.random.default_rng(1)
  fmap = jnp.asarray(rng.normal(size=(9, 11, 2)).astype(np.float32))
  boxes = jnp.asarray(_random_boxes(rng, 12, 40))
  cot = jnp.asarray(rng.normal(size=(12, 7, 7, 2)).astype(np.float32))
  f = lambda m: jnp.sum(ra.roi_align(m, boxes, 7, 0.25, 2) * cot)
  g = jax.grad(f)(fmap)
  # ROIAlign is linear in the map: <grad, m> = f(m) for any map m.
  probe = jnp.asarray(rng.normal(size=fmap.shape).astype(np.float32))
  np.testing.assert_allclose(float(jnp.sum(g * probe)), float(f(probe)),
                             rtol=1e-4)


def _level_reference(box, k_min=2, k_max=5):
  x1, y1, x2, y2 = box
  s = math.sqrt((x2 - x1 + 1) * (y2 - y1 + 1))
  lvl = math.floor(4 + math.log2(s / 224 + 1e-6))
  return min(max(lvl, k_min), k_max) - k_min


def test_level_mapper_and_multilevel_pooling_pick_each_boxs_level():
  rng = np.random.default_rng(2)
  sizes = (64, 32, 16, 8)
  maps = [rng.normal(size=(2, s, s, 4)).astype(np.float32) for s in sizes]
  scales = (1 / 4, 1 / 8, 1 / 16, 1 / 32)
  # Sizes around every level boundary (112, 224, 448 with the +1).
  side = np.array([20, 110, 111, 112, 223, 224, 446, 447, 600, 255])
  x = rng.uniform(0, 30, len(side))
  boxes = np.stack([x, x, x + side, x + side], 1).astype(np.float32)
  boxes = np.stack([boxes, boxes[::-1]])
  lv = np.asarray(ra.box_levels(jnp.asarray(boxes), 2, 5))
  assert lv.tolist() == [[_level_reference(b) for b in bb] for bb in boxes]
  assert len(set(lv.ravel())) == 4
  got = np.asarray(ra.multilevel_roi_align(
      [jnp.asarray(m) for m in maps], jnp.asarray(boxes), 7, scales, 2))
  for n in range(2):
    for r in range(len(side)):
      k = lv[n, r]
      want = roi_align_reference(maps[k][n], boxes[n, r:r + 1], 7, scales[k], 2)
      np.testing.assert_allclose(got[n, r], want[0], atol=2e-5)
