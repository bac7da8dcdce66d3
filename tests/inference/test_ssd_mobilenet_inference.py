# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD-MobileNet-v1 served (`ssd-mobilenet`, MLPerf Inference v1.x edge): the
mini dry path (a quarter-width 64x64 model on 8 synthetic images with
locally written COCO ground truth) with weights from a TF checkpoint,
responses in `accuracy-coco.py`'s float32 x 7 layout, scored by pycocotools
and independently from the bytes."""

import contextlib
import io
import subprocess
import sys

import flax.linen as nn
import jax
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mlperf_jax import infer
from mlperf_jax import workloads
from mlperf_jax.workloads import ssd_mobilenet
from support import tf_checkpoint_writer as writer


def _independent_map(responses, gt):
  """accuracy-coco.py without --use-inv-map: class = COCO id, boxes
  [ymin, xmin, ymax, xmax] scaled by the image size."""
  dets = []
  for idx, data in responses.items():
    info = gt['images'][idx]
    rows = np.frombuffer(data, '<f4').reshape(-1, 7)
    assert (rows[:, 0] == idx).all()
    for _, ymin, xmin, ymax, xmax, score, cls in rows.tolist():
      w, h = info['width'], info['height']
      dets.append({'image_id': info['id'], 'category_id': int(cls),
                   'bbox': [xmin * w, ymin * h, (xmax - xmin) * w,
                            (ymax - ymin) * h], 'score': score})
  with contextlib.redirect_stdout(io.StringIO()):
    coco = COCO()
    coco.dataset = gt
    coco.createIndex()
    ev = COCOeval(coco, coco.loadRes(dets), iouType='bbox')
    ev.params.imgIds = [gt['images'][i]['id'] for i in responses]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
  return ev.stats[0]


def test_registered_for_serving_not_training():
  assert 'ssd-mobilenet' in infer.serving_workloads(workloads)
  assert 'ssd-mobilenet' not in workloads.names()   # no training benchmark
  wl = workloads.get('ssd-mobilenet', 'reference')
  assert wl.variant.target.value == pytest.approx(0.2178)
  assert wl.variant.mlperf_conf_model == 'ssd-mobilenet'
  with pytest.raises(NotImplementedError, match='Inference model only'):
    wl.loss(None, None, None, None, None)
  # The reference scale needs the official weights and COCO.
  (problem,) = infer._problems(infer._parser().parse_args(  # pylint: disable=protected-access
      ['--workload', 'ssd-mobilenet', '--scale', 'reference']), workloads)
  assert problem == ('--scale reference needs --checkpoint (trained '
                     'parameters) and --data-dir (the inference data set)')


def test_ground_truth_as_responses_scores_one():
  """The encoding, the COCO-id classes and the box layout, without a model:
  each image's own annotations sent as detections give AP 1."""
  wl = workloads.get('ssd-mobilenet', 'mini')
  spec = wl.inference()
  _, gt = ssd_mobilenet.synthetic_coco()
  responses = {}
  for i, info in enumerate(gt['images']):
    anns = [a for a in gt['annotations'] if a['image_id'] == info['id']]
    x, y, w, h = (np.array([a['bbox'][j] for a in anns], np.float32) / 64
                  for j in range(4))
    outputs = {'valid': np.ones((1, len(anns)), bool),
               'boxes': np.stack([x, y, x + w, y + h], -1)[None],  # ltrb
               'scores': np.full((1, len(anns)), 0.9, np.float32),
               'classes': np.array([[a['category_id'] for a in anns]]),
               'index': np.array([i])}
    responses[i] = ssd_mobilenet.ssd_workload.encode(outputs, 0)
  assert spec.accuracy(responses)['mAP'] == pytest.approx(1.0)
  assert _independent_map(responses, gt) == pytest.approx(1.0)


def test_checkpoint_served_and_scored(tmp_path):
  wl = workloads.get('ssd-mobilenet', 'mini')
  # A TF checkpoint of the mini model's shape, with the TF names.
  from mlperf_jax.models import ssd_mobilenet_v1_tf_weights as tfw  # pylint: disable=import-outside-toplevel
  from flax import traverse_util  # pylint: disable=import-outside-toplevel
  cfg = wl.model_config()
  shapes = jax.eval_shape(lambda x: wl.model().init(jax.random.PRNGKey(0), x),
                          jax.ShapeDtypeStruct((1, 64, 64, 3), np.float32))
  assert (cfg.image_size, cfg.depth_multiplier) == (64, 0.25)
  flat = {**traverse_util.flatten_dict(nn.unbox(shapes['params'])),
          **traverse_util.flatten_dict(shapes['batch_stats'])}
  rng = np.random.default_rng(0)
  tensors = {}
  for path, v in flat.items():
    value = rng.normal(0, 0.5, v.shape).astype(np.float32)
    if path[-1] == 'var':
      value = np.abs(value) + 0.5
    if path[1] == 'conv' and path[0].endswith('_depthwise'):
      value = value.transpose(0, 1, 3, 2)
    tensors[tfw.tf_name(path)] = value
  writer.write_tf_checkpoint(str(tmp_path / 'model.ckpt'), tensors)
  assert not infer._problems(infer._parser().parse_args(  # pylint: disable=protected-access
      ['--workload', 'ssd-mobilenet', '--checkpoint',
       str(tmp_path / 'model.ckpt')]), workloads)
  params, state = wl.load_serving_checkpoint(str(tmp_path / 'model.ckpt'))
  spec = wl.inference()
  assert spec.count == 8 and spec.buckets('SingleStream') == (1,)
  batch = spec.collate or (lambda s, n: {k: np.stack([x[k] for x in s])
                                         for k in s[0]})
  inputs = batch([spec.load_sample(i) for i in range(spec.count)], 8)
  out = jax.device_get(jax.jit(spec.predict)(params, state, inputs))
  assert out['valid'].any()
  cls = out['classes'][out['valid']]
  assert cls.min() >= 1 and cls.max() <= 90
  responses = {i: spec.encode(out, i) for i in range(spec.count)}
  ap = spec.accuracy(responses)
  assert ap['samples'] == 8
  assert ap['mAP'] == pytest.approx(_independent_map(
      responses, ssd_mobilenet.synthetic_coco()[1]), abs=1e-9)


@pytest.mark.slow
def test_infer_cli_dry_path(tmp_path):
  """`infer --workload ssd-mobilenet` end to end (random weights, ~25 s)."""
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload',
       'ssd-mobilenet', '--mode', 'accuracy', '--scenario', 'SingleStream',
       '--output-dir', str(tmp_path)],
      capture_output=True, text=True, timeout=600, check=False)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert 'mAP = ' in proc.stdout and '(samples = 8)' in proc.stdout
  acc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.accuracy', '--workload',
       'ssd-mobilenet', str(tmp_path / 'mlperf_log_accuracy.json')],
      capture_output=True, text=True, timeout=300, check=False)
  assert acc.returncode == 0, acc.stderr
  assert acc.stdout.split()[2] == proc.stdout.split('mAP = ')[1].split()[0]


def _coco_dir(root):
  """val2017 in the official layout: two images of other sizes than 300,
  one without annotations (served, as the reference serves all 5,000)."""
  import json  # pylint: disable=import-outside-toplevel
  from PIL import Image  # pylint: disable=import-outside-toplevel
  (root / 'val2017').mkdir(parents=True)
  (root / 'annotations').mkdir()
  rng = np.random.default_rng(3)
  images = []
  for i, (w, h) in enumerate(((320, 240), (200, 300))):
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
        root / 'val2017' / f'{i:012d}.png')
    images.append({'id': 42 + i, 'file_name': f'{i:012d}.png', 'width': w,
                   'height': h})
  gt = {'images': images, 'categories': [{'id': 1, 'name': 'person'},
                                         {'id': 90, 'name': 'toothbrush'}],
        'annotations': [{'id': 1, 'image_id': 42, 'category_id': 90,
                         'bbox': [10, 20, 100, 80], 'area': 8000.0,
                         'iscrowd': 0}]}
  (root / 'annotations' / 'instances_val2017.json').write_text(
      json.dumps(gt))
  return gt


def test_reference_scale_on_coco_layout(tmp_path):
  """The full 300x300 model on COCO-format data with a full-size TF
  checkpoint: one batch of both images, scored over both."""
  gt = _coco_dir(tmp_path / 'coco')
  wl = workloads.get('ssd-mobilenet', 'reference',
                     data_dir=str(tmp_path / 'coco'))
  shapes = jax.eval_shape(lambda x: wl.model().init(jax.random.PRNGKey(0), x),
                          jax.ShapeDtypeStruct((1, 300, 300, 3), np.float32))
  from mlperf_jax.models import ssd_mobilenet_v1_tf_weights as tfw  # pylint: disable=import-outside-toplevel
  from flax import traverse_util  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(0)
  tensors = {}
  for path, v in {**traverse_util.flatten_dict(nn.unbox(shapes['params'])),
                  **traverse_util.flatten_dict(shapes['batch_stats'])
                  }.items():
    scale = (2.0 / np.prod(v.shape[:-1])) ** 0.5 if len(v.shape) == 4 else 0.1
    value = rng.normal(0, scale, v.shape)
    if path[-1] in ('var', 'scale'):
      value = np.abs(value) + 1.0
    if path[0].endswith('_depthwise') and path[1] == 'conv':
      value = value.transpose(0, 1, 3, 2)   # TF [kh, kw, in, 1]
    tensors[tfw.tf_name(path)] = value.astype(np.float32)
  writer.write_tf_checkpoint(str(tmp_path / 'model.ckpt'), tensors)
  params, state = wl.load_serving_checkpoint(str(tmp_path / 'model.ckpt'))
  spec = wl.inference()
  assert spec.count == 2 and spec.performance_count == 256
  samples = [spec.load_sample(i) for i in range(2)]
  assert samples[0]['image'].shape == (300, 300, 3)
  assert -1 <= samples[0]['image'].min() and samples[0]['image'].max() <= 1
  inputs = {k: np.stack([s[k] for s in samples]) for k in samples[0]}
  out = jax.device_get(jax.jit(spec.predict)(params, state, inputs))
  assert out['boxes'].shape == (2, 100, 4) and out['valid'].all()
  responses = {i: spec.encode(out, i) for i in range(2)}
  ap = spec.accuracy(responses)
  assert ap['samples'] == 2
  assert ap['mAP'] == pytest.approx(_independent_map(responses, gt),
                                    abs=1e-9)
