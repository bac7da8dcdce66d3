# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The JAX NMS against a NumPy transcription of the reference loop
(`Encoder.decode_single`, `single_stage_detector/ssd/utils.py`)."""

import jax
import numpy as np
import pytest

from mlperf_jax.models import nms


def _np_iou_one(boxes, box):
  lt = np.maximum(boxes[:, :2], box[:2])
  rb = np.minimum(boxes[:, 2:], box[2:])
  wh = np.clip(rb - lt, 0, None)
  inter = wh[:, 0] * wh[:, 1]
  a = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
  b = (box[2] - box[0]) * (box[3] - box[1])
  with np.errstate(invalid='ignore', divide='ignore'):
    return inter / (a + b - inter)


def _np_decode_single(boxes, scores, criteria, max_output, max_num=200,
                      class_boxes=False):
  """The reference loop: per class > 0.05, top max_num, greedy while-loop,
  then the max_output best overall."""
  out_b, out_s, out_l = [], [], []
  for i in range(1, scores.shape[1]):
    score = scores[:, i]
    mask = score > 0.05
    bx = (boxes[:, i] if class_boxes else boxes)[mask]
    sc = score[mask]
    if not len(sc):
      continue
    order = np.argsort(sc, kind='stable')[-max_num:]
    candidates = []
    while len(order):
      idx = order[-1]
      iou = _np_iou_one(bx[order], bx[idx])
      order = order[iou < criteria]
      candidates.append(idx)
    out_b.append(bx[candidates])
    out_s.append(sc[candidates])
    out_l += [i] * len(candidates)
  if not out_s:
    return np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)
  b, s, l = np.concatenate(out_b), np.concatenate(out_s), np.array(out_l)
  keep = np.argsort(s, kind='stable')[-max_output:]
  return b[keep], s[keep], l[keep]


def _clustered_boxes(rng, shape_prefix, n):
  """Boxes around a few centres, so suppression really happens."""
  centres = rng.uniform(0.2, 0.8, (4, 2))
  c = centres[rng.integers(0, 4, shape_prefix + (n,))]
  c = c + rng.normal(0, 0.03, c.shape)
  wh = rng.uniform(0.05, 0.3, c.shape)
  return np.concatenate([c - wh / 2, c + wh / 2], -1).astype(np.float32)


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def _check(got, i, want):
  bw, sw, lw = want
  valid = np.asarray(got.valid[i])
  assert valid.sum() == len(sw)
  order = np.argsort(-sw, kind='stable')
  np.testing.assert_allclose(np.asarray(got.scores[i])[valid], sw[order],
                             rtol=1e-6)
  np.testing.assert_array_equal(np.asarray(got.classes[i])[valid], lw[order])
  np.testing.assert_allclose(np.asarray(got.boxes[i])[valid], bw[order],
                             atol=1e-6)
  assert (np.asarray(got.scores[i])[~valid] == 0).all()


@pytest.mark.parametrize('criteria,max_num,max_output',
                         [(0.5, 200, 200), (0.5, 200, 800),
                          (0.45, 20, 30)])
def test_batched_nms_equals_reference_loop(criteria, max_num, max_output):
  rng = np.random.default_rng(0)
  b, d, c = 3, 400, 5
  boxes = _clustered_boxes(rng, (b,), d)
  scores = _softmax(rng.normal(0, 2.0, (b, d, c)))
  scores[2] = _softmax(np.zeros((d, c)) + [5, 0, 0, 0, 0])  # none > 0.05
  got = jax.jit(lambda x, y: nms.batched_nms(
      x, y, iou_threshold=criteria, max_per_class=max_num,
      max_total=max_output))(boxes, scores)
  assert got.boxes.shape == (b, min(max_output, (c - 1) * max_num), 4)
  for i in range(b):
    want = _np_decode_single(boxes[i], scores[i], criteria, max_output,
                             max_num)
    _check(got, i, want)
  assert int(got.valid[0].sum()) > 0 and not bool(got.valid[2].any())
  if max_output >= (c - 1) * max_num:
    # Suppression did remove boxes (else equality would prove little).
    above = (scores[0, :, 1:] > 0.05).sum(0)
    assert int(got.valid[0].sum()) < np.minimum(above, max_num).sum()


def test_class_specific_boxes_equal_reference_loop():
  rng = np.random.default_rng(3)
  b, d, c = 2, 150, 4
  boxes = _clustered_boxes(rng, (b, d), c)         # [B, D, C, 4]
  scores = _softmax(rng.normal(0, 2.0, (b, d, c)))
  got = nms.batched_nms(boxes, scores, iou_threshold=0.5, max_per_class=100,
                        max_total=100)
  for i in range(b):
    _check(got, i, _np_decode_single(boxes[i], scores[i], 0.5, 100, 100,
                                     class_boxes=True))


def test_greedy_keep_by_hand():
  boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30],
                    [0, 0, 10, 10], [21, 20, 31, 30]], np.float32)
  valid = np.array([True, True, True, False, True])
  keep = np.asarray(nms.greedy_keep(boxes, valid, 0.5))
  # 1 overlaps 0 (IoU 9/11), 4 overlaps 2; 3 is padding.
  np.testing.assert_array_equal(keep, [True, False, True, False, False])
  keep = np.asarray(nms.greedy_keep(boxes, valid, 0.95))
  np.testing.assert_array_equal(keep, [True, True, True, False, True])
