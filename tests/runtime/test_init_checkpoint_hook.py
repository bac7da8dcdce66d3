# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`--init-checkpoint` through `Workload.load_init_state`: a checkpoint of a
part of the model (an ImageNet backbone) brings its parameters and its model
state (BatchNorm statistics, frozen affine) into the train state; the rest
keeps the run's own seeded init; params-only hooks (`load_init_checkpoint`)
keep working; bad files are `CheckpointError`s (exit 2) naming the problem.

Every file is written here, in the layout its reader documents.
"""

import dataclasses
import pickle
import types

import flax
import jax
import numpy as np
import pytest
from flax import traverse_util
from jax.sharding import NamedSharding, PartitionSpec

from mlperf_jax import workloads
from mlperf_jax.models import c2_resnet_weights as c2
from mlperf_jax.models import maskrcnn as maskrcnn_model
from mlperf_jax.models import resnet34_backbone as trunk
from mlperf_jax.runtime import checkpoint as ckpt_lib
from mlperf_jax.runtime import loop
from mlperf_jax.runtime import steps
from mlperf_jax.runtime.mllog import RunLog
from mlperf_jax.workloads import maskrcnn as mw
from mlperf_jax.workloads.resnet import ResNetWorkload


def _flat(tree):
  return traverse_util.flatten_dict(
      flax.core.unfreeze(flax.linen.meta.unbox(jax.device_get(tree))))


def _fresh(wl, hp, seed):
  """A fresh init of the workload's trees: random values (what the hook
  must keep where the file has nothing) in the shapes of `Workload.init`,
  traced, not run."""
  params, state = jax.eval_shape(lambda r: wl.init(r, hp),
                                 jax.random.PRNGKey(0))
  rng = np.random.default_rng(seed)
  fill = lambda x: np.asarray(rng.standard_normal(x.shape), x.dtype)
  return _flat(jax.tree.map(fill, params)), _flat(jax.tree.map(fill, state))


def _start(wl, hp, path, fresh):
  """The runtime's `start_from_checkpoint` on a train state holding the
  `fresh` trees (replicated; nothing compiled but the transfers)."""
  params, model_state = (traverse_util.unflatten_dict(t) for t in fresh)
  rep = NamedSharding(jax.sharding.Mesh(jax.devices()[:1], ('data',)),
                      PartitionSpec())
  state = jax.device_put(steps.TrainState(
      step=np.int32(0), params=params, model_state=model_state, opt_state=(),
      rng=np.zeros(2, np.uint32)), rep)
  compiled = types.SimpleNamespace(
      abstract_state=jax.eval_shape(lambda: state),
      state_sharding=jax.tree.map(lambda _: rep, state))
  state, note = loop.start_from_checkpoint(wl, compiled, state, path, hp)
  return _flat(state.params), _flat(state.model_state), note


# ---- the runtime: a stem checkpoint into the mini ResNet -------------------

class _StemImport(ResNetWorkload):
  """Starts from an `.npz` of its stem: `params/...` and `batch_stats/...`
  keys (conv0, bn0), the rest of the model as initialised."""

  def load_init_state(self, path, params, model_state, hp):
    params, model_state = jax.device_get((params, model_state))
    trees = {'params': traverse_util.flatten_dict(params),
             'batch_stats': traverse_util.flatten_dict(
                 model_state['batch_stats'])}
    with np.load(path) as z:
      for key in z.files:
        coll, *rest = key.split('/')
        trees[coll][tuple(rest)] = z[key]
    return (traverse_util.unflatten_dict(trees['params']),
            {'batch_stats': traverse_util.unflatten_dict(
                trees['batch_stats'])})


@pytest.mark.slow  # compiles the mini ResNet's steps (~20 s CPU); the
# default suite checks `start_from_checkpoint` below and BERT's loop test
# the call site.
def test_the_run_starts_from_the_hooks_params_and_state(tmp_path):
  wl = _StemImport('mini')
  hp = wl.resolve_hparams()
  rng = jax.random.split(jax.random.PRNGKey(3))[0]  # what seed 3 inits
  fresh_params, fresh_state = map(_flat, jax.jit(
      lambda r: wl.init(r, hp))(rng))
  rng = np.random.default_rng(0)
  stem = {k: rng.normal(size=v.shape).astype(np.float32)
          for k, v in fresh_params.items() if k[0] in ('conv0', 'bn0')}
  stats = {k: rng.uniform(0.5, 2, size=v.shape).astype(np.float32)
           for k, v in fresh_state.items() if k[1] == 'bn0'}
  path = tmp_path / 'stem.npz'
  np.savez(path, **{'params/' + '/'.join(k): v for k, v in stem.items()},
           **{'/'.join(k): v for k, v in stats.items()})
  log = RunLog(str(tmp_path / 'mllog.txt'))
  r = loop.run(wl, hp, loop.RunOptions(seed=3, max_steps=0, progress=False,
                                       init_checkpoint=str(path)), log)
  log.close()
  assert r.steps == 0
  got_params, got_state = _flat(r.state.params), _flat(r.state.model_state)
  assert set(got_params) == set(fresh_params)
  assert len(stem) == 3 and len(stats) == 2
  for k, v in got_params.items():
    np.testing.assert_array_equal(v, stem.get(k, fresh_params[k]),
                                  err_msg=str(k))
  for k, v in got_state.items():
    np.testing.assert_array_equal(v, stats.get(k, fresh_state[k]),
                                  err_msg=str(k))
  note = [line for line in (tmp_path / 'mllog.txt').read_text().splitlines()
          if 'initial weights loaded' in line]
  assert len(note) == 1 and 'of the model state:' in note[0]
  assert loop.params_digest(r.state.model_state) in note[0]


def test_params_only_hooks_keep_the_state_and_misfits_are_named(tmp_path):
  wl = workloads.get('resnet', 'mini')
  hp = wl.resolve_hparams()
  fresh = fresh_params, fresh_state = _fresh(wl, hp, seed=0)
  files = {}

  class _Old(ResNetWorkload):
    def load_init_checkpoint(self, path, abstract_params, hp):
      assert all(isinstance(x, jax.ShapeDtypeStruct)
                 for x in jax.tree.leaves(abstract_params))
      return traverse_util.unflatten_dict(files[path])

  assert _Old.starts_from_checkpoint() and _StemImport.starts_from_checkpoint()
  assert not ResNetWorkload.starts_from_checkpoint()
  files['all'] = {k: v + 1 for k, v in fresh_params.items()}
  params, state, _ = _start(_Old('mini'), hp, 'all', fresh)
  for k, v in params.items():
    np.testing.assert_array_equal(v, fresh_params[k] + 1)
  for k, v in state.items():
    np.testing.assert_array_equal(v, fresh_state[k])
  bad = dict(files['all'])
  bad[('fc1', 'kernel')] = np.zeros((3, 10), np.float32)
  bad[('conv0', 'kernel')] = bad[('conv0', 'kernel')].astype(np.float64)
  del bad[('bn0', 'scale')]
  bad[('head', 'bias')] = np.zeros(2, np.float32)
  files['bad'] = bad
  with pytest.raises(ckpt_lib.CheckpointError) as e:
    _start(_Old('mini'), hp, 'bad', fresh)
  msg = str(e.value)
  assert msg.startswith('--init-checkpoint bad: ')
  assert "parameter ['bn0']['scale'] is missing" in msg
  assert "parameter ['head']['bias'] is not in the model" in msg
  assert "['conv0']['kernel'] is float64[3, 3, 1, 16], the model needs " \
         'float32[3, 3, 1, 16]' in msg
  assert "['fc1']['kernel'] is float32[3, 10]" in msg


# ---- SSD: the reference's torchvision ResNet-34 trunk ----------------------

def test_ssd_trunk_brings_its_batchnorm_statistics(tmp_path):
  """A torchvision-layout pickle (what the reference's `pth_to_pickle.py`
  writes from `resnet34-333f7ec4.pth`) fills the trunk's params and BN
  running statistics; extra blocks and heads keep the seed's init."""
  wl = workloads.get('ssd', 'mini')
  hp = wl.resolve_hparams()
  fresh = fresh_params, fresh_state = _fresh(wl, hp, seed=0)
  rng = np.random.default_rng(0)
  weights, want_params, want_stats = {}, {}, {}
  for k, leaf in fresh_params.items():
    if k[0] == 'backbone':
      want_params[k] = rng.normal(size=leaf.shape).astype(np.float32)
      v = want_params[k]
      weights[trunk.torchvision_name(k[1:])] = (
          v.transpose(3, 2, 0, 1) if v.ndim == 4 else v)
  for k, leaf in fresh_state.items():
    want_stats[k] = rng.uniform(0.5, 2, size=leaf.shape).astype(np.float32)
    weights[trunk.torchvision_name(k[2:], 'batch_stats')] = want_stats[k]
  weights['fc.weight'] = np.zeros((1000, 512), np.float32)  # ignored
  weights['bn1.num_batches_tracked'] = np.int64(5)            # ignored
  assert 'layer1.0.conv1.weight' in weights and all(
      k[1] == 'backbone' for k in want_stats)
  path = tmp_path / 'resnet34.pickle'
  path.write_bytes(pickle.dumps(weights))
  assert wl.check_request(hp, division='closed', init_checkpoint=str(path),
                          dry_run=False) == []
  params, state, note = _start(wl, hp, str(path), fresh)
  assert 'sha256 of the loaded parameters' in note
  assert set(params) == set(fresh_params) and set(state) == set(fresh_state)
  for k, v in params.items():
    np.testing.assert_array_equal(v, want_params.get(k, fresh_params[k]),
                                  err_msg=str(k))
  assert any(k[0] == 'conf0' for k in params) and len(want_params) < len(
      params)
  for k, v in state.items():
    np.testing.assert_array_equal(v, want_stats[k], err_msg=str(k))
  np.savez(tmp_path / 'w.npz', **weights)
  params, state, _ = _start(wl, hp, str(tmp_path / 'w.npz'), fresh)
  np.testing.assert_array_equal(params[('backbone', 'conv1', 'kernel')],
                                want_params[('backbone', 'conv1', 'kernel')])
  # Bad files: the problem, named, as the CLI's exit 2.
  bad = tmp_path / 'bad.pickle'
  bad.write_bytes(b'not a pickle')
  with pytest.raises(ckpt_lib.CheckpointError,
                     match='not a ResNet-34 weight file'):
    _start(wl, hp, str(bad), fresh)
  del weights['layer2.0.downsample.0.weight']
  del weights['layer1.0.bn2.running_var']
  weights['layer1.0.conv1.weight'] = np.zeros((1, 1, 3, 3), np.float32)
  bad.write_bytes(pickle.dumps(weights))
  with pytest.raises(ckpt_lib.CheckpointError) as e:
    _start(wl, hp, str(bad), fresh)
  # The CLI finds the same problems before anything is compiled (exit 2).
  (early,) = wl.check_request(hp, division='closed',
                              init_checkpoint=str(bad), dry_run=False)
  assert early.startswith(f'--init-checkpoint {bad}: ')
  for part in ('missing layer2.0.downsample.0.weight',
               'missing layer1.0.bn2.running_var',
               'layer1.0.conv1.weight has shape (1, 1, 3, 3)'):
    assert part in str(e.value) and part in early
  bad.write_bytes(pickle.dumps([1, 2]))
  with pytest.raises(ckpt_lib.CheckpointError, match='pth_to_pickle'):
    _start(wl, hp, str(bad), fresh)


# ---- Mask R-CNN: the MSRA C2 ResNet (R-50.pkl layout, a tiny one) ----------

_TINY = ((1, 1, 1, 1), 8)


class _TinyReference(mw.MaskRCNNWorkload):
  variants = {'reference': dataclasses.replace(
      mw.VARIANTS['reference'],
      model=lambda dtype: maskrcnn_model.reference_config(
          stage_sizes=_TINY[0], width=_TINY[1], fpn_channels=8, box_fc=16,
          mask_convs=(8,), num_classes=3),
      extra={**mw.VARIANTS['reference'].extra,
             'train_buckets': ((64, 64),)})}


def test_maskrcnn_backbone_brings_frozen_convs_and_frozen_bn(
    tmp_path, monkeypatch):
  monkeypatch.setitem(c2.ARCHS, 'R-50', _TINY)
  rng = np.random.default_rng(1)
  blobs = {k: rng.normal(size=s).astype(np.float32)
           for k, s in c2.expected_shapes(*_TINY).items()}
  blobs['fc1000_w'] = np.zeros((1000, 16 * _TINY[1]), np.float32)  # skipped
  path = str(tmp_path / 'R-50.pkl')
  with open(path, 'wb') as f:
    pickle.dump({'blobs': blobs}, f, protocol=2)
  wl = _TinyReference('reference', synthetic=True)
  hp = wl.resolve_hparams()
  assert wl.check_request(hp, division='closed', init_checkpoint=path,
                          dry_run=False) == []
  fresh = fresh_params, fresh_state = _fresh(wl, hp, seed=0)
  params, state, _ = _start(wl, hp, path, fresh)
  t = lambda a: a.transpose(2, 3, 1, 0)
  # Trainable res3-res5 convs: params; the stem and res2: frozen state.
  np.testing.assert_array_equal(
      params[('backbone', 'res4_0', 'downsample', 'kernel')],
      t(blobs['res4_0_branch1_w']))
  np.testing.assert_array_equal(
      state[('frozen', 'backbone', 'res2_0', 'conv3', 'kernel')],
      t(blobs['res2_0_branch2c_w']))
  np.testing.assert_array_equal(
      state[('frozen_bn', 'backbone', 'res5_0', 'bn1', 'weight')],
      blobs['res5_0_branch2a_bn_s'])
  imported = c2.backbone_variables(blobs, *_TINY,
                                   mw.VARIANTS['reference'].extra[
                                       'frozen_stages'])
  from_file = {(coll, 'backbone') + k: v for coll, tree in imported.items()
               for k, v in traverse_util.flatten_dict(tree).items()}
  assert len(from_file) > 40
  # Every other tensor (FPN, RPN, RoI heads) is the seed's fresh init.
  for k, v in {**{('params',) + k: v for k, v in params.items()},
               **state}.items():
    init = fresh_params[k[1:]] if k[0] == 'params' else fresh_state[k]
    np.testing.assert_array_equal(v, from_file.get(k, init), err_msg=str(k))
  assert any(k[1].startswith('fpn_') for k in params)
  assert any(k[0] == 'rpn' for k in params)
  # Without the CLI's check first, the hook reads the file itself; a file
  # of another depth is bad input naming the missing blob.
  got, _, _ = _start(_TinyReference('reference', synthetic=True), hp, path,
                     fresh)
  np.testing.assert_array_equal(
      got[('backbone', 'res4_0', 'downsample', 'kernel')],
      t(blobs['res4_0_branch1_w']))
  monkeypatch.setitem(c2.ARCHS, 'R-50', ((1, 2, 1, 1), 8))
  with pytest.raises(ckpt_lib.CheckpointError, match='res3_1_branch2a_w'):
    _start(_TinyReference('reference', synthetic=True), hp, path,
                     fresh)
