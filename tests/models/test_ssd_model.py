# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD: reference size by eval_shape, head order, loss and decode against
NumPy transcriptions of the reference (`base_model.py` `Loss`,
`utils.py` `Encoder.scale_back_batch`), the 1.1.0 tensor names."""

import pathlib
import re

import jax
import jax.numpy as jnp
import mlperf_logging
import numpy as np
import pytest

from mlperf_jax.models import box_ops
from mlperf_jax.models import resnet34_backbone as trunk
from mlperf_jax.models import ssd

_YAML = (pathlib.Path(mlperf_logging.__file__).parent / 'compliance_checker' /
         'training_1.1.0' / 'closed_ssd.yaml')


def _abstract(cfg):
  shape = (1, cfg.image_size, cfg.image_size, cfg.image_channels)
  return jax.eval_shape(
      lambda r: ssd.SSD(cfg).init(r, jnp.zeros(shape), train=False),
      jax.random.PRNGKey(0))


@pytest.fixture(scope='module')
def reference_vars():
  return _abstract(ssd.ssd300_config())


def test_reference_parameter_count_and_boxes(reference_vars):
  params = reference_vars['params']
  assert ssd.param_count(params) == 19_972_534
  count = lambda pred: sum(int(np.prod(v.shape)) for k, v in
                           jax.tree_util.tree_leaves_with_path(
                               jax.tree.map(lambda x: x, params))
                           if pred(jax.tree_util.keystr(k)))
  assert count(lambda k: 'backbone' in k) == 8_170_304
  assert count(lambda k: 'extra' in k) == 3_574_400
  assert count(lambda k: 'loc' in k or 'conf' in k) == 8_227_830
  cfg = ssd.ssd300_config()
  out = jax.eval_shape(lambda v: ssd.SSD(cfg).apply(
      v, jnp.zeros((2, 300, 300, 3)), train=False), reference_vars)
  assert out[0].shape == (2, 8732, 4) and out[1].shape == (2, 8732, 81)
  # Trunk output 38x38x256: layer3's first block at stride 1.
  feat = jax.eval_shape(lambda: trunk.ResNetTrunk(cfg.backbone).init_with_output(
      jax.random.PRNGKey(0), jnp.zeros((1, 300, 300, 3)), train=False)[0])
  assert feat.shape == (1, 38, 38, 256)


def test_tensor_names_are_the_checkers_119(reference_vars):
  want = set(re.findall(r'"(ssd0_[a-z0-9_]+)"', _YAML.read_text()))
  names = ssd.weight_names(reference_vars['params'])
  assert len(want) == 119 and set(names.values()) == want
  # Conv numbering within a stage: block 0's conv1, conv2, downsample.
  by_path = {'/'.join(k): v for k, v in names.items()}
  assert by_path['backbone/layer2_0/downsample_conv/kernel'] == (
      'ssd0_resnetmlperf0_stage2_conv2_weight')
  assert by_path['backbone/layer2_1/conv1/kernel'] == (
      'ssd0_resnetmlperf0_stage2_conv3_weight')
  assert by_path['loc3/bias'] == by_path['conf3/bias'] == (
      'ssd0_convpredictor3_conv0_bias')


def test_torchvision_names():
  assert trunk.torchvision_name(('layer2_0', 'downsample_conv', 'kernel')) == (
      'layer2.0.downsample.0.weight')
  assert trunk.torchvision_name(('bn1', 'mean'), 'batch_stats') == (
      'bn1.running_mean')
  assert trunk.torchvision_name(('layer3_5', 'bn2', 'scale')) == (
      'layer3.5.bn2.weight')


def test_head_layout_is_the_reference_view():
  """Channel j * nd + d of an NCHW head output, read with view(N, J, -1),
  is feature j of box d * H * W + cell."""
  rng = np.random.default_rng(0)
  b, h, w, j, nd = 2, 3, 4, 5, 6
  nhwc = rng.normal(size=(b, h, w, j * nd)).astype(np.float32)
  nchw = nhwc.transpose(0, 3, 1, 2)
  want = nchw.reshape(b, j, -1).transpose(0, 2, 1)   # torch view + permute
  got = np.asarray(ssd._reference_order(jnp.asarray(nhwc), j, nd))
  np.testing.assert_array_equal(got, want)


def _np_loss(ploc, plabel, gloc, glabel, dboxes):
  """`Loss.forward`, transcribed (torch layouts: [N, 4, D], [N, C, D])."""
  ploc, plabel = ploc.transpose(0, 2, 1), plabel.transpose(0, 2, 1)
  gloc = gloc.transpose(0, 2, 1)
  d = dboxes.T[None]
  mask = glabel > 0
  pos_num = mask.sum(1)
  gxy = 10.0 * (gloc[:, :2] - d[:, :2]) / d[:, 2:]
  gwh = 5.0 * np.log(gloc[:, 2:] / d[:, 2:])
  vec = np.concatenate([gxy, gwh], 1)
  diff = np.abs(ploc - vec)
  sl1 = np.where(diff < 1, 0.5 * diff ** 2, diff - 0.5).sum(1)
  sl1 = (mask * sl1).sum(1)
  x = plabel - plabel.max(1, keepdims=True)
  logp = x - np.log(np.exp(x).sum(1, keepdims=True))
  con = -np.take_along_axis(logp, glabel[:, None], 1)[:, 0]
  con_neg = con.copy()
  con_neg[mask] = 0
  con_idx = np.argsort(-con_neg, 1, kind='stable')
  con_rank = np.argsort(con_idx, 1, kind='stable')
  neg_num = np.minimum(3 * pos_num, mask.shape[1])[:, None]
  neg_mask = con_rank < neg_num
  closs = (con * (mask + neg_mask)).sum(1)
  total = sl1 + closs
  num_mask = pos_num > 0
  return total * num_mask / np.maximum(pos_num, 1e-6)


def test_loss_equals_reference_transcription():
  cfg = ssd.mini_config()
  dxywh, dltrb = ssd.default_tables(cfg)
  rng = np.random.default_rng(2)
  b, g = 4, 3
  xy = rng.uniform(0, 0.7, (b, g, 2))
  boxes = np.concatenate([xy, xy + rng.uniform(0.1, 0.3, (b, g, 2))], -1)
  labels = rng.integers(1, 11, (b, g)).astype(np.int32)
  labels[1, 1:] = 0                  # one box
  labels[3] = 0                      # no ground truth: loss 0
  gloc, glabel = ssd.encode_targets(jnp.asarray(boxes, jnp.float32),
                                    jnp.asarray(labels), jnp.asarray(dltrb))
  d = dxywh.shape[0]
  ploc = rng.normal(0, 1, (b, d, 4)).astype(np.float32)
  plabel = rng.normal(0, 2, (b, d, 11)).astype(np.float32)
  got = np.asarray(jax.jit(ssd.ssd_loss)(ploc, plabel, gloc, glabel, dxywh))
  want = _np_loss(ploc.astype(np.float64), plabel.astype(np.float64),
                  np.asarray(gloc, np.float64), np.asarray(glabel),
                  dxywh.astype(np.float64))
  np.testing.assert_allclose(got, want, rtol=2e-5)
  assert got[3] == 0 and (got[:3] > 0).all()


def test_decode_equals_scale_back():
  cfg = ssd.mini_config()
  dxywh, _ = ssd.default_tables(cfg)
  rng = np.random.default_rng(3)
  off = rng.normal(0, 1, (1, len(dxywh), 4)).astype(np.float32)
  got = np.asarray(box_ops.decode_offsets(off, dxywh))[0]
  xy = 0.1 * off[0, :, :2] * dxywh[:, 2:] + dxywh[:, :2]
  wh = np.exp(0.2 * off[0, :, 2:]) * dxywh[:, 2:]
  np.testing.assert_allclose(got, np.concatenate([xy - wh / 2, xy + wh / 2],
                                                 1), rtol=1e-5, atol=1e-6)


def test_mini_model_runs_and_matches_its_boxes():
  cfg = ssd.mini_config()
  v = ssd.SSD(cfg).init(jax.random.PRNGKey(0), jnp.zeros((2, 64, 64, 1)),
                        train=False)
  assert ssd.param_count(v['params']) < 600_000
  loc, conf = ssd.SSD(cfg).apply(v, jnp.ones((2, 64, 64, 1)), train=False)
  assert loc.shape == (2, 1472, 4) and conf.shape == (2, 1472, 11)
  bad = ssd.mini_config(boxes=ssd.dboxes_lib.SSD300)
  with pytest.raises(ValueError, match='feature maps'):
    ssd.SSD(bad).init(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 1)),
                      train=False)
