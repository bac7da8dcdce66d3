# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""COCO AP: pycocotools as the judge, an independent AP@0.5 transcription,
faster-coco-eval equal, the results JSON layout, padding rows dropped."""

import json

import numpy as np
import pytest

from mlperf_jax.input_pipelines import digit_canvas as dc
from mlperf_jax.metrics import coco_map


@pytest.fixture(scope='module')
def canvases():
  return dc.make_canvases('eval', 40, seed=11)


def _noisy_detections(c, rng, k=6):
  """Per image: the ground truths jittered (some with the wrong class) and
  random false positives, with random scores."""
  b = len(c)
  boxes = np.zeros((b, k, 4), np.float32)
  scores = rng.uniform(0.05, 1.0, (b, k)).astype(np.float32)
  classes = rng.integers(1, 11, (b, k)).astype(np.int32)
  valid = np.zeros((b, k), bool)
  for n in range(b):
    m = int(c.num_instances[n])
    boxes[n, :m] = c.boxes[n, :m] + rng.normal(0, 1.5, (m, 4))
    keep_class = rng.random(m) < 0.8
    classes[n, :m] = np.where(keep_class, c.labels[n, :m], classes[n, :m])
    xy = rng.uniform(0, 48, (k - m, 2))
    boxes[n, m:] = np.concatenate([xy, xy + rng.uniform(4, 16, (k - m, 2))],
                                  1)
    valid[n] = rng.random(k) < 0.9
  return boxes, scores, classes, valid


def _np_ap50(gt, results):
  """COCO's AP at IoU 0.5 (101-point interpolation, area 'all', at most 100
  detections per image and class), written from the COCOeval description."""
  aps = []
  for cat in sorted({a['category_id'] for a in gt['annotations']}):
    gts = {}
    for a in gt['annotations']:
      if a['category_id'] == cat:
        gts.setdefault(a['image_id'], []).append(a['bbox'])
    npos = sum(len(v) for v in gts.values())
    per_image = {}
    for r in results:
      if r['category_id'] == cat:
        per_image.setdefault(r['image_id'], []).append(r)
    scored = []
    for img, dets in per_image.items():
      dets = sorted(dets, key=lambda r: -r['score'])[:100]
      g = np.asarray(gts.get(img, np.zeros((0, 4))), np.float64)
      used = np.zeros(len(g), bool)
      for r in dets:
        x, y, w, h = r['bbox']
        best, hit = 0.5, -1
        for j, (gx, gy, gw, gh) in enumerate(g):
          iw = max(min(x + w, gx + gw) - max(x, gx), 0)
          ih = max(min(y + h, gy + gh) - max(y, gy), 0)
          iou = iw * ih / (w * h + gw * gh - iw * ih)
          if not used[j] and iou >= best:
            best, hit = iou, j
        if hit >= 0:
          used[hit] = True
        scored.append((r['score'], hit >= 0))
    scored.sort(key=lambda s: -s[0])
    tp = np.cumsum([s[1] for s in scored])
    fp = np.cumsum([not s[1] for s in scored])
    recall = tp / npos
    precision = tp / np.maximum(tp + fp, np.spacing(1))
    for i in range(len(precision) - 1, 0, -1):
      precision[i - 1] = max(precision[i - 1], precision[i])
    thresholds = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, thresholds, side='left')
    aps.append(np.mean([precision[i] if i < len(precision) else 0.0
                        for i in idx]))
  return float(np.mean(aps))


def test_perfect_detections_score_one(canvases):
  gt = dc.coco_ground_truth(canvases)
  res = coco_map.box_results(canvases.image_id, canvases.boxes,
                             np.ones(canvases.labels.shape), canvases.labels,
                             canvases.labels > 0)
  stats = coco_map.evaluate(gt, res)
  assert stats['AP'] == pytest.approx(1.0) and stats['AP50'] == 1.0
  assert coco_map.evaluate(gt, []) == {k: 0.0 for k in coco_map.STAT_NAMES}


def test_ap50_equals_an_independent_transcription(canvases):
  gt = dc.coco_ground_truth(canvases)
  rng = np.random.default_rng(0)
  res = coco_map.box_results(canvases.image_id,
                             *_noisy_detections(canvases, rng))
  stats = coco_map.evaluate(gt, res)
  assert 0.2 < stats['AP50'] < 0.95
  assert stats['AP50'] == pytest.approx(_np_ap50(gt, res), abs=1e-9)


def test_faster_coco_eval_equals_pycocotools(canvases):
  gt = dc.coco_ground_truth(canvases)
  res = coco_map.box_results(canvases.image_id, *_noisy_detections(
      canvases, np.random.default_rng(1)))
  a = coco_map.evaluate(gt, res)
  b = coco_map.evaluate(gt, res, backend='faster_coco_eval')
  for k in coco_map.STAT_NAMES:
    assert a[k] == pytest.approx(b[k], abs=1e-12), k
  with pytest.raises(ValueError, match='backend'):
    coco_map.evaluate(gt, res, backend='nope')


def test_results_json_layout_and_normalised_boxes(tmp_path):
  res = coco_map.box_results(
      np.array([7]), np.array([[[0.25, 0.5, 0.75, 1.0], [0, 0, 1, 1]]]),
      np.array([[0.9, 0.1]]), np.array([[2, 3]]), np.array([[True, False]]),
      category_ids=[0, 10, 20, 30], box_scale=np.array([[640.0, 480.0]]))
  assert res == [{'image_id': 7, 'category_id': 20,
                  'bbox': [160.0, 240.0, 320.0, 240.0],
                  'score': pytest.approx(0.9)}]
  path = tmp_path / 'detections.json'
  coco_map.write_results(str(path), res)
  assert json.loads(path.read_text())[0]['bbox'] == [160.0, 240.0, 320.0,
                                                      240.0]


def test_accumulator_drops_padding_rows(canvases):
  gt = dc.coco_ground_truth(canvases)
  boxes, scores, classes, valid = _noisy_detections(
      canvases, np.random.default_rng(2))
  want = coco_map.evaluate(gt, coco_map.box_results(
      canvases.image_id, boxes, scores, classes, valid))['AP']
  acc = coco_map.CocoAccumulator(gt)
  for lo in range(0, 40, 16):
    sl = slice(lo, lo + 16)
    n = len(canvases.image_id[sl])
    pad = 16 - n
    def padded(x, pad=pad):
      return np.concatenate([x, np.repeat(x[:1], pad, 0)]) if pad else x
    acc.add({'image_id': padded(canvases.image_id[sl]),
             'boxes': padded(boxes[sl]), 'scores': padded(scores[sl]),
             'classes': padded(classes[sl]), 'valid': padded(valid[sl]),
             'mask': np.r_[np.ones(n), np.zeros(pad)]})
  out = acc.result()
  assert out['count'] == 40 and out['mAP'] == pytest.approx(want)
