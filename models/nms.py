# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Fixed-shape, batched, per-class non-maximum suppression in JAX.

Neither JAX nor optax ships NMS. This is the reference SSD post-processing
(mlcommons/training `single_stage_detector/ssd/utils.py`,
`Encoder.decode_single`) with static shapes, so that it runs inside the
jitted eval step:

1. per image and per class `c != background`: keep scores `> score_threshold`
   and take the `max_per_class` highest (the reference's `score.sort()` and
   `[-max_num:]`);
2. greedy suppression over that sorted list: the highest remaining box is
   kept and every box whose IoU with it is not `< iou_threshold` is removed
   (the reference keeps `iou_sorted < criteria`, so a NaN IoU also removes);
3. the kept boxes of all classes are ranked by score and the `max_total`
   highest returned (`max_ids[-max_output:]`).

Step 2 is a `fori_loop` over the `max_per_class` positions, vectorised over
images and classes, on a [B, C, K, K] IoU tensor. Results come back sorted by
descending score with a `valid` mask for the unused slots.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mlperf_jax.models import box_ops


class Detections(NamedTuple):
  """Fixed-size detections per image, best first.

  boxes [B, K, 4] ltrb, scores [B, K], classes [B, K] int32 (the score
  column's index), valid [B, K] bool (False: an empty slot, score 0).
  """
  boxes: jax.Array
  scores: jax.Array
  classes: jax.Array
  valid: jax.Array


def greedy_keep(boxes, valid, iou_threshold: float):
  """Greedy NMS over boxes already sorted by descending score.

  Args:
    boxes: [..., K, 4] ltrb, best first.
    valid: [..., K] bool; invalid boxes are neither kept nor suppress.
    iou_threshold: a kept box removes later boxes with IoU not below it.

  Returns:
    [..., K] bool: the boxes kept.
  """
  k = boxes.shape[-2]
  iou = box_ops.box_iou(boxes, boxes)                     # [..., K, K]
  later = jnp.arange(k)[None, :] > jnp.arange(k)[:, None]  # [K, K]
  # removes[i, j]: box i, if kept, removes box j (j after i).
  removes = ~(iou < iou_threshold) & later

  def body(i, alive):
    kept_i = jnp.take(alive, i, axis=-1)[..., None]
    row = jnp.take(removes, i, axis=-2)
    return alive & ~(kept_i & row)

  return jax.lax.fori_loop(0, k, body, valid)


def batched_nms(boxes, scores, *, score_threshold: float = 0.05,
                iou_threshold: float = 0.5, max_per_class: int = 200,
                max_total: int = 200, background_class: int | None = 0
                ) -> Detections:
  """Per-class NMS of a batch, then the best `max_total` over classes.

  Args:
    boxes: [B, D, 4] ltrb boxes shared by every class (SSD), or
      [B, D, C, 4] class-specific boxes (a Mask R-CNN box head).
    scores: [B, D, C] class probabilities.
    score_threshold: candidates need a score strictly above it.
    iou_threshold: the NMS IoU (0.50 for SSD's COCO eval).
    max_per_class: candidates per class before NMS (`max_num`, 200).
    max_total: detections kept per image (`max_output`, 200).
    background_class: a score column skipped (0), or None.

  Returns:
    `Detections` with K = min(max_total, (C - skipped) * max_per_class).
  """
  b, d, c = scores.shape
  classes = jnp.array([i for i in range(c) if i != background_class],
                      jnp.int32)
  cls_scores = jnp.swapaxes(scores, 1, 2)[:, classes]        # [B, C', D]
  k = min(max_per_class, d)
  masked = jnp.where(cls_scores > score_threshold, cls_scores, -jnp.inf)
  top_scores, top_idx = jax.lax.top_k(masked, k)              # [B, C', K]
  if boxes.ndim == 3:
    cand = jax.vmap(lambda bx, ix: bx[ix])(boxes, top_idx)    # [B, C', K, 4]
  else:
    per_class = jnp.swapaxes(boxes, 1, 2)[:, classes]         # [B, C', D, 4]
    cand = jnp.take_along_axis(per_class, top_idx[..., None], axis=2)
  valid = jnp.isfinite(top_scores)
  keep = greedy_keep(cand, valid, iou_threshold)
  flat_scores = jnp.where(keep, top_scores, -jnp.inf).reshape(b, -1)
  flat_boxes = cand.reshape(b, -1, 4)
  flat_classes = jnp.broadcast_to(classes[None, :, None],
                                  keep.shape).reshape(b, -1)
  total = min(max_total, flat_scores.shape[1])
  best, pick = jax.lax.top_k(flat_scores, total)
  out_valid = jnp.isfinite(best)
  take = lambda x: jnp.take_along_axis(x, pick, axis=1)
  return Detections(
      boxes=jnp.where(out_valid[..., None],
                      jnp.take_along_axis(flat_boxes, pick[..., None], axis=1),
                      0.0),
      scores=jnp.where(out_valid, best, 0.0),
      classes=jnp.where(out_valid, take(flat_classes), 0).astype(jnp.int32),
      valid=out_valid)
