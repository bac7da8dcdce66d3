# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mask R-CNN workload: hyperparameter rules, tensor names, parameter report,
batches, mask pasting and COCO bbox + segm AP against pycocotools."""

import contextlib
import io
import json
import os
import pickle
import subprocess
import sys

import jax
import jax.numpy as jnp
import mlperf_logging
import numpy as np
import pytest
import yaml
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mlperf_jax import compliance
from mlperf_jax.api import HostShard
from mlperf_jax.hparams import maskrcnn as maskrcnn_hparams
from mlperf_jax.hparams import registry
from mlperf_jax.input_pipelines import coco
from mlperf_jax.input_pipelines import digit_canvas
from mlperf_jax.input_pipelines import maskrcnn_batches as mb
from mlperf_jax.models import c2_resnet_weights as c2
from mlperf_jax.workloads import maskrcnn as mw
from support import checker
from support.devices import one_device_env

# One image per step (a CPU train step at 800x1344 needs ~8 GiB of
# temporaries per image), decay at the rule's 960k / 1280k.
_SMOKE_HP = ('--set', 'global_batch_size=1', '--set',
             'opt_learning_rate_decay_steps=[960000,1280000]', '--set',
             'num_image_candidates=1000')


def _train(*args):
  return subprocess.run([sys.executable, '-m', 'mlperf_jax.train',
                         '--workload', 'maskrcnn', *args], capture_output=True,
                        text=True, timeout=3000, check=False,
                        env=one_device_env())


@pytest.mark.parametrize('gbs,value,ok', [
    (16, 1000, True), (16, 2000, True), (16, 4000, True), (16, 16000, True),
    (16, 3000, False), (16, 2500, False), (16, 32000, False),
    (24, 3000, True), (7, 2000, True), (7, 7000, True), (7, 4000, False)])
def test_num_image_candidates_is_1000_2000_or_1000_per_image_of_a_chip(
    gbs, value, ok):
  hps = maskrcnn_hparams.hparams()
  overrides = {'global_batch_size': gbs, 'num_image_candidates': value}
  if ok:
    registry.resolve(hps, {}, overrides, division='open')
    registry.resolve(hps, {}, {**overrides, 'opt_learning_rate_decay_steps':
                               [round(60000 * 16 / gbs),
                                round(80000 * 16 / gbs)]},
                     division='closed')
  else:
    with pytest.raises(registry.HParamError, match='num_image_candidates'):
      registry.resolve(hps, {}, {**overrides,
                                 'opt_learning_rate_decay_steps': [
                                     round(60000 * 16 / gbs),
                                     round(80000 * 16 / gbs)]},
                       division='closed')


def test_reference_logs_the_21_official_tensor_names_and_both_counts():
  wl = mw.MaskRCNNWorkload('reference')
  boxed, _ = jax.eval_shape(lambda r: wl.init(r, {}),
                            jax.ShapeDtypeStruct((2,), np.uint32))
  path = os.path.join(os.path.dirname(mlperf_logging.__file__),
                      'compliance_checker', 'training_1.1.0',
                      'closed_maskrcnn.yaml')
  end = [e['END'] for e in yaml.safe_load(open(path)) if 'END' in e][0]
  official = sorted(eval(end['CHECK'].split('==', 1)[1]))  # pylint: disable=eval-used
  assert wl.init_tensor_names(boxed) == official and len(official) == 21
  report = wl.memory_report({}, {'data': 8})
  assert '44,347,573 in all, 44,125,173 trainable' in report
  assert mw.VARIANTS['reference'].extra['train_buckets'] == (
      mb.REFERENCE_BUCKETS)
  assert mw.COCO_TRAIN == coco.TRAIN_IMAGES
  assert mw.CANVAS_TRAIN == digit_canvas.TRAIN_CANVASES


def test_resize_rule_and_buckets_cover_every_coco_shape():
  # transforms.Resize.get_size: 640x480 -> 800x1066; a panorama is capped
  # at 1333 on its long side.
  assert mb.resized_size(480, 640) == (800, 1066)
  assert mb.resized_size(640, 480) == (1066, 800)
  assert mb.resized_size(300, 1000) == (400, 1333)
  rng = np.random.default_rng(0)
  for h, w in rng.integers(50, 700, (500, 2)):
    rh, rw = mb.resized_size(int(h), int(w))
    ph, pw = mb.padded_size(rh, rw)
    bh, bw = mb.REFERENCE_BUCKETS[mb.bucket_of(rh, rw)]
    # The reference rounds the capped short side (by at most half a pixel),
    # so the long side can pass 1333 by half the aspect ratio; the padded
    # extent still fits the bucket.
    lo, hi = min(rh, rw), max(rh, rw)
    assert ph <= bh and pw <= bw and lo <= 800 and hi <= 1333 + hi / lo / 2 + 1


def test_canvas_batches_have_legacy_boxes_and_exact_masks():
  b = next(mb.canvas_train_batches(8, seed=0))
  cs = digit_canvas.load_split('train')
  assert b['image'].shape == (8, 64, 64, 1) and b['gt_masks'].shape == (
      8, 3, 64, 64)
  for n in range(8):
    for k in np.nonzero(b['gt_classes'][n])[0]:
      ys, xs = np.nonzero(b['gt_masks'][n, k])
      # Inclusive pixel boxes: x2 is the last mask column.
      assert b['gt_boxes'][n, k].tolist() == [xs.min(), ys.min(), xs.max(),
                                              ys.max()]
  again = next(mb.canvas_train_batches(8, seed=0))
  other = next(mb.canvas_train_batches(8, seed=1))
  assert np.array_equal(again['image'], b['image'])
  assert not np.array_equal(other['image'], b['image'])
  halves = [next(mb.canvas_train_batches(8, seed=0, host=HostShard(i, 2)))
            for i in range(2)]
  assert np.array_equal(np.concatenate([h['image'] for h in halves]),
                        b['image'])
  del cs


def _paste_reference(mask, box, h, w):
  # Masker.paste_mask_in_image: pad 1, expand the box by 30/28, int boxes,
  # bilinear resize (half-pixel, edge clamp) by jax.image.resize, > 0.5.
  padded = np.pad(mask, 1)
  scale = 30 / 28
  cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
  hw, hh = (box[2] - box[0]) / 2 * scale, (box[3] - box[1]) / 2 * scale
  b = np.array([cx - hw, cy - hh, cx + hw, cy + hh]).astype(np.int32)
  bw, bh = max(b[2] - b[0] + 1, 1), max(b[3] - b[1] + 1, 1)
  r = np.asarray(jax.image.resize(jnp.asarray(padded), (bh, bw), 'linear',
                                  antialias=False)) > 0.5
  out = np.zeros((h, w), np.uint8)
  for y in range(h):
    for x in range(w):
      if b[0] <= x <= b[2] and b[1] <= y <= b[3]:
        out[y, x] = r[y - b[1], x - b[0]]
  return out


def test_paste_mask_follows_the_reference_masker():
  rng = np.random.default_rng(1)
  for box in ([10.3, 5.2, 40.8, 30.1], [-5, 50, 20, 70.5], [30, 30, 31, 31],
              [55, 2, 90, 20]):
    mask = rng.uniform(size=(28, 28)).astype(np.float32)
    got = mw.paste_mask(mask, np.asarray(box), 64, 72)
    want = _paste_reference(mask, np.asarray(box, np.float32), 64, 72)
    assert np.mean(got == want) > 0.998, box


def _pycocotools(gt, dets, iou_type):
  with contextlib.redirect_stdout(io.StringIO()):
    c = COCO()
    c.dataset = gt
    c.createIndex()
    ev = COCOeval(c, c.loadRes(dets), iou_type)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
  return ev.stats[0]


def test_bbox_and_segm_ap_equal_pycocotools_on_the_same_results():
  cs = digit_canvas.load_split('eval')
  gt = digit_canvas.coco_ground_truth(cs)
  acc = mw.BoxMaskAccumulator(gt, {'BBOX': 0.45, 'SEGM': 0.4})
  rng = np.random.default_rng(2)
  n, k = 24, 5
  boxes = np.zeros((n, k, 4), np.float32)
  masks = rng.uniform(size=(n, k, 28, 28)).astype(np.float32) * 0.4
  classes = rng.integers(1, 11, (n, k)).astype(np.int32)
  valid = np.zeros((n, k), bool)
  for i in range(n):
    for j in range(int(cs.num_instances[i])):
      b = mb.legacy_boxes(cs.boxes[i, j]) + rng.normal(0, 1, 4)
      boxes[i, j] = b
      classes[i, j] = cs.labels[i, j] if rng.uniform() < 0.8 else 1
      valid[i, j] = True
      # The GT mask resampled into the box: a good mask prediction.
      x0, y0, x1, y1 = cs.boxes[i, j].astype(int)
      crop = cs.masks[i, j, y0:y1, x0:x1].astype(np.float32)
      ys = np.minimum((np.arange(28) + 0.5) * crop.shape[0] / 28, crop.shape[0]
                      - 1).astype(int)
      xs = np.minimum((np.arange(28) + 0.5) * crop.shape[1] / 28, crop.shape[1]
                      - 1).astype(int)
      masks[i, j] = crop[ys][:, xs]
    valid[i, -1] = True       # a false positive per image
    boxes[i, -1] = [1, 1, 20, 20]
  out = {'boxes': boxes, 'scores': rng.uniform(0.1, 1, (n, k)),
         'classes': classes, 'valid': valid, 'masks': masks,
         'image_id': cs.image_id[:n], 'mask': np.ones(n, np.float32)}
  # Two batches, the second with padding rows.
  acc.add({k_: v[:16] for k_, v in out.items()})
  pad = {k_: np.concatenate([v[16:], v[:4]]) for k_, v in out.items()}
  pad['mask'] = np.array([1.0] * 8 + [0.0] * 4, np.float32)
  acc.add(pad)
  got = acc.result()
  assert got['count'] == n
  sub = dict(gt, images=gt['images'][:n],
             annotations=[a for a in gt['annotations'] if a['image_id'] <= n])
  want_box = _pycocotools(sub, acc.boxes, 'bbox')
  want_segm = _pycocotools(sub, acc.segms, 'segm')
  assert got['BBOX'] == pytest.approx(want_box, abs=1e-12)
  assert got['SEGM'] == pytest.approx(want_segm, abs=1e-12)
  assert 0.2 < got['SEGM'] < 1 and 0.2 < got['BBOX'] < 1
  assert got['target_fraction'] == pytest.approx(
      min(got['BBOX'] / 0.45, got['SEGM'] / 0.4))
  # The detections' boxes are the inclusive +1 xywh of the reference.
  first = acc.boxes[0]
  assert first['bbox'][2] == pytest.approx(boxes[0, 0, 2] - boxes[0, 0, 0]
                                           + 1, rel=1e-5)
  rle = acc.segms[0]['segmentation']
  assert mask_util.decode(rle).shape == (64, 64)


def test_trivial_detectors_stay_far_below_the_mini_targets():
  targets = mw.VARIANTS['mini'].extra['targets']
  base = mw.mini_baselines(count=60)
  assert base['prior']['BBOX'] < 0.01 and base['prior']['SEGM'] < 0.01
  # Perfect boxes: BBOX 1, but a filled box is a poor digit mask.
  assert base['box_as_mask']['BBOX'] == pytest.approx(1.0)
  assert 0.05 < base['box_as_mask']['SEGM'] < 0.75 * targets['SEGM']


def test_mini_eval_step_runs_and_scores_with_pycocotools():
  wl = mw.MaskRCNNWorkload('mini')
  hp = wl.resolve_hparams()
  params, state = wl.init(jax.random.key(0), hp)
  batch = next(iter(mb.canvas_eval_batches(4)))
  out = jax.jit(lambda p, b: wl.eval_step(p, state, b, hp))(
      params, {k: jnp.asarray(v) for k, v in batch.items()})
  out = jax.device_get(out)
  assert out['boxes'].shape == (4, 20, 4) and out['masks'].shape == (4, 20,
                                                                     28, 28)
  assert np.all((out['masks'] >= 0) & (out['masks'] <= 1))
  assert np.all(np.diff(out['scores'], axis=1) <= 1e-6)   # best first
  acc = wl.eval_accumulator()
  acc.add(out)
  r = acc.result()
  assert r['count'] == 4 and 0 <= r['BBOX'] <= 1 and 0 <= r['SEGM'] <= 1


def _fake_coco(root):
  from PIL import Image  # pylint: disable=import-outside-toplevel
  import json  # pylint: disable=import-outside-toplevel
  (root / 'annotations').mkdir()
  images, anns = [], []
  for split in ('train2017', 'val2017'):
    (root / split).mkdir()
  for i, (h, w) in enumerate(((60, 80), (90, 45), (50, 50)), start=1):
    Image.fromarray(np.full((h, w, 3), 40 * i, np.uint8)).save(
        root / 'train2017' / f'{i}.jpg')
    images.append({'id': i, 'file_name': f'{i}.jpg', 'height': h,
                   'width': w})
    # A 20x10 rectangle polygon at (5, 8).
    anns.append({'id': i, 'image_id': i, 'category_id': 7, 'iscrowd': 0,
                 'bbox': [5, 8, 20, 10], 'area': 200,
                 'segmentation': [[5, 8, 25, 8, 25, 18, 5, 18]]})
  cats = [{'id': 7, 'name': 'x'}, {'id': 9, 'name': 'y'}]
  for split in ('train2017', 'val2017'):
    with open(root / 'annotations' / f'instances_{split}.json', 'w') as f:
      json.dump({'images': images, 'annotations': anns, 'categories': cats},
                f)


def test_coco_batches_are_grouped_resized_and_carry_box_local_masks(
    tmp_path):
  _fake_coco(tmp_path)
  b = next(mb.coco_train_batches(str(tmp_path), 2, seed=0))
  # Two landscape-or-square images form the first full group.
  assert b['image'].shape == (2, 800, 1344, 3)
  assert b['gt_classes'][:, 0].tolist() == [1, 1]
  for n in range(2):
    h, w = b['image_hw'][n]
    assert min(h, w) == 800
    # A filled rectangle: its box-local mask is all ones.
    assert b['gt_masks'][n, 0].mean() == 1.0
    x1, y1, x2, y2 = b['gt_boxes'][n, 0]
    fx1, fy1, fx2, fy2 = b['gt_mask_frames'][n, 0]
    assert x2 - x1 + 1 == pytest.approx(fx2 - fx1, rel=1e-5)
    assert (x2 - x1 + 1) == pytest.approx(20 * w / (80 if h == 800 and
                                                    w > 800 else 50),
                                          rel=1e-5)
  wl = mw.MaskRCNNWorkload('reference', data_dir=str(tmp_path / 'nowhere'))
  hp = wl.resolve_hparams()
  problems = wl.check_request(hp, division='closed', init_checkpoint=None,
                              dry_run=False)
  assert 'pass --init-checkpoint R-50.pkl' in problems[0]
  assert problems[1:] and all('nowhere' in p for p in problems[1:])
  assert not any('R-50' in p for p in wl.check_request(
      hp, division='open', init_checkpoint=None, dry_run=False))
  bad = wl.resolve_hparams({'global_batch_size': '7',
                            'num_image_candidates': '2000'}, division='open')
  assert any('groups of 2 images' in p for p in wl.check_request(
      bad, division='open', init_checkpoint=None, dry_run=True))


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_reference_dry_run_prints_both_parameter_counts(tmp_path):
  proc = _train('--scale', 'reference', '--dry-run', *_SMOKE_HP,
                '--output-dir', str(tmp_path))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert '44,347,573 in all, 44,125,173 trainable' in proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(3000)   # compiles and steps at 800x1344 on a CPU
def test_reference_smoke_log_passes_1_1_0_and_3_1_0_except_target(tmp_path):
  # A file in the R-50.pkl layout (He-scaled random kernels, unit affine):
  # the run imports it before the clock starts.
  rng = np.random.default_rng(0)
  blobs = {}
  for name, shape in c2.expected_shapes(*c2.ARCHS['R-50']).items():
    fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else 0
    blobs[name] = (rng.normal(0, np.sqrt(2 / fan_in), shape) if fan_in else
                   np.full(shape, 1.0 if name.endswith('_s') else 0.0)
                   ).astype(np.float32)
  weights = tmp_path / 'R-50.pkl'
  with open(weights, 'wb') as f:
    pickle.dump({'blobs': blobs}, f, protocol=2)
  proc = _train('--scale', 'reference', '--synthetic-data', '--max-steps',
                '1', *_SMOKE_HP, '--init-checkpoint', str(weights),
                '--seed', '5', '--output-dir', str(tmp_path / 'out'))
  assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
  log = sorted((tmp_path / 'out').rglob('mllog.txt'))[0]
  recs = [json.loads(line.split(':::MLLOG ', 1)[1])
          for line in log.read_text().splitlines() if ':::MLLOG ' in line]
  assert len([r for r in recs if r['key'] == 'weights_initialization']) == 21
  assert any('initial weights loaded from' in str(r['value']) for r in recs)
  values = {r['key']: r['value'] for r in recs}
  assert values['num_image_candidates'] == 1000
  assert set(values['eval_accuracy']) == {'BBOX', 'SEGM'}
  for ruleset in ('1.1.0', '3.1.0'):
    checker.assert_only_the_target_fails(compliance.check(str(log), ruleset),
                                         '0.377')
