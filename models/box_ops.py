# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Box arithmetic shared by the detection models: IoU, formats, SSD coding.

Boxes are `[..., 4]` arrays. Two layouts are used, as in the SSD reference
(mlcommons/training `single_stage_detector/ssd/utils.py`):

* 'ltrb': left, top, right, bottom (`x0, y0, x1, y1`);
* 'xywh': centre x, centre y, width, height (the reference's name for the
  centre form; COCO's `[x, y, w, h]` with a corner is `ltrb_to_coco`).

Everything is plain `jax.numpy`, usable inside `jit` and on host arrays.

The SSD target encoding `match_ssd` is the reference's `Encoder.encode`
written over fixed-size, padded ground truth: IoU of every ground-truth box
with every default box, the best default box of each ground truth forced to
it (IoU set to 2.0), then default boxes with IoU > `criteria` become
positives of their best ground truth. `encode_offsets` / `decode_offsets`
are the reference's `Loss._loc_vec` and `Encoder.scale_back_batch`:
`g_xy = (g_xy - d_xy) / (scale_xy * d_wh)`, `g_wh = log(g_wh / d_wh) /
scale_wh` (scale_xy 0.1, scale_wh 0.2 for SSD300).
"""

from __future__ import annotations

import jax.numpy as jnp

# The reference's DefaultBoxes(scale_xy=0.1, scale_wh=0.2).
SCALE_XY = 0.1
SCALE_WH = 0.2


def ltrb_to_xywh(boxes):
  """[l, t, r, b] -> [cx, cy, w, h]."""
  l, t, r, b = jnp.moveaxis(boxes, -1, 0)
  return jnp.stack([(l + r) * 0.5, (t + b) * 0.5, r - l, b - t], axis=-1)


def xywh_to_ltrb(boxes):
  """[cx, cy, w, h] -> [l, t, r, b]."""
  cx, cy, w, h = jnp.moveaxis(boxes, -1, 0)
  return jnp.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h],
                   axis=-1)


def ltrb_to_coco(boxes):
  """[l, t, r, b] -> COCO's [x, y, w, h] (top-left corner and size)."""
  l, t, r, b = jnp.moveaxis(boxes, -1, 0)
  return jnp.stack([l, t, r - l, b - t], axis=-1)


def area(boxes):
  """Area of ltrb boxes (negative extents count as zero)."""
  wh = jnp.maximum(boxes[..., 2:] - boxes[..., :2], 0.0)
  return wh[..., 0] * wh[..., 1]


def box_iou(a, b):
  """IoU matrix of ltrb boxes: a [..., N, 4], b [..., M, 4] -> [..., N, M].

  As the reference's `calc_iou_tensor`: intersection over
  `area_a + area_b - intersection`, with the areas taken as `(r-l)*(b-t)`
  (a degenerate box gives 0/0 = NaN against another degenerate box; padded
  inputs should be masked by the caller).
  """
  lt = jnp.maximum(a[..., :, None, :2], b[..., None, :, :2])
  rb = jnp.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
  wh = jnp.maximum(rb - lt, 0.0)
  inter = wh[..., 0] * wh[..., 1]
  da = a[..., 2:] - a[..., :2]
  db = b[..., 2:] - b[..., :2]
  area_a = (da[..., 0] * da[..., 1])[..., :, None]
  area_b = (db[..., 0] * db[..., 1])[..., None, :]
  return inter / (area_a + area_b - inter)


def encode_offsets(boxes_xywh, defaults_xywh, scale_xy: float = SCALE_XY,
                   scale_wh: float = SCALE_WH):
  """Regression targets of centre-form boxes against default boxes.

  The reference's `Loss._loc_vec`: `(g_xy - d_xy) / d_wh / scale_xy` and
  `log(g_wh / d_wh) / scale_wh`. Shapes broadcast: [..., D, 4] with [D, 4].
  """
  gxy = (boxes_xywh[..., :2] - defaults_xywh[..., :2]) / (
      defaults_xywh[..., 2:] * scale_xy)
  gwh = jnp.log(boxes_xywh[..., 2:] / defaults_xywh[..., 2:]) / scale_wh
  return jnp.concatenate([gxy, gwh], axis=-1)


def decode_offsets(offsets, defaults_xywh, scale_xy: float = SCALE_XY,
                   scale_wh: float = SCALE_WH):
  """Predicted offsets [..., D, 4] -> ltrb boxes (`scale_back_batch`)."""
  xy = offsets[..., :2] * scale_xy * defaults_xywh[..., 2:] + (
      defaults_xywh[..., :2])
  wh = jnp.exp(offsets[..., 2:] * scale_wh) * defaults_xywh[..., 2:]
  return xywh_to_ltrb(jnp.concatenate([xy, wh], axis=-1))


def match_ssd(gt_boxes, gt_labels, gt_valid, defaults_ltrb,
              criteria: float = 0.5):
  """The reference SSD target assignment (`Encoder.encode`), one image.

  Args:
    gt_boxes: [G, 4] ltrb ground-truth boxes (padded).
    gt_labels: [G] int class ids (1..C-1; 0 is background).
    gt_valid: [G] bool, False for padding rows.
    defaults_ltrb: [D, 4] default boxes.
    criteria: IoU above which a default box is a positive (0.5).

  Returns:
    (boxes [D, 4] centre-form targets, labels [D] int32): positives carry
    their ground truth's box and label; the others carry their own default
    box and label 0, exactly as the reference returns them.

  The reference's ties: each ground truth's best default box is the first
  maximum of its IoU row; when two ground truths share a best default box,
  the later one wins (the reference assigns them in order); every default
  box's best ground truth is the first maximum of its IoU column.
  """
  num_gt = gt_boxes.shape[0]
  iou = box_iou(gt_boxes, defaults_ltrb)                     # [G, D]
  # Padding rows never win: -1 is below any real IoU.
  iou = jnp.where(gt_valid[:, None], jnp.nan_to_num(iou, nan=0.0), -1.0)
  best_gt_iou = jnp.max(iou, axis=0)                         # [D]
  best_gt = jnp.argmax(iou, axis=0)                          # [D]
  best_default = jnp.argmax(iou, axis=1)                     # [G]
  d = defaults_ltrb.shape[0]
  forced = (best_default[:, None] == jnp.arange(d)[None, :]) & gt_valid[:, None]
  gt_index = jnp.arange(num_gt)[:, None]
  forced_gt = jnp.max(jnp.where(forced, gt_index, -1), axis=0)  # last wins
  is_forced = forced_gt >= 0
  best_gt = jnp.where(is_forced, forced_gt, best_gt)
  best_gt_iou = jnp.where(is_forced, 2.0, best_gt_iou)
  positive = best_gt_iou > criteria
  labels = jnp.where(positive, gt_labels[best_gt], 0).astype(jnp.int32)
  boxes = jnp.where(positive[:, None], gt_boxes[best_gt], defaults_ltrb)
  return ltrb_to_xywh(boxes), labels
