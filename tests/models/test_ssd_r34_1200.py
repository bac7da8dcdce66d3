# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The MLPerf Inference SSD-ResNet-34 1200 and its PyTorch weight import.

The reference is mlcommons/inference `vision/classification_and_detection/
python/models/ssd_r34.py` (+ `base_model_r34.py`). Its state-dict layout is
transcribed here from that file's module tree (not from our importer); the
checkpoint files are written by `support/torch_checkpoint_writer.py`, which
follows torch's `serialization.py` byte layout (torch is not installed).
"""

import collections
import itertools
import math
import pickle

import jax
import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.formats import torch_checkpoint
from mlperf_jax.models import default_boxes
from mlperf_jax.models import ssd
from mlperf_jax.models import ssd_reference_weights as refw
from support import torch_checkpoint_writer as tw


def _reference_layout(label_num=81, trunk=((3, 64, 64), (4, 64, 128),
                                           (6, 128, 256)), stem=(64, 3, 7),
                      out_chan=(256, 512, 512, 256, 256, 256),
                      mids=(256, 256, 128, 128, 128),
                      num_defaults=(4, 6, 6, 6, 4, 4)):
  """{state-dict key: torch shape} of `SSD_R34` (defaults: the official
  model), in `state_dict()` order."""
  sd = {}

  def conv(name, o, i, k, bias):
    sd[f'{name}.weight'] = (o, i, k, k)
    if bias:
      sd[f'{name}.bias'] = (o,)

  def bn(name, c):
    for s in ('weight', 'bias', 'running_mean', 'running_var'):
      sd[f'{name}.{s}'] = (c,)
  conv('model.layer1.0', stem[0], stem[1], stem[2], False)
  bn('model.layer1.1', stem[0])
  prefixes = ('model.layer1.4', 'model.layer1.5', 'model.layer2.0')
  for prefix, (n, cin, cout) in zip(prefixes, trunk):
    for b in range(n):
      p, c0 = f'{prefix}.{b}', (cin if b == 0 else cout)
      conv(f'{p}.conv1', cout, c0, 3, False)
      bn(f'{p}.bn1', cout)
      conv(f'{p}.conv2', cout, cout, 3, False)
      bn(f'{p}.bn2', cout)
      if b == 0 and cin != cout:
        conv(f'{p}.downsample.0', cout, cin, 1, False)
        bn(f'{p}.downsample.1', cout)
  for i, mid in enumerate(mids):
    conv(f'additional_blocks.{i}.0', mid, out_chan[i], 1, True)
    conv(f'additional_blocks.{i}.2', out_chan[i + 1], mid, 3, True)
  for k, (nd, oc) in enumerate(zip(num_defaults, out_chan)):
    conv(f'loc.{k}', nd * 4, oc, 3, True)
  for k, (nd, oc) in enumerate(zip(num_defaults, out_chan)):
    conv(f'conf.{k}', nd * label_num, oc, 3, True)
  return sd


def _reference_dboxes_1200():
  """`dboxes_R34_coco((1200, 1200), ...)`, transcribed in NumPy."""
  fig, feat = 1200, [50, 25, 13, 7, 3, 3]
  steps = [int(fig / f) for f in feat]
  scales = [int(s * fig / 300) for s in [21, 45, 99, 153, 207, 261, 315]]
  ratios = [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
  fk = fig // np.array(steps)
  out = []
  for idx, f in enumerate(feat):
    sk1, sk2 = scales[idx] / fig, scales[idx + 1] / fig
    sizes = [(sk1, sk1), (math.sqrt(sk1 * sk2),) * 2]
    for a in ratios[idx]:
      w, h = sk1 * math.sqrt(a), sk1 / math.sqrt(a)
      sizes += [(w, h), (h, w)]
    for w, h in sizes:
      for i, j in itertools.product(range(f), range(f)):
        out.append(((j + 0.5) / fk[idx], (i + 0.5) / fk[idx], w, h))
  return np.clip(np.array(out, np.float32), 0, 1)


@pytest.fixture(scope='module')
def shapes_1200():
  cfg = ssd.ssd_r34_1200_config()
  model = ssd.SSD(cfg)
  x = jax.ShapeDtypeStruct((1, 1200, 1200, 3), jnp.float32)
  variables = jax.eval_shape(lambda x: model.init(
      jax.random.PRNGKey(0), x, train=False), x)
  outs = jax.eval_shape(lambda v, x: model.apply(v, x, train=False),
                        variables, x)
  return cfg, variables, outs


def test_ssd_r34_1200_size_boxes_and_outputs(shapes_1200):
  cfg, variables, (locs, confs) = shapes_1200
  layout = _reference_layout()
  want = sum(math.prod(s) for k, s in layout.items() if 'running' not in k)
  assert ssd.param_count(variables['params']) == want == 19_972_534
  assert cfg.boxes.num_boxes == 15_130
  assert locs.shape == (1, 15_130, 4) and confs.shape == (1, 15_130, 81)
  np.testing.assert_allclose(default_boxes.default_boxes_xywh(cfg.boxes),
                             _reference_dboxes_1200(), rtol=0, atol=1e-7)
  # The floor division matters: 1200 / 92 would put the 13x13 map's last
  # centre at 0.996 rather than 12.5 / 13 = 0.962.
  xywh = default_boxes.default_boxes_xywh(cfg.boxes)
  first13 = 50 * 50 * 4 + 25 * 25 * 6
  assert xywh[first13 + 12, 0] == pytest.approx(12.5 / 13)


def test_official_layout_imports_completely(shapes_1200):
  _, variables, _ = shapes_1200
  layout = _reference_layout()
  state = {k: np.broadcast_to(np.float32(i), s)
           for i, (k, s) in enumerate(layout.items())}
  state['model.layer1.1.num_batches_tracked'] = np.int64(0)
  params, stats = refw.import_state_dict(state, variables['params'],
                                         variables['batch_stats'])
  assert jax.tree.map(np.shape, params) == jax.tree.map(
      lambda s: s.shape, nn.unbox(variables['params']))
  assert params['loc3']['kernel'].shape == (3, 3, 256, 24)
  idx = list(layout).index('model.layer2.0.0.downsample.1.running_var')
  assert (stats['backbone']['layer3_0']['downsample_bn']['var'] == idx).all()
  del state['conf.5.bias']
  state['conf.5.weight'] = np.zeros((16 * 91, 256, 3, 3), np.float32)
  with pytest.raises(ValueError) as e:
    refw.import_state_dict(state, variables['params'],
                           variables['batch_stats'])
  assert 'missing conf.5.bias' in str(e.value)
  assert 'conf.5.weight has shape (1456, 256, 3, 3)' in str(e.value)


# A small model of the same module tree (the mini SSD's trunk and heads).
_MINI = dict(label_num=11, trunk=((1, 24, 32), (1, 32, 64), (1, 64, 96)),
             stem=(24, 1, 3), out_chan=(96, 96, 96), mids=(48, 48),
             num_defaults=(4, 6, 4))


def _pickled_model(rng):
  """`SSD_R34`-like module objects holding random weights, and the state
  dict they hold. Two parameters share one storage (at an offset) and one
  is non-contiguous (a transposed view), as torch tensors can be."""
  layout = _reference_layout(**_MINI)
  values = {k: rng.standard_normal(s).astype(np.float32)
            for k, s in layout.items()}
  cls = {n: tw.global_class(m, n) for m, n in (
      ('torch.nn.modules.conv', 'Conv2d'),
      ('torch.nn.modules.batchnorm', 'BatchNorm2d'),
      ('torch.nn.modules.activation', 'ReLU'),
      ('torch.nn.modules.pooling', 'MaxPool2d'),
      ('torch.nn.modules.container', 'Sequential'),
      ('torch.nn.modules.container', 'ModuleList'),
      ('torchvision.models.resnet', 'BasicBlock'),
      ('models.base_model_r34', 'ResNet34'),
      ('models.ssd_r34', 'SSD_R34'), ('models.ssd_r34', 'Encoder'))}

  def conv(name):
    return tw.module(cls['Conv2d'], {'weight': values[f'{name}.weight'],
                                     'bias': values.get(f'{name}.bias')},
                     in_channels=3, stride=(1, 1), padding_mode='zeros')

  def bn(name):
    return tw.module(cls['BatchNorm2d'],
                     {s: values[f'{name}.{s}'] for s in ('weight', 'bias')},
                     {'running_mean': values[f'{name}.running_mean'],
                      'running_var': values[f'{name}.running_var'],
                      'num_batches_tracked': np.array(7, np.int64)},
                     eps=1e-05, momentum=0.1)

  def seq(*mods, kind='Sequential'):
    return tw.module(cls[kind], children={str(i): m for i, m in
                                          enumerate(mods)})

  def block(p, down):
    kids = {'conv1': conv(f'{p}.conv1'), 'bn1': bn(f'{p}.bn1'),
            'relu': tw.module(cls['ReLU'], inplace=True),
            'conv2': conv(f'{p}.conv2'), 'bn2': bn(f'{p}.bn2')}
    kids['downsample'] = seq(conv(f'{p}.downsample.0'),
                             bn(f'{p}.downsample.1')) if down else None
    return tw.module(cls['BasicBlock'], children=kids, stride=1)
  relu = tw.module(cls['ReLU'], inplace=True)
  trunk = tw.module(cls['ResNet34'], children={
      'layer1': seq(conv('model.layer1.0'), bn('model.layer1.1'), relu,
                    tw.module(cls['MaxPool2d'], kernel_size=3),
                    seq(block('model.layer1.4.0', True)),
                    seq(block('model.layer1.5.0', True))),
      'layer2': seq(seq(block('model.layer2.0.0', True)))})
  extra = seq(*[seq(conv(f'additional_blocks.{i}.0'), relu,
                    conv(f'additional_blocks.{i}.2'), relu)
                for i in range(2)], kind='ModuleList')
  heads = {kind: seq(*[conv(f'{kind}.{k}') for k in range(3)],
                     kind='ModuleList') for kind in ('loc', 'conf')}
  encoder = cls['Encoder'].__new__(cls['Encoder'])
  encoder.__dict__.update(dboxes=tw.Tensor(np.zeros((8, 4), np.float32)),
                          nboxes=8)
  top = tw.module(cls['SSD_R34'], children={'model': trunk,
                                            'additional_blocks': extra,
                                            **heads},
                  label_num=11, strides=[3, 3, 2, 2, 2, 2],
                  encoder=encoder, size=(64, 64), device=1)
  # Sharing and strides: loc.0.bias at element 5 of loc.1.bias's storage;
  # conf.2.weight stored transposed.
  shared = np.concatenate([rng.standard_normal(5).astype(np.float32),
                           values['loc.0.bias'], values['loc.1.bias']])
  st = tw.Storage(shared)
  n0 = values['loc.0.bias'].size
  loc = heads['loc']._modules
  loc['0']._parameters['bias'] = tw.Parameter(shared[5:5 + n0], st, 5)
  loc['1']._parameters['bias'] = tw.Parameter(shared[5 + n0:], st, 5 + n0)
  w = values['conf.2.weight']
  base = np.ascontiguousarray(w.transpose(3, 2, 1, 0))
  heads['conf']._modules['2']._parameters['weight'] = tw.Parameter(
      base.transpose(3, 2, 1, 0), tw.Storage(base.ravel()), 0)
  return top, values, layout


def test_torch_files_round_trip_and_import(tmp_path):
  rng = np.random.default_rng(0)
  top, values, layout = _pickled_model(rng)
  tw.save_legacy(top, str(tmp_path / 'model.pytorch'))
  got = torch_checkpoint.state_dict(str(tmp_path / 'model.pytorch'))
  want_keys = [k for k in layout]
  tracked = [k for k in got if k.endswith('num_batches_tracked')]
  assert [k for k in got if k not in tracked] == want_keys
  assert len(tracked) == sum(k.endswith('running_mean') for k in layout)
  assert got[tracked[0]] == 7
  for k in want_keys:
    np.testing.assert_array_equal(got[k], values[k], err_msg=k)
  # The same weights as a zip-format state dict, big-endian.
  sd = collections.OrderedDict((k, tw.Tensor(v)) for k, v in values.items())
  tw.save_zip(sd, str(tmp_path / 'state.pt'), byteorder='big')
  got_zip = torch_checkpoint.state_dict(str(tmp_path / 'state.pt'))
  assert list(got_zip) == want_keys
  for k in want_keys:
    np.testing.assert_array_equal(got_zip[k], values[k], err_msg=k)
  # Into the mini SSD, whose tree is this one's.
  cfg = ssd.mini_config()
  shapes = jax.eval_shape(lambda: ssd.SSD(cfg).init(
      jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 1)), train=False))
  params, stats = refw.read_checkpoint(str(tmp_path / 'model.pytorch'),
                                       shapes['params'],
                                       shapes['batch_stats'])
  np.testing.assert_array_equal(
      params['conf2']['kernel'], values['conf.2.weight'].transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(params['extra1_conv1']['bias'],
                                values['additional_blocks.1.0.bias'])
  np.testing.assert_array_equal(
      stats['backbone']['layer2_0']['downsample_bn']['mean'],
      values['model.layer1.5.0.downsample.1.running_mean'])
  np.testing.assert_array_equal(params['backbone']['conv1']['kernel'],
                                values['model.layer1.0.weight'].transpose(
                                    2, 3, 1, 0))


def test_refuses_foreign_globals_and_non_checkpoints(tmp_path):
  evil = tmp_path / 'evil.pt'
  marker = tmp_path / 'ran'
  payload = pickle.dumps(
      {'w': type('X', (), {'__reduce__': lambda self: (
          __import__('os').system, (f'touch {marker}',))})()}, protocol=2)
  import zipfile  # pylint: disable=import-outside-toplevel
  with zipfile.ZipFile(evil, 'w') as z:
    z.writestr('archive/data.pkl', payload)
  with pytest.raises(torch_checkpoint.TorchCheckpointError, match='not a state dict'):
    torch_checkpoint.state_dict(str(evil))
  assert not marker.exists()
  (tmp_path / 'x.npz').write_bytes(b'not a checkpoint')
  with pytest.raises(torch_checkpoint.TorchCheckpointError,
                     match='neither a torch zip checkpoint nor a legacy'):
    torch_checkpoint.state_dict(str(tmp_path / 'x.npz'))
