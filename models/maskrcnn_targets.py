# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mask R-CNN's non-learned parts, with fixed shapes: anchors, the legacy box
coder and IoU, matching, sampling, proposals, RoI and mask targets.

Reference: mlcommons/training `object_detection/pytorch/maskrcnn_benchmark/`
(maskrcnn-benchmark), file by file:

* `modeling/rpn/anchor_generator.py`: one size per FPN level, three aspect
  ratios around a `stride x stride` base box, rounded (NumPy's half-to-even
  `np.round`), shifted over the padded feature grid, location-major order;
  anchors past the (unpadded) image border are not visible (`straddle_thresh`
  0) and are ignored by the RPN loss.
* `modeling/box_coder.py`: the legacy "+1" widths (`TO_REMOVE = 1`), weights
  (1, 1, 1, 1) for the RPN and (10, 10, 5, 5) for the box head, `dw`/`dh`
  clipped at `bbox_xform_clip = log(1000 / 16)`; decoded `x2 = cx + w/2 - 1`.
* `structures/boxlist_ops.py` `boxlist_iou`: +1 areas and intersections; the
  NMS kernel (`csrc/cpu/nms_cpu.cpp`) uses the same +1 IoU, suppressing when
  IoU > threshold.
* `modeling/matcher.py` `Matcher`: max IoU per prediction, below the low
  threshold -1, between the thresholds -2, and (RPN only) the
  `allow_low_quality_matches` step restoring, for each GT, every prediction
  that ties its best IoU.
* `modeling/balanced_positive_negative_sampler.py`: `int(B * fraction)`
  positives at most, negatives fill the rest of `B`, each a uniformly random
  subset (here: the candidates of highest random priority, the same law).
* `modeling/rpn/inference.py` `RPNPostProcessor`: per level the pre-NMS top
  N by objectness, decode, clip to the image, NMS 0.7; in training
  `select_over_all_levels` keeps the post-NMS top N over **all images of the
  per-GPU batch together** (here over groups of `num_image_candidates /
  1000` images; see `mlperf_jax/hparams/maskrcnn.py`), in test the top N per
  image; GT boxes are then added to the training proposals.
* `modeling/roi_heads/box_head/loss.py` and `mask_head/loss.py`: RoI
  matching at 0.5 without low-quality matches, 512 RoIs at 25 % positives,
  mask targets of positive RoIs cropped from their matched GT's mask.

Mask targets come from bitmasks, as the rules allow ("polygons or
bitmasks", `training_rules.adoc`): each GT's mask is an `M x M` grid over a
frame box (its own box, or the whole image) and the 28 x 28 target of an RoI
is the mask sampled bilinearly at the target cells' centres (detectron2's
`BitMasks.crop_and_resize`, ROIAlignV2), thresholded at 0.5.
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

BBOX_XFORM_CLIP = math.log(1000.0 / 16)
BELOW_LOW = -1
BETWEEN = -2


# ---- anchors (host side: shapes are static) ---------------------------------

def base_anchors(stride: int, size: float, ratios: Sequence[float]
                 ) -> np.ndarray:
  """[len(ratios), 4] anchors of one level around `(0, 0, stride-1,
  stride-1)` (`generate_anchors` -> `_ratio_enum` -> `_scale_enum`)."""
  anchor = np.array([0, 0, stride - 1, stride - 1], np.float64)

  def whctrs(a):
    w, h = a[2] - a[0] + 1, a[3] - a[1] + 1
    return w, h, a[0] + 0.5 * (w - 1), a[1] + 0.5 * (h - 1)

  def mk(ws, hs, cx, cy):
    ws, hs = np.asarray(ws)[:, None], np.asarray(hs)[:, None]
    return np.hstack([cx - 0.5 * (ws - 1), cy - 0.5 * (hs - 1),
                      cx + 0.5 * (ws - 1), cy + 0.5 * (hs - 1)])

  w, h, cx, cy = whctrs(anchor)
  ratios = np.asarray(ratios, np.float64)
  ws = np.round(np.sqrt(w * h / ratios))
  hs = np.round(ws * ratios)
  by_ratio = mk(ws, hs, cx, cy)
  scale = size / stride
  out = []
  for a in by_ratio:
    w, h, cx, cy = whctrs(a)
    out.append(mk([w * scale], [h * scale], cx, cy)[0])
  return np.stack(out).astype(np.float32)


def grid_anchors(stride: int, size: float, ratios: Sequence[float],
                 feat_h: int, feat_w: int) -> np.ndarray:
  """[feat_h * feat_w * A, 4] anchors in (y, x, anchor) order."""
  base = base_anchors(stride, size, ratios)
  sy, sx = np.meshgrid(np.arange(feat_h) * stride, np.arange(feat_w) * stride,
                       indexing='ij')
  shifts = np.stack([sx, sy, sx, sy], -1).reshape(-1, 1, 4)
  return (shifts + base[None]).reshape(-1, 4).astype(np.float32)


def visible(anchors, image_hw):
  """Anchors inside the image (`straddle_thresh = 0`): [..., A] bool."""
  h, w = image_hw[..., 0:1], image_hw[..., 1:2]
  return ((anchors[..., 0] >= 0) & (anchors[..., 1] >= 0) &
          (anchors[..., 2] < w) & (anchors[..., 3] < h))


# ---- boxes (legacy +1 convention) -------------------------------------------

def box_iou(a, b):
  """[..., A, B] IoU with the +1 areas of `boxlist_iou`."""
  area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
  area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
  lt = jnp.maximum(a[..., :, None, :2], b[..., None, :, :2])
  rb = jnp.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
  wh = jnp.maximum(rb - lt + 1, 0.0)
  inter = wh[..., 0] * wh[..., 1]
  union = area_a[..., :, None] + area_b[..., None, :] - inter
  return inter / jnp.maximum(union, 1e-9)


def _sizes_and_centres(boxes):
  """(w, h, cx, cy) with the +1 widths (`TO_REMOVE = 1`)."""
  w = boxes[..., 2] - boxes[..., 0] + 1
  h = boxes[..., 3] - boxes[..., 1] + 1
  return w, h, boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h


def encode(gt, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
  """`BoxCoder.encode`: targets of `gt` relative to `anchors`, [..., 4]."""
  wx, wy, ww, wh = weights
  aw, ah, ax, ay = _sizes_and_centres(anchors)
  gw, gh, gx, gy = _sizes_and_centres(gt)
  return jnp.stack([wx * (gx - ax) / aw, wy * (gy - ay) / ah,
                    ww * jnp.log(gw / aw), wh * jnp.log(gh / ah)], -1)


def decode(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
  """`BoxCoder.decode`: boxes from `deltas` [..., 4] on `anchors`."""
  wx, wy, ww, wh = weights
  aw, ah, ax, ay = _sizes_and_centres(anchors)
  dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
  dw = jnp.minimum(deltas[..., 2] / ww, BBOX_XFORM_CLIP)
  dh = jnp.minimum(deltas[..., 3] / wh, BBOX_XFORM_CLIP)
  cx, cy = dx * aw + ax, dy * ah + ay
  w, h = jnp.exp(dw) * aw, jnp.exp(dh) * ah
  return jnp.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w - 1,
                    cy + 0.5 * h - 1], -1)


def clip_to_image(boxes, image_hw):
  """`BoxList.clip_to_image`: x in [0, w - 1], y in [0, h - 1]; `image_hw`
  [..., 2] broadcasts against `boxes.shape[:-1]`."""
  h = image_hw[..., 0].astype(boxes.dtype)
  w = image_hw[..., 1].astype(boxes.dtype)
  return jnp.stack([jnp.clip(boxes[..., 0], 0, w - 1),
                    jnp.clip(boxes[..., 1], 0, h - 1),
                    jnp.clip(boxes[..., 2], 0, w - 1),
                    jnp.clip(boxes[..., 3], 0, h - 1)], -1)


def smooth_l1(x, y, beta: float):
  """Elementwise `smooth_l1_loss` of maskrcnn-benchmark (summed by callers)."""
  n = jnp.abs(x - y)
  return jnp.where(n < beta, 0.5 * n * n / beta, n - 0.5 * beta)


# ---- NMS (fixed shape, legacy IoU) ------------------------------------------

def nms_keep(boxes, scores, valid, threshold: float):
  """Greedy NMS over [K] boxes: the kept mask, in the input order.

  The kept set is the fixed point of `keep[i] = valid[i] and no kept j
  ranked before i has IoU(j, i) > threshold`; iterating it from `valid`
  settles one more rank per pass, so a `while_loop` stops at the greedy
  result after as many passes as the longest suppression chain.
  """
  k = boxes.shape[0]
  order = jnp.argsort(-jnp.where(valid, scores, -jnp.inf))
  b, v = boxes[order], valid[order]
  over = box_iou(b, b) > threshold
  earlier = jnp.arange(k)[:, None] < jnp.arange(k)[None, :]
  sup = over & earlier & v[:, None]

  def step(state):
    keep, _ = state
    new = v & ~jnp.any(sup & keep[:, None], axis=0)
    return new, jnp.any(new != keep)

  keep, _ = jax.lax.while_loop(lambda s: s[1], step, (v, jnp.bool_(True)))
  return jnp.zeros(k, bool).at[order].set(keep)


# ---- matching and sampling --------------------------------------------------

def match(iou, gt_valid, high: float, low: float,
          allow_low_quality: bool):
  """`Matcher` over iou [G, P] with padded GT rows (`gt_valid` [G]).

  Returns [P] int32: the matched GT index, BELOW_LOW or BETWEEN.
  """
  iou = jnp.where(gt_valid[:, None], iou, -1.0)
  vals = jnp.max(iou, axis=0)
  all_matches = jnp.argmax(iou, axis=0).astype(jnp.int32)
  m = jnp.where(vals < low, BELOW_LOW,
                jnp.where(vals < high, BETWEEN, all_matches))
  if allow_low_quality:
    best = jnp.max(iou, axis=1, keepdims=True)
    ties = jnp.any((iou == best) & gt_valid[:, None], axis=0)
    m = jnp.where(ties, all_matches, m)
  return m


def sample(rng, labels, batch: int, positive_fraction: float):
  """`BalancedPositiveNegativeSampler` for one image.

  Args:
    rng: PRNG key.
    labels: [P] 1 positive, 0 negative, -1 ignored.
    batch, positive_fraction: the sampler's constants.

  Returns:
    (pos [P] bool, neg [P] bool): the sampled positives and negatives.
  """
  u = jax.random.uniform(rng, labels.shape)
  pos, neg = labels == 1, labels == 0
  num_pos = jnp.minimum(jnp.sum(pos), int(batch * positive_fraction))
  num_neg = jnp.minimum(jnp.sum(neg), batch - num_pos)

  def first(mask, n):
    key = jnp.where(mask, u, -1.0)
    rank = jnp.argsort(jnp.argsort(-key))
    return mask & (rank < n)

  return first(pos, num_pos), first(neg, num_neg)


def sampled_slots(pos, neg, size: int):
  """Indices [size] of the sampled candidates, positives first, and their
  validity; `size` >= the sampler's batch."""
  key = pos * 2.0 + neg * 1.0 - 1.0 + 0.5 * (1.0 - jnp.arange(
      pos.shape[0]) / pos.shape[0])
  _, idx = jax.lax.top_k(key, size)
  return idx, (pos | neg)[idx]


# ---- proposals --------------------------------------------------------------

def level_proposals(logits, deltas, anchors, image_hw, pre_nms_top_n: int,
                    nms_threshold: float):
  """`forward_for_single_feature_map` for a batch.

  Args:
    logits: [N, A] objectness logits; deltas [N, A, 4]; anchors [A, 4].
    image_hw: [N, 2] unpadded image sizes.

  Returns:
    (boxes [N, K, 4], scores [N, K] sigmoid, valid [N, K]) with K =
    min(pre_nms_top_n, A); suppressed boxes are invalid.
  """
  k = min(pre_nms_top_n, logits.shape[1])
  top, idx = jax.lax.top_k(logits, k)
  d = jnp.take_along_axis(deltas, idx[..., None], axis=1)
  boxes = decode(d, anchors[idx])
  boxes = clip_to_image(boxes, image_hw[:, None, :])
  scores = jax.nn.sigmoid(top)
  ok = ((boxes[..., 2] - boxes[..., 0] + 1 >= 0) &
        (boxes[..., 3] - boxes[..., 1] + 1 >= 0))
  keep = jax.vmap(nms_keep, in_axes=(0, 0, 0, None))(boxes, scores, ok,
                                                     nms_threshold)
  return boxes, scores, keep


def select_proposals(boxes, scores, valid, top_n: int, group: int):
  """`select_over_all_levels`: top `top_n` over each group of `group`
  consecutive images (training: the per-chip batch; test: `group=1`).

  Args:
    boxes [N, T, 4], scores [N, T], valid [N, T]: every level's proposals.

  Returns:
    (boxes [N, C, 4], valid [N, C]) with C = min(top_n, T): each image's
    selected proposals, highest objectness first.
  """
  n, t = scores.shape
  if n % group:
    raise ValueError(f'{n} images do not split into groups of {group}')
  s = jnp.where(valid, scores, -jnp.inf)
  grouped = s.reshape(n // group, group * t)
  kk = min(top_n, group * t)
  _, idx = jax.lax.top_k(grouped, kk)
  chosen = jnp.zeros(grouped.shape, bool)
  chosen = jax.vmap(lambda c, i: c.at[i].set(True))(chosen, idx)
  chosen = chosen.reshape(n, t) & valid
  c = min(top_n, t)
  _, idx = jax.lax.top_k(jnp.where(chosen, s, -jnp.inf), c)
  return (jnp.take_along_axis(boxes, idx[..., None], axis=1),
          jnp.take_along_axis(chosen, idx, axis=1))


# ---- mask targets -----------------------------------------------------------

def crop_masks(masks, frames, boxes, resolution: int):
  """Masks resampled on a `resolution^2` grid over `boxes`, thresholded.

  Args:
    masks: [R, M, M] float masks, each an M x M grid over its frame.
    frames: [R, 4] continuous (x1, y1, x2, y2) frame of each mask.
    boxes: [R, 4] RoIs; the grid spans (x1, y1) to (x2, y2) with sizes
      clamped to >= 1 (`Polygons.crop`).
    resolution: output size (28).

  Returns:
    [R, resolution, resolution] float32 targets in {0, 1}.
  """
  m = masks.shape[-1]
  padded = jnp.pad(masks.astype(jnp.float32), ((0, 0), (1, 1), (1, 1)))
  j = (jnp.arange(resolution, dtype=jnp.float32) + 0.5) / resolution

  def coords(lo, hi, flo, fhi):
    size = jnp.maximum(hi - lo, 1.0)
    p = lo[:, None] + j[None] * size[:, None]
    u = (p - flo[:, None]) / (fhi - flo)[:, None] * m - 0.5 + 1.0
    u = jnp.clip(u, 0.0, m + 1.0)
    low = jnp.minimum(jnp.floor(u), m).astype(jnp.int32)
    return low, u - low

  ylo, fy = coords(boxes[:, 1], boxes[:, 3], frames[:, 1], frames[:, 3])
  xlo, fx = coords(boxes[:, 0], boxes[:, 2], frames[:, 0], frames[:, 2])

  def one(pm, yl, wy, xl, wx):
    g = lambda a, b: pm[a[:, None], b[None, :]]
    top = g(yl, xl) * (1 - wx) + g(yl, xl + 1) * wx
    bot = g(yl + 1, xl) * (1 - wx) + g(yl + 1, xl + 1) * wx
    return top * (1 - wy)[:, None] + bot * wy[:, None]

  vals = jax.vmap(one)(padded, ylo, fy, xlo, fx)
  return (vals >= 0.5).astype(jnp.float32)
