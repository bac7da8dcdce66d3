# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Anchors, box coder, IoU, NMS, matcher, sampler, proposal selection and mask
targets against NumPy transcriptions of maskrcnn-benchmark
(mlcommons/training `object_detection/pytorch/maskrcnn_benchmark/`)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.models import maskrcnn_targets as tg


def test_anchors_equal_the_published_detectron_table():
  # `generate_anchors(16, (128, 256, 512), (0.5, 1, 2))`: the table in the
  # docstring of Detectron's / py-faster-rcnn's generate_anchors.py.
  want = {128: [[-84, -40, 99, 55], [-56, -56, 71, 71], [-36, -80, 51, 95]],
          256: [[-176, -88, 191, 103], [-120, -120, 135, 135],
                [-80, -168, 95, 183]],
          512: [[-360, -184, 375, 199], [-248, -248, 263, 263],
                [-168, -344, 183, 359]]}
  for size, rows in want.items():
    np.testing.assert_array_equal(tg.base_anchors(16, size, (0.5, 1, 2)),
                                  np.array(rows, np.float32))
  # Stride 4, size 32 (P2): ws = round(sqrt(32)) = 6, hs = 3, then x8.
  np.testing.assert_array_equal(tg.base_anchors(4, 32, (0.5,))[0],
                                [-22, -10, 25, 13])


def test_grid_anchors_are_location_major_like_the_rpn_head_output():
  base = tg.base_anchors(8, 16, (0.5, 1, 2))
  grid = tg.grid_anchors(8, 16, (0.5, 1, 2), 3, 5)
  assert grid.shape == (3 * 5 * 3, 4)
  for y in range(3):
    for x in range(5):
      for a in range(3):
        np.testing.assert_array_equal(grid[(y * 5 + x) * 3 + a],
                                      base[a] + [8 * x, 8 * y, 8 * x, 8 * y])
  vis = np.asarray(tg.visible(jnp.asarray(grid), jnp.asarray([24, 40])))
  want = ((grid[:, 0] >= 0) & (grid[:, 1] >= 0) & (grid[:, 2] < 40) &
          (grid[:, 3] < 24))
  assert vis.tolist() == want.tolist() and 0 < want.sum() < len(want)


def _encode_np(gt, ex, w):
  ew, eh = ex[:, 2] - ex[:, 0] + 1, ex[:, 3] - ex[:, 1] + 1
  ecx, ecy = ex[:, 0] + 0.5 * ew, ex[:, 1] + 0.5 * eh
  gw, gh = gt[:, 2] - gt[:, 0] + 1, gt[:, 3] - gt[:, 1] + 1
  gcx, gcy = gt[:, 0] + 0.5 * gw, gt[:, 1] + 0.5 * gh
  return np.stack([w[0] * (gcx - ecx) / ew, w[1] * (gcy - ecy) / eh,
                   w[2] * np.log(gw / ew), w[3] * np.log(gh / eh)], 1)


def _decode_np(codes, boxes, w):
  widths = boxes[:, 2] - boxes[:, 0] + 1
  heights = boxes[:, 3] - boxes[:, 1] + 1
  cx, cy = boxes[:, 0] + 0.5 * widths, boxes[:, 1] + 0.5 * heights
  dx, dy = codes[:, 0] / w[0], codes[:, 1] / w[1]
  dw = np.minimum(codes[:, 2] / w[2], math.log(1000. / 16))
  dh = np.minimum(codes[:, 3] / w[3], math.log(1000. / 16))
  pcx, pcy = dx * widths + cx, dy * heights + cy
  pw, ph = np.exp(dw) * widths, np.exp(dh) * heights
  return np.stack([pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw - 1,
                   pcy + 0.5 * ph - 1], 1)


def _boxes(rng, n, size=100.0):
  xy = rng.uniform(0, size, (n, 2))
  return np.concatenate([xy, xy + rng.uniform(1, size / 2, (n, 2))],
                        1).astype(np.float32)


@pytest.mark.parametrize('weights', [(1., 1., 1., 1.), (10., 10., 5., 5.)])
def test_box_coder_matches_the_legacy_plus_one_coder(weights):
  rng = np.random.default_rng(0)
  gt, ex = _boxes(rng, 50), _boxes(rng, 50)
  codes = np.asarray(tg.encode(jnp.asarray(gt), jnp.asarray(ex), weights))
  np.testing.assert_allclose(codes, _encode_np(gt, ex, weights), rtol=1e-5,
                             atol=1e-5)
  np.testing.assert_allclose(np.asarray(tg.decode(jnp.asarray(codes),
                                                  jnp.asarray(ex), weights)),
                             gt, atol=2e-3)
  big = rng.normal(0, 30, (50, 4)).astype(np.float32)   # hits the clip
  np.testing.assert_allclose(
      np.asarray(tg.decode(jnp.asarray(big), jnp.asarray(ex), weights)),
      _decode_np(big, ex, weights), rtol=1e-4, atol=1e-2)


def _iou_np(a, b):
  out = np.zeros((len(a), len(b)))
  for i, p in enumerate(a):
    for j, q in enumerate(b):
      iw = min(p[2], q[2]) - max(p[0], q[0]) + 1
      ih = min(p[3], q[3]) - max(p[1], q[1]) + 1
      inter = max(iw, 0) * max(ih, 0)
      ua = ((p[2] - p[0] + 1) * (p[3] - p[1] + 1) +
            (q[2] - q[0] + 1) * (q[3] - q[1] + 1) - inter)
      out[i, j] = inter / ua
  return out


def test_iou_uses_the_plus_one_areas():
  rng = np.random.default_rng(1)
  a, b = _boxes(rng, 9), _boxes(rng, 13)
  np.testing.assert_allclose(np.asarray(tg.box_iou(jnp.asarray(a),
                                                   jnp.asarray(b))),
                             _iou_np(a, b), rtol=1e-5, atol=1e-6)
  # Two touching 1-pixel boxes at the same pixel: IoU 1 with the +1.
  one = jnp.asarray([[3., 3., 3., 3.]])
  assert float(tg.box_iou(one, one)[0, 0]) == 1.0


def _nms_np(boxes, scores, thresh):
  # nms_cpu.cpp: sort descending, suppress later boxes with IoU > thresh.
  order = np.argsort(-scores, kind='stable')
  iou = _iou_np(boxes, boxes)
  suppressed = np.zeros(len(boxes), bool)
  for _i, i in enumerate(order):
    if suppressed[i]:
      continue
    for j in order[_i + 1:]:
      if not suppressed[j] and iou[i, j] > thresh:
        suppressed[j] = True
  return ~suppressed


def test_nms_is_the_greedy_reference_kernel():
  rng = np.random.default_rng(2)
  for thresh in (0.3, 0.5, 0.7):
    boxes = _boxes(rng, 60, 60.0)
    scores = rng.permutation(60).astype(np.float32)
    valid = rng.uniform(size=60) > 0.1
    keep = np.asarray(tg.nms_keep(jnp.asarray(boxes), jnp.asarray(scores),
                                  jnp.asarray(valid), thresh))
    want = np.zeros(60, bool)
    want[valid] = _nms_np(boxes[valid], scores[valid], thresh)
    assert keep.tolist() == want.tolist()
    assert 0 < want.sum() < valid.sum()


def _match_np(iou, high, low, allow_low):
  vals, matches = iou.max(0), iou.argmax(0)
  out = matches.copy()
  out[vals < low] = -1
  out[(vals >= low) & (vals < high)] = -2
  if allow_low:
    best = iou.max(1)
    _, preds = np.nonzero(iou == best[:, None])
    out[preds] = matches[preds]
  return out


@pytest.mark.parametrize('allow_low', [True, False])
def test_matcher_matches_the_reference_with_padded_gts(allow_low):
  rng = np.random.default_rng(3)
  gt = _boxes(rng, 5)
  anchors = np.concatenate([_boxes(rng, 200), gt[:3] + 1.5])
  iou = _iou_np(gt, anchors)
  want = _match_np(iou, 0.7, 0.3, allow_low)
  # Two padding rows (any boxes) change nothing.
  padded = np.concatenate([iou, rng.uniform(size=(2, len(anchors)))])
  valid = np.array([True] * 5 + [False] * 2)
  got = np.asarray(tg.match(jnp.asarray(padded, jnp.float32),
                            jnp.asarray(valid), 0.7, 0.3, allow_low))
  assert got.tolist() == want.tolist()
  assert {-1, -2} <= set(want.tolist()) and want.max() >= 0


def test_sampler_draws_the_reference_counts_from_the_right_sets():
  rng = np.random.default_rng(4)
  labels = rng.choice([-1, 0, 1], size=3000, p=[0.3, 0.65, 0.05])
  pos, neg = tg.sample(jax.random.key(0), jnp.asarray(labels), 256, 0.5)
  pos, neg = np.asarray(pos), np.asarray(neg)
  npos = min((labels == 1).sum(), 128)
  assert pos.sum() == npos and neg.sum() == 256 - npos
  assert np.all(labels[pos] == 1) and np.all(labels[neg] == 0)
  # Few negatives: all of them, and positives capped at the fraction.
  few = np.array([1] * 300 + [0] * 10 + [-1] * 50)
  pos, neg = map(np.asarray, tg.sample(jax.random.key(1), jnp.asarray(few),
                                       256, 0.5))
  assert pos.sum() == 128 and neg.sum() == 10
  # Uniform: over many draws every positive is picked about equally often.
  keys = jax.random.split(jax.random.key(2), 400)
  lab = jnp.asarray(np.array([1] * 20 + [0] * 100))
  freq = np.asarray(jax.vmap(lambda k: tg.sample(k, lab, 8, 0.5)[0])(
      keys)).mean(0)[:20]
  np.testing.assert_allclose(freq, 4 / 20, atol=0.08)
  slots, ok = tg.sampled_slots(*tg.sample(jax.random.key(3),
                                          jnp.asarray(labels), 256, 0.5), 256)
  s = np.asarray(slots)[np.asarray(ok)]
  assert len(s) == 256 and np.all(labels[s[:npos]] == 1)


def _select_np(boxes, scores, valid, top_n, group):
  # select_over_all_levels (training): topk over the group's concatenated
  # objectness, a mask split back per image.
  n, t = scores.shape
  out = []
  for g in range(0, n, group):
    s = np.where(valid[g:g + group], scores[g:g + group], -np.inf).ravel()
    kk = min(top_n, (s > -np.inf).sum())
    chosen = np.zeros(s.shape, bool)
    chosen[np.argsort(-s, kind='stable')[:kk]] = True
    for i, c in enumerate(chosen.reshape(group, t)):
      idx = np.nonzero(c)[0]
      idx = idx[np.argsort(-scores[g + i, idx], kind='stable')]
      out.append({tuple(b) for b in boxes[g + i, idx]})
  return out


def test_post_nms_top_n_is_over_the_whole_group_of_images():
  rng = np.random.default_rng(5)
  n, t = 4, 50
  boxes = rng.uniform(0, 100, (n, t, 4)).astype(np.float32)
  scores = rng.uniform(size=(n, t)).astype(np.float32)
  scores[0] += 1.0        # image 0 has the best proposals of its pair
  valid = rng.uniform(size=(n, t)) > 0.2
  for top_n, group in ((40, 2), (30, 1), (60, 4)):
    b, v = tg.select_proposals(jnp.asarray(boxes), jnp.asarray(scores),
                               jnp.asarray(valid), top_n, group)
    b, v = np.asarray(b), np.asarray(v)
    got = [{tuple(x) for x in bi[vi]} for bi, vi in zip(b, v)]
    assert got == _select_np(boxes, scores, valid, top_n, group)
  # Over pairs, image 0 takes all its proposals first, image 1 the rest.
  _, v = tg.select_proposals(jnp.asarray(boxes), jnp.asarray(scores),
                             jnp.asarray(valid), 40, 2)
  v = np.asarray(v)
  assert v[0].sum() == valid[0].sum() == 39 and v[1].sum() == 1


def _crop_np(mask, frame, box, res):
  # Bilinear sample of the M x M frame grid at each target cell's centre,
  # zero outside the frame, thresholded at 0.5.
  m = mask.shape[0]
  out = np.zeros((res, res))
  w, h = max(box[2] - box[0], 1), max(box[3] - box[1], 1)
  for i in range(res):
    for j in range(res):
      px = box[0] + (j + 0.5) * w / res
      py = box[1] + (i + 0.5) * h / res
      u = (px - frame[0]) / (frame[2] - frame[0]) * m - 0.5
      v = (py - frame[1]) / (frame[3] - frame[1]) * m - 0.5
      x0, y0 = math.floor(u), math.floor(v)
      acc = 0.0
      for yy, wy in ((y0, 1 - (v - y0)), (y0 + 1, v - y0)):
        for xx, wx in ((x0, 1 - (u - x0)), (x0 + 1, u - x0)):
          if 0 <= yy < m and 0 <= xx < m:
            acc += wy * wx * mask[yy, xx]
      out[i, j] = acc >= 0.5
  return out


def test_mask_targets_match_the_transcription_and_the_polygon_raster():
  rng = np.random.default_rng(6)
  size = 64
  yy, xx = np.mgrid[:size, :size] + 0.5
  disk = ((xx - 30) ** 2 + (yy - 26) ** 2 < 15 ** 2).astype(np.float32)
  frame = np.array([0, 0, size, size], np.float32)
  boxes = np.array([[15, 11, 45, 41], [20, 20, 60, 40], [5, 5, 25, 50],
                    [70, 70, 90, 90], [30, 26, 30.2, 26.2]], np.float32)
  got = np.asarray(tg.crop_masks(
      jnp.asarray(np.repeat(disk[None], len(boxes), 0)),
      jnp.asarray(np.repeat(frame[None], len(boxes), 0)), jnp.asarray(boxes),
      28))
  for r, box in enumerate(boxes):
    np.testing.assert_array_equal(got[r], _crop_np(disk, frame, box, 28))
  # The polygon path rasterises the disk itself at the 28x28 cell centres:
  # the bitmask crop agrees but for cells on the rim.
  j = (np.arange(28) + 0.5) / 28
  for r, box in enumerate(boxes[:3]):
    px = box[0] + j * (box[2] - box[0])
    py = box[1] + j * (box[3] - box[1])
    poly = ((px[None] - 30) ** 2 + (py[:, None] - 26) ** 2 < 15 ** 2)
    assert np.mean(poly == got[r]) > 0.95, r
  assert got[3].sum() == 0 and got[4].all()
  # A box-local frame: a mask stored over its own box crops the same.
  local = disk[11:41, 15:45]
  got_local = np.asarray(tg.crop_masks(
      jnp.asarray(local[None]), jnp.asarray([[15., 11., 45., 41.]]),
      jnp.asarray(boxes[:1]), 28))
  np.testing.assert_array_equal(got_local[0], got[0])
  del rng
