# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Box ops, default boxes and the SSD target encoding against NumPy
transcriptions of the reference (`single_stage_detector/ssd/utils.py`)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.models import box_ops
from mlperf_jax.models import default_boxes


def _np_iou(box1, box2):
  """`calc_iou_tensor`, element by element."""
  out = np.zeros((len(box1), len(box2)))
  for n, a in enumerate(box1):
    for m, b in enumerate(box2):
      dx = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
      dy = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
      inter = dx * dy
      area_a = (a[2] - a[0]) * (a[3] - a[1])
      area_b = (b[2] - b[0]) * (b[3] - b[1])
      out[n, m] = inter / (area_a + area_b - inter)
  return out


def _np_encode(bboxes_in, labels_in, dboxes_ltrb, criteria=0.5):
  """`Encoder.encode`, step by step as the reference (sequential writes)."""
  ious = _np_iou(bboxes_in, dboxes_ltrb)
  best_dbox_ious = ious.max(axis=0)
  best_dbox_idx = ious.argmax(axis=0)
  best_bbox_idx = ious.argmax(axis=1)
  best_dbox_ious[best_bbox_idx] = 2.0
  for idx in range(len(best_bbox_idx)):     # later ground truths win
    best_dbox_idx[best_bbox_idx[idx]] = idx
  masks = best_dbox_ious > criteria
  labels_out = np.zeros(len(dboxes_ltrb), np.int64)
  labels_out[masks] = labels_in[best_dbox_idx[masks]]
  out = dboxes_ltrb.copy()
  out[masks] = bboxes_in[best_dbox_idx[masks]]
  xywh = np.stack([0.5 * (out[:, 0] + out[:, 2]), 0.5 * (out[:, 1] + out[:, 3]),
                   out[:, 2] - out[:, 0], out[:, 3] - out[:, 1]], 1)
  return xywh, labels_out


def _random_boxes(rng, n):
  xy = rng.uniform(0, 0.8, (n, 2))
  wh = rng.uniform(0.02, 0.5, (n, 2))
  return np.concatenate([xy, np.minimum(xy + wh, 1.0)], 1).astype(np.float32)


def test_iou_equals_the_reference_loop():
  rng = np.random.default_rng(0)
  a, b = _random_boxes(rng, 7), _random_boxes(rng, 11)
  b[3] = a[2]  # an identical pair: IoU 1
  got = np.asarray(box_ops.box_iou(a, b))
  np.testing.assert_allclose(got, _np_iou(a, b), rtol=1e-5, atol=1e-7)
  assert got[2, 3] == pytest.approx(1.0)
  assert (got >= 0).all() and (got <= 1 + 1e-6).all()


def test_ssd300_default_boxes_formula_and_order():
  spec = default_boxes.SSD300
  table = default_boxes.default_boxes_xywh(spec)
  assert table.shape == (8732, 4) and spec.num_boxes == 8732
  assert spec.boxes_per_cell == (4, 6, 6, 6, 4, 4)
  # Independent transcription: per map, per size, per cell (row-major).
  expect = []
  for k, f in enumerate(spec.feat_size):
    fk = 300 / spec.steps[k]
    s1, s2 = spec.scales[k] / 300, spec.scales[k + 1] / 300
    sizes = [(s1, s1), (math.sqrt(s1 * s2),) * 2]
    for a in spec.aspect_ratios[k]:
      sizes += [(s1 * math.sqrt(a), s1 / math.sqrt(a)),
                (s1 / math.sqrt(a), s1 * math.sqrt(a))]
    for w, h in sizes:
      for i in range(f):
        for j in range(f):
          expect.append([(j + .5) / fk, (i + .5) / fk, w, h])
  np.testing.assert_allclose(table, np.clip(expect, 0, 1), rtol=1e-6)
  # Spot values: the first box, and the clamp of the 38x38 map's last
  # centre (37.5 / 37.5 = 1.0133 -> 1).
  np.testing.assert_allclose(table[0], [0.5 / 37.5, 0.5 / 37.5, .07, .07],
                             rtol=1e-6)
  assert table[38 * 38 - 1, 0] == 1.0
  # The 1x1 map's last box: aspect 2 transposed, centre 0.5.
  s = 261 / 300
  np.testing.assert_allclose(table[-1], [.5, .5, s / math.sqrt(2),
                                         min(s * math.sqrt(2), 1.0)],
                             rtol=1e-6)
  ltrb = default_boxes.default_boxes_ltrb(spec)
  np.testing.assert_allclose(ltrb[:, :2], table[:, :2] - table[:, 2:] / 2,
                             rtol=1e-6)


def test_bad_default_box_spec_is_rejected():
  with pytest.raises(ValueError, match='scales'):
    default_boxes.DefaultBoxSpec(300, (38, 19), (8, 16), (21, 45),
                                 ((2,), (2,)))


def test_offsets_round_trip_and_equal_the_reference_formula():
  rng = np.random.default_rng(1)
  d = default_boxes.default_boxes_xywh(default_boxes.SSD300)[::97]
  g = box_ops.ltrb_to_xywh(_random_boxes(rng, len(d)))
  enc = np.asarray(box_ops.encode_offsets(g, d))
  g = np.asarray(g)
  np.testing.assert_allclose(enc[:, :2], 10 * (g[:, :2] - d[:, :2]) / d[:, 2:],
                             rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(enc[:, 2:], 5 * np.log(g[:, 2:] / d[:, 2:]),
                             rtol=1e-4, atol=1e-5)
  back = np.asarray(box_ops.decode_offsets(enc, d))
  np.testing.assert_allclose(back, np.asarray(box_ops.xywh_to_ltrb(g)),
                             atol=1e-5)


@pytest.mark.parametrize('num_gt', [1, 3, 9])
def test_match_equals_reference_encoder(num_gt):
  rng = np.random.default_rng(num_gt)
  dltrb = default_boxes.default_boxes_ltrb(default_boxes.SSD300)
  gt = _random_boxes(rng, num_gt)
  if num_gt == 9:
    gt[5] = gt[2]  # two ground truths share their best default box
  labels = rng.integers(1, 81, num_gt)
  want_boxes, want_labels = _np_encode(gt, labels, dltrb)
  # Padded to 12 rows, the padding placed first and last.
  pad = 12 - num_gt
  boxes = np.concatenate([np.zeros((1, 4)), gt, np.zeros((pad - 1, 4))])
  lab = np.concatenate([[7], labels, np.full(pad - 1, 7)])
  valid = np.arange(12) - 1 < num_gt
  valid[0] = False
  got_boxes, got_labels = jax.jit(box_ops.match_ssd)(
      jnp.asarray(boxes, jnp.float32), jnp.asarray(lab),
      jnp.asarray(valid), jnp.asarray(dltrb))
  np.testing.assert_array_equal(np.asarray(got_labels), want_labels)
  np.testing.assert_allclose(np.asarray(got_boxes), want_boxes, atol=1e-6)
  assert (np.asarray(got_labels) > 0).sum() >= len(set(
      np.argmax(_np_iou(gt, dltrb), 1)))


def test_match_without_ground_truth_is_all_background():
  dltrb = default_boxes.default_boxes_ltrb(default_boxes.SSD300)
  boxes, labels = box_ops.match_ssd(
      jnp.zeros((4, 4)), jnp.ones(4, jnp.int32), jnp.zeros(4, bool),
      jnp.asarray(dltrb))
  assert int(jnp.sum(labels)) == 0
  np.testing.assert_allclose(np.asarray(boxes),
                             default_boxes.default_boxes_xywh(
                                 default_boxes.SSD300), atol=1e-6)


def test_format_helpers():
  b = np.array([[0.1, 0.2, 0.4, 0.8]], np.float32)
  np.testing.assert_allclose(np.asarray(box_ops.ltrb_to_coco(b)),
                             [[0.1, 0.2, 0.3, 0.6]], rtol=1e-6)
  assert float(box_ops.area(b)[0]) == pytest.approx(0.18)
  np.testing.assert_allclose(
      np.asarray(box_ops.xywh_to_ltrb(box_ops.ltrb_to_xywh(b))), b, atol=1e-7)
