# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MSRA C2 ImageNet ResNet import (Detectron `R-50.pkl`, read as
maskrcnn-benchmark's `c2_model_loading.py` does): names, layouts, frozen
parts, and files that must be refused."""

import os
import pickle
import struct

import flax
import jax
import jax.numpy as jnp
import numpy as np

from mlperf_jax.models import c2_resnet_weights as c2
from mlperf_jax.models import maskrcnn as m
from mlperf_jax.workloads import maskrcnn as mw

_TINY = ((1, 1, 1, 1), 8)


def _shapes(tree):
  return {k: tuple(v.shape) for k, v in
          flax.traverse_util.flatten_dict(dict(tree)).items()}


class _Python2Pickler(pickle._Pickler):  # pylint: disable=protected-access
  """Writes bytes as Python 2's str opcodes (BINSTRING), as the Detectron
  files were written; Python 3 reads them back with encoding='latin1'."""

  def save_bytes(self, obj):
    n = len(obj)
    self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj if n < 256 else
               pickle.BINSTRING + struct.pack('<i', n) + obj)
    self.memoize(obj)

  dispatch = dict(pickle._Pickler.dispatch)  # pylint: disable=protected-access
  dispatch[bytes] = save_bytes


def _write_c2(path, stages, width, rng, protocol=None):
  """A file in the Detectron layout: {'blobs': {name: OIHW array}} with the
  classifier and momentum blobs the reference skips; Python 2 style unless
  a Python 3 `protocol` is given."""
  blobs = {k: rng.normal(size=s).astype(np.float32) for k, s in
           c2.expected_shapes(stages, width).items()}
  blobs['fc1000_w'] = np.zeros((1000, 16 * width), np.float32)
  blobs['res2_0_branch2a_w_momentum'] = np.zeros((1,), np.float32)
  with open(path, 'wb') as f:
    if protocol is None:
      _Python2Pickler(f, protocol=2).dump({'blobs': blobs})
    else:
      pickle.dump({'blobs': blobs}, f, protocol=protocol)
  return blobs


def test_r50_names_are_the_detectron_blobs_and_fill_the_reference_model():
  stages, width = c2.ARCHS['R-50']
  cfg = m.reference_config()
  assert (stages, width) == (cfg.stage_sizes, cfg.width)
  assert mw.VARIANTS['reference'].extra['frozen_stages'] == cfg.frozen_stages
  shapes = c2.expected_shapes(stages, width)
  # 53 convs (the stem, 16 bottlenecks x 3, 4 projections), each with an
  # AffineChannel scale and bias.
  assert len(shapes) == 3 * 53
  assert shapes['conv1_w'] == (64, 3, 7, 7)
  assert shapes['res_conv1_bn_s'] == shapes['res_conv1_bn_b'] == (64,)
  assert shapes['res2_0_branch1_w'] == (256, 64, 1, 1)
  assert 'res2_1_branch1_w' not in shapes and 'res5_3_branch2a_w' not in shapes
  assert shapes['res3_0_branch2a_w'] == (128, 256, 1, 1)
  assert shapes['res4_5_branch2b_w'] == (256, 256, 3, 3)
  assert shapes['res5_2_branch2c_bn_b'] == (2048,)
  blobs = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
  got = c2.backbone_variables(blobs, stages, width, cfg.frozen_stages)
  model = m.MaskRCNN(cfg)
  batch = {'image': jnp.zeros((1, 64, 64, 3)),
           'image_hw': jnp.full((1, 2), 64, jnp.int32)}
  want = flax.linen.meta.unbox(jax.eval_shape(
      lambda: model.init({'params': jax.random.key(0)}, batch, train=False)))
  assert _shapes(got['frozen']) == _shapes(want['frozen']['backbone'])
  assert _shapes(got['frozen_bn']) == _shapes(want['frozen_bn']['backbone'])
  trunk = {k: v for k, v in _shapes(want['params']['backbone']).items()
           if not k[0].startswith('fpn')}
  assert _shapes(got['params']) == trunk


def test_a_c2_file_loads_with_oihw_kernels_and_affine_frozen_bn(tmp_path):
  rng = np.random.default_rng(0)
  stages, width = _TINY
  path = tmp_path / 'R-tiny.pkl'
  blobs = _write_c2(path, stages, width, rng)
  got = c2.backbone_variables(c2.read(str(path)), stages, width, 2)
  assert set(got['frozen']) == {'stem_conv', 'res2_0'}
  k = got['params']['res3_0']['conv2']['kernel']
  np.testing.assert_array_equal(
      k, blobs['res3_0_branch2b_w'].transpose(2, 3, 1, 0))
  bn = got['frozen_bn']['res4_0']['downsample_bn']
  np.testing.assert_array_equal(bn['weight'], blobs['res4_0_branch1_bn_s'])
  np.testing.assert_array_equal(bn['bias'], blobs['res4_0_branch1_bn_b'])
  assert not bn['running_mean'].any() and (bn['running_var'] == 1).all()
  # The stem through the model equals the C2 conv (OIHW cross-correlation,
  # stride 2, pad 3) followed by the AffineChannel, in NumPy.
  cfg = m.reference_config(stage_sizes=stages, width=width)
  x = rng.normal(size=(1, 12, 10, 3)).astype(np.float32)
  net = m.Backbone(cfg)
  variables = {'frozen': got['frozen'], 'frozen_bn': got['frozen_bn'],
               'params': {**got['params'], **_fpn_params(net, x)}}
  _, inter = jax.jit(lambda v, im: net.apply(
      v, im, capture_intermediates=True, mutable=['intermediates']))(
          variables, jnp.asarray(x))
  out = np.asarray(inter['intermediates']['stem_bn']['__call__'][0])
  w = blobs['conv1_w']
  xp = np.pad(x[0], ((3, 3), (3, 3), (0, 0)))
  want = np.zeros((6, 5, width), np.float32)
  for i in range(6):
    for j in range(5):
      patch = xp[2 * i:2 * i + 7, 2 * j:2 * j + 7]      # [7, 7, C]
      want[i, j] = np.einsum('hwc,ochw->o', patch, w)
  want = want * blobs['res_conv1_bn_s'] + blobs['res_conv1_bn_b']
  np.testing.assert_allclose(out[0], want, rtol=1e-4, atol=1e-4)


def _fpn_params(net, x):
  v = jax.eval_shape(lambda: net.init(jax.random.key(0), jnp.asarray(x)))
  return jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), {
      k: p for k, p in flax.linen.meta.unbox(v['params']).items()
      if k.startswith('fpn')})


class _Boom:
  def __reduce__(self):
    return (os.system, ('touch c2_marker',))


def test_bad_weight_files_are_refused_with_every_problem(tmp_path,
                                                         monkeypatch):
  monkeypatch.chdir(tmp_path)
  wl = mw.MaskRCNNWorkload('reference', data_dir=str(tmp_path))
  hp = wl.resolve_hparams()

  def problems(path):
    return wl.check_request(hp, division='closed', init_checkpoint=str(path),
                            dry_run=True)
  text = tmp_path / 'weights.txt'
  text.write_text('not weights')
  got = problems(text)
  assert len(got) == 1 and 'not a Caffe2/Detectron weights pickle' in got[0]
  assert 'R-50.pkl' in got[0] and str(text) in got[0]
  evil = tmp_path / 'evil.pkl'
  evil.write_bytes(pickle.dumps({'blobs': {'conv1_w': _Boom()}}))
  got = problems(evil)
  assert 'posix.system' in got[0] or 'os.system' in got[0]
  assert not (tmp_path / 'c2_marker').exists()     # never run
  listed = tmp_path / 'list.pkl'
  listed.write_bytes(pickle.dumps([np.zeros(3)]))
  assert 'holds a list' in problems(listed)[0]
  assert 'cannot read it' in problems(tmp_path / 'absent.pkl')[0]
  broken = tmp_path / 'R-50.pkl'
  stages, width = c2.ARCHS['R-50']
  shapes = c2.expected_shapes(stages, width)
  blobs = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
  del blobs['res4_2_branch2b_w']
  blobs['res5_0_branch1_bn_s'] = np.zeros((7,), np.float32)
  blobs['conv1_w'] = 'weights'
  with open(broken, 'wb') as f:
    pickle.dump(blobs, f, protocol=2)
  got = problems(broken)[0]
  assert 'res4_2_branch2b_w (256, 256, 3, 3) is missing' in got
  assert 'res5_0_branch1_bn_s has shape (7,), the model needs (2048,)' in got
  assert 'conv1_w is a str' in got
  mini = mw.MaskRCNNWorkload('mini')
  got = mini.check_request(mini.resolve_hparams(), division='closed',
                           init_checkpoint=str(broken), dry_run=True)
  assert len(got) == 1 and 'drop --init-checkpoint' in got[0]
