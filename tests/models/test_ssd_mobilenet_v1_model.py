# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD-MobileNet-v1 (MLPerf Inference v1.x edge): parameter count, anchors,
box decoding and the TF checkpoint import.

The references here are transcribed from the TF Object Detection API
(`ssd_mobilenet_v1_coco_2018_01_28`: `mobilenet_v1.py` conv defs,
`feature_map_generators.py` layer names, `multiple_grid_anchor_generator.py`
+ `grid_anchor_generator.tile_anchors`, `faster_rcnn_box_coder.py`), not
from our model code.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from mlperf_jax.models import grid_anchors
from mlperf_jax.models import ssd_mobilenet_v1 as ssdm
from mlperf_jax.models import ssd_mobilenet_v1_tf_weights as tfw
from support import tf_checkpoint_writer as writer

# mobilenet_v1.py MOBILENETV1_CONV_DEFS after Conv(3, 2, 32): (stride, depth).
_DEFS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)] + [
    (1, 512)] * 5 + [(2, 1024), (1, 1024)]


def _reference_variables(mult=1.0, classes=91):
  """{TF variable name: shape} of the checkpoint's model variables."""
  depth = lambda d: max(int(d * mult), 16)
  out = {}

  def conv_bn(scope, kernel_shape, kind='weights'):
    out[f'FeatureExtractor/MobilenetV1/{scope}/{kind}'] = kernel_shape
    for v in ('gamma', 'beta', 'moving_mean', 'moving_variance'):
      out[f'FeatureExtractor/MobilenetV1/{scope}/BatchNorm/{v}'] = (
          kernel_shape[-1] if kind == 'weights' else kernel_shape[2],)

  c = depth(32)
  conv_bn('Conv2d_0', (3, 3, 3, c))
  maps = []
  for i, (_, d) in enumerate(_DEFS, 1):
    conv_bn(f'Conv2d_{i}_depthwise', (3, 3, c, 1), 'depthwise_weights')
    conv_bn(f'Conv2d_{i}_pointwise', (1, 1, c, depth(d)))
    c = depth(d)
    if i in (11, 13):
      maps.append(c)
  for i, d in zip(range(2, 6), (512, 256, 256, 128)):
    half = depth(d // 2)
    conv_bn(f'Conv2d_13_pointwise_1_Conv2d_{i}_1x1_{half}', (1, 1, c, half))
    conv_bn(f'Conv2d_13_pointwise_2_Conv2d_{i}_3x3_s2_{depth(d)}',
            (3, 3, half, depth(d)))
    c = depth(d)
    maps.append(c)
  for k, (ch, a) in enumerate(zip(maps, (3, 6, 6, 6, 6, 6))):
    for head, n in (('BoxEncodingPredictor', 4), ('ClassPredictor', classes)):
      out[f'BoxPredictor_{k}/{head}/weights'] = (1, 1, ch, a * n)
      out[f'BoxPredictor_{k}/{head}/biases'] = (a * n,)
  return out


def _shapes(cfg):
  x = jax.ShapeDtypeStruct((1, cfg.image_size, cfg.image_size, 3),
                           jnp.float32)
  return jax.eval_shape(lambda x: ssdm.SSDMobileNetV1(cfg).init(
      jax.random.PRNGKey(0), x), x)


def test_reference_parameter_count_and_outputs():
  cfg = ssdm.reference_config()
  v = _shapes(cfg)
  ref = _reference_variables()
  stats = {k: s for k, s in ref.items() if 'moving_' in k}
  trainable = sum(math.prod(s) for k, s in ref.items() if k not in stats)
  assert trainable == 6_819_839                       # "about 6.8M"
  assert ssdm.param_count(v['params']) == trainable
  assert ssdm.param_count(v['batch_stats']) == sum(
      math.prod(s) for s in stats.values()) == 25_344
  out = jax.eval_shape(lambda v, x: ssdm.SSDMobileNetV1(cfg).apply(v, x), v,
                       jax.ShapeDtypeStruct((2, 300, 300, 3), jnp.float32))
  assert [o.shape for o in out] == [(2, 1917, 4), (2, 1917, 91)]
  assert cfg.feature_maps == (19, 10, 5, 3, 2, 1)
  # Every parameter carries logical axis names.
  boxed = jax.tree.leaves(v['params'],
                          is_leaf=lambda x: isinstance(x, nn.Partitioned))
  assert boxed and all(isinstance(b, nn.Partitioned) for b in boxed)
  assert all(len(b.names) == b.value.ndim for b in boxed)


def _tf_tile_anchors(h, w, scales, ratios):
  """grid_anchor_generator.tile_anchors with TF's meshgrid (x first)."""
  scales, ratios = np.asarray(scales), np.asarray(ratios)
  heights = scales / np.sqrt(ratios)
  widths = scales * np.sqrt(ratios)
  y_c = np.arange(h) * (1.0 / h) + 0.5 / h
  x_c = np.arange(w) * (1.0 / w) + 0.5 / w
  x_c, y_c = np.meshgrid(x_c, y_c)                      # [h, w]
  widths_grid = np.broadcast_to(widths, x_c.shape + widths.shape)
  x_grid = np.broadcast_to(x_c[..., None], widths_grid.shape)
  heights_grid = np.broadcast_to(heights, y_c.shape + heights.shape)
  y_grid = np.broadcast_to(y_c[..., None], heights_grid.shape)
  centers = np.stack([y_grid, x_grid], 3).reshape(-1, 2)
  sizes = np.stack([heights_grid, widths_grid], 3).reshape(-1, 2)
  return np.concatenate([centers - 0.5 * sizes, centers + 0.5 * sizes], 1)


def test_anchors_match_the_tf_multiple_grid_generator():
  # create_ssd_anchors(num_layers=6, min_scale=0.2, max_scale=0.95,
  # aspect_ratios=(1, 2, .5, 3, .3333)), reduce_boxes_in_lowest_layer.
  scales = [0.2 + 0.75 * i / 5 for i in range(6)] + [1.0]
  ars = [1.0, 2.0, 0.5, 3.0, 0.3333]
  ref = []
  for i, f in enumerate((19, 10, 5, 3, 2, 1)):
    if i == 0:
      s, r = [0.1, scales[0], scales[0]], [1.0, 2.0, 0.5]
    else:
      s = [scales[i]] * 5 + [np.sqrt(scales[i] * scales[i + 1])]
      r = ars + [1.0]
    ref.append(_tf_tile_anchors(f, f, s, r))
  ref = np.concatenate(ref)
  got = ssdm.anchor_table(ssdm.reference_config())
  assert got.shape == (1917, 4) == ref.shape
  np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
  # The first anchor: 0.1 square at the first cell's centre.
  np.testing.assert_allclose(got[0], [0.5 / 19 - 0.05, 0.5 / 19 - 0.05,
                                      0.5 / 19 + 0.05, 0.5 / 19 + 0.05],
                             atol=1e-7)


def test_box_decode_matches_the_faster_rcnn_coder():
  rng = np.random.default_rng(0)
  anchors = ssdm.anchor_table(ssdm.reference_config())
  codes = rng.normal(size=(2, len(anchors), 4)).astype(np.float32)
  got = np.asarray(grid_anchors.decode(jnp.asarray(codes), anchors))
  ya = (anchors[:, 0] + anchors[:, 2]) / 2
  xa = (anchors[:, 1] + anchors[:, 3]) / 2
  ha = anchors[:, 2] - anchors[:, 0]
  wa = anchors[:, 3] - anchors[:, 1]
  ty, tx, th, tw = codes[..., 0] / 10, codes[..., 1] / 10, codes[..., 2] / 5, \
      codes[..., 3] / 5
  w, h = np.exp(tw) * wa, np.exp(th) * ha
  yc, xc = ty * ha + ya, tx * wa + xa
  ref = np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], -1)
  np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


# A small config with the reference's layout: 64x64, a quarter of the width.
_TINY = dict(image_size=64, depth_multiplier=0.25)


def _random_checkpoint(prefix, mult, seed=0, extra=None, drop=None):
  rng = np.random.default_rng(seed)
  tensors = {}
  for name, shape in _reference_variables(mult).items():
    value = rng.normal(size=shape)
    if name.endswith('weights'):  # fan-in scaled: activations stay O(1)
      fan_in = math.prod(shape[:2]) * (1 if 'depthwise' in name else shape[2])
      value *= math.sqrt(2.0 / fan_in)
    if name.endswith(('moving_variance', 'gamma')):
      value = np.abs(value) + 0.5
    value = value.astype(np.float32)
    tensors[name] = value
  tensors['global_step'] = np.array(200000, np.int64)
  tensors['FeatureExtractor/MobilenetV1/Conv2d_0/weights/RMSProp'] = (
      tensors['FeatureExtractor/MobilenetV1/Conv2d_0/weights'])
  tensors.update(extra or {})
  for n in drop or ():
    tensors.pop(n)
  writer.write_tf_checkpoint(str(prefix), tensors)
  return tensors


def _tf_same(x, k, stride):
  """TF 'SAME' padding: out = ceil(in / s), the odd pixel padded after."""
  n = x.shape[1]
  out = -(-n // stride)
  total = max((out - 1) * stride + k - n, 0)
  lo = total // 2
  x = np.pad(x, ((0, 0), (lo, total - lo), (lo, total - lo), (0, 0)))
  return x, out


def _numpy_forward(t, x, mult):
  """The TF graph in NumPy from the checkpoint's tensors by TF name:
  conv/depthwise (SAME), BatchNorm (eps 1e-3, moving stats), ReLU6; the
  predictors reshaped [B, H, W, A * n] -> [B, H * W * A, n]."""
  pre = 'FeatureExtractor/MobilenetV1/'
  depth = lambda d: max(int(d * mult), 16)

  def layer(x, scope, stride, depthwise=False):
    w = t[pre + scope + ('/depthwise_weights' if depthwise else '/weights')]
    k = w.shape[0]
    xp, out = _tf_same(x, k, stride)
    y = 0.0
    for i in range(k):
      for j in range(k):
        patch = xp[:, i:i + stride * out:stride, j:j + stride * out:stride]
        y = y + (patch * w[i, j, :, 0] if depthwise else patch @ w[i, j])
    bn = lambda v: t[f'{pre}{scope}/BatchNorm/{v}']
    y = (y - bn('moving_mean')) / np.sqrt(bn('moving_variance') + 1e-3) * (
        bn('gamma')) + bn('beta')
    return np.clip(y, 0, 6)

  x = layer(x.astype(np.float64), 'Conv2d_0', 2)
  maps = []
  for i, (stride, _) in enumerate(_DEFS, 1):
    x = layer(x, f'Conv2d_{i}_depthwise', stride, depthwise=True)
    x = layer(x, f'Conv2d_{i}_pointwise', 1)
    if i in (11, 13):
      maps.append(x)
  for i, d in zip(range(2, 6), (512, 256, 256, 128)):
    x = layer(x, f'Conv2d_13_pointwise_1_Conv2d_{i}_1x1_{depth(d // 2)}', 1)
    x = layer(x, f'Conv2d_13_pointwise_2_Conv2d_{i}_3x3_s2_{depth(d)}', 2)
    maps.append(x)
  codes, logits = [], []
  for k, f in enumerate(maps):
    for head, n, out in (('BoxEncodingPredictor', 4, codes),
                         ('ClassPredictor', 91, logits)):
      y = f @ t[f'BoxPredictor_{k}/{head}/weights'][0, 0] + t[
          f'BoxPredictor_{k}/{head}/biases']
      out.append(y.reshape(y.shape[0], -1, n))
  return np.concatenate(codes, 1), np.concatenate(logits, 1)


def test_tf_checkpoint_import_fills_every_variable(tmp_path):
  cfg = ssdm.reference_config(**_TINY)
  v = _shapes(cfg)
  tensors = _random_checkpoint(tmp_path / 'model.ckpt', 0.25)
  params, stats = tfw.read_checkpoint(str(tmp_path / 'model.ckpt'),
                                      v['params'], v['batch_stats'])
  flat = {**traverse_util.flatten_dict(params),
          **traverse_util.flatten_dict(stats)}
  names = {tfw.tf_name(p): p for p in flat}
  assert set(names) == set(_reference_variables(0.25))
  for name, path in names.items():
    ref = tensors[name]
    if name.endswith('depthwise_weights'):
      ref = ref.transpose(0, 1, 3, 2)   # TF [kh, kw, in, 1]
    np.testing.assert_array_equal(flat[path], ref, err_msg=name)
  # The imported model computes what the TF graph does.
  x = np.random.default_rng(1).uniform(-1, 1, (1, 64, 64, 3)).astype(
      np.float32)
  codes, logits = jax.jit(ssdm.SSDMobileNetV1(cfg).apply)(
      {'params': params, 'batch_stats': stats}, jnp.asarray(x))
  ref_codes, ref_logits = _numpy_forward(tensors, x, 0.25)
  assert codes.shape == ref_codes.shape == (1, 4 * 4 * 3 + 2 * 2 * 6 + 4 * 6,
                                            4)
  np.testing.assert_allclose(codes, ref_codes, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(logits, ref_logits, rtol=1e-4, atol=1e-4)
  # Serving it: tests/inference/test_ssd_mobilenet_inference.py.


def test_tf_checkpoint_import_names_missing_and_unexpected(tmp_path):
  cfg = ssdm.reference_config(**_TINY)
  v = _shapes(cfg)
  gone = 'BoxPredictor_3/ClassPredictor/biases'
  _random_checkpoint(tmp_path / 'bad', 0.25, drop=[gone],
                     extra={'BoxPredictor_6/ClassPredictor/weights':
                            np.zeros((1, 1, 4, 4), np.float32)})
  with pytest.raises(ValueError) as e:
    tfw.read_checkpoint(str(tmp_path / 'bad'), v['params'], v['batch_stats'])
  msg = str(e.value)
  assert f'missing {gone}' in msg
  assert 'unexpected 1 variables: BoxPredictor_6/ClassPredictor/weights' in msg
  # The full-width checkpoint does not fit the quarter-width model.
  with pytest.raises(ValueError, match=r'BoxPredictor_0/ClassPredictor/'
                     r'weights has shape \(1, 1, 512, 273\), our BoxPredictor_0'
                     r'/ClassPredictor/kernel needs it as \(1, 1, 128, 273\).*'
                     r'\(and \d+ more\)'):
    tfw.import_variables(
        {n: np.zeros(s, np.float32) for n, s in _reference_variables().items()},
        v['params'], v['batch_stats'])


def _tf_multiclass_nms(boxes, scores, thr, iou_thr, max_total):
  """multiclass_non_max_suppression of one image, in NumPy: per class
  (background dropped) every box above `thr`, greedy NMS (IoU > iou_thr
  suppresses), then the best `max_total` over classes; boxes clipped."""
  def iou(a, b):
    lt = np.maximum(a[:2], b[:, :2])
    rb = np.minimum(a[2:], b[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), 1)
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])
    return inter / (area(a) + area(b) - inter)

  out = []
  for c in range(1, scores.shape[1]):
    idx = np.nonzero(scores[:, c] > thr)[0]
    idx = idx[np.argsort(-scores[idx, c], kind='stable')]
    while idx.size:
      i, idx = idx[0], idx[1:]
      out.append((scores[i, c], c, boxes[i]))
      idx = idx[iou(boxes[i], boxes[idx]) <= iou_thr]
  out.sort(key=lambda t: -t[0])
  out = out[:max_total]
  return (np.array([s for s, _, _ in out]), np.array([c for _, c, _ in out]),
          np.clip(np.array([b for _, _, b in out]), 0, 1))


def test_postprocess_matches_tf_multiclass_nms():
  cfg = ssdm.reference_config(**_TINY)
  anchors = ssdm.anchor_table(cfg)
  rng = np.random.default_rng(5)
  codes = rng.normal(0, 1, (1, len(anchors), 4)).astype(np.float32)
  logits = rng.normal(-2, 1.5, (1, len(anchors), 91)).astype(np.float32)
  det = jax.device_get(jax.jit(ssdm.postprocess)(
      jnp.asarray(codes), jnp.asarray(logits), anchors))
  yxyx = np.asarray(grid_anchors.decode(jnp.asarray(codes[0]), anchors))
  scores = 1 / (1 + np.exp(-logits[0].astype(np.float64)))
  ref_s, ref_c, ref_b = _tf_multiclass_nms(yxyx[:, [1, 0, 3, 2]], scores,
                                           0.3, 0.6, 100)
  assert len(ref_s) == 100 and det.valid.all()
  np.testing.assert_allclose(det.scores[0], ref_s, rtol=1e-5)
  np.testing.assert_array_equal(det.classes[0], ref_c)
  np.testing.assert_allclose(det.boxes[0], ref_b, atol=1e-5)
