# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Tests for `mlperf_jax.models.resnet`.

The reference-size ResNet-50 is only ever traced with `jax.eval_shape` (no
memory, no compile); everything that runs uses the mini config.
"""

import pathlib
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import mlperf_logging
import numpy as np
import pytest
import yaml
from flax import traverse_util

from mlperf_jax.models import resnet

_CHECKER_YAML = (pathlib.Path(mlperf_logging.__file__).parent /
                 'compliance_checker' / 'training_1.1.0' / 'closed_resnet.yaml')
# Truncation bound of `variance_scaling(..., 'truncated_normal')`: samples are
# cut at +-2 of a normal whose std is inflated by 1 / 0.8796 so the truncated
# variance comes out exact.
_TRUNCATED_BOUND = 2.0 / 0.87962566103423978


@pytest.fixture(scope='module', autouse=True)
def _fast_compiles():
  """Skips XLA optimisations while this module runs.

  Compiles of the mini model drop from ~5 s to ~1 s; nothing here measures
  speed.
  """
  previous = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', True)
  yield
  jax.config.update('jax_disable_most_optimizations', previous)


def _checker_tensor_names() -> list[str]:
  """The tensor list of the 1.1.0 checker's END CHECK for `resnet`."""
  rules = yaml.safe_load(_CHECKER_YAML.read_text())
  check = next(rule['END']['CHECK'] for rule in rules if 'END' in rule)
  return re.findall(r'"(\w+)"', check)


def _flat(tree):
  return traverse_util.flatten_dict(nn.unbox(tree))


def _init(cfg: resnet.ResNetConfig):
  """(model, unboxed variables) for 8x8x1 inputs.

  Jitted: one compile beats op-by-op dispatch, which compiles every primitive.
  """
  model = resnet.ResNet(cfg)
  init = jax.jit(lambda key: model.init(key, jnp.zeros((2, 8, 8, 1)),
                                        train=False))
  return model, nn.unbox(init(jax.random.key(0)))


def _apply(model, variables, x, train):
  """Jitted `apply` returning (logits, batch_stats after the call)."""
  fn = jax.jit(lambda v, x: model.apply(v, x, train=train,
                                        mutable=['batch_stats']))
  logits, updates = fn(variables, x)
  return logits, updates['batch_stats']


@pytest.fixture(scope='module')
def resnet50():
  """(model, abstract variables) of the reference ResNet-50, boxes kept."""
  model = resnet.ResNet(resnet.resnet50_config())
  variables = jax.eval_shape(
      lambda: model.init(jax.random.key(0), jnp.zeros((1, 224, 224, 3)),
                         train=False))
  return model, variables


@pytest.fixture(scope='module')
def mini():
  """(model, unboxed variables, input batch) of the mini config."""
  model, variables = _init(resnet.mini_config())
  x = jax.random.normal(jax.random.key(1), (16, 8, 8, 1))
  return model, variables, x


def test_resnet50_parameter_count(resnet50):
  _, variables = resnet50
  assert resnet.param_count(variables['params']) == 25_557_032
  # BN moving statistics are state, not parameters: mean + var per BN channel.
  num_bn_channels = sum(
      v.shape[0] for k, v in _flat(variables['params']).items()
      if k[-1] == 'scale')
  assert resnet.param_count(variables['batch_stats']) == 2 * num_bn_channels


def test_weight_names_cover_checker_list_exactly(resnet50):
  _, variables = resnet50
  expected = _checker_tensor_names()
  assert len(expected) == 161 == len(set(expected))
  names = resnet.resnet_weight_names(variables['params'])
  assert set(names) == set(_flat(variables['params']))  # every parameter
  assert len(set(names.values())) == len(names)  # each name once
  assert sorted(names.values()) == sorted(expected)
  assert names[('stage2_unit1', 'conv1sc', 'kernel')] == (
      'stage2_unit1_conv1sc_weight')
  assert names[('stage4_unit3', 'bn3', 'bias')] == 'stage4_unit3_bn3_beta'
  assert names[('fc1', 'bias')] == 'fc1_bias'


def test_v1_5_stride_on_3x3_conv(resnet50):
  model, variables = resnet50
  _, state = jax.eval_shape(
      lambda v, x: model.apply(v, x, train=False, capture_intermediates=True,
                               mutable=['intermediates']),
      variables, jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32))
  out = {k[:-1]: v[0].shape for k, v in _flat(state['intermediates']).items()}
  assert out[('conv0',)] == (1, 112, 112, 64)
  # Max-pool halves again before stage 1, which does not downsample.
  assert out[('stage1_unit1', 'conv2')] == (1, 56, 56, 64)
  # v1.5: the 1x1 reduction keeps the resolution, the 3x3 halves it.
  assert out[('stage2_unit1', 'conv1')] == (1, 56, 56, 128)
  assert out[('stage2_unit1', 'conv2')] == (1, 28, 28, 128)
  assert out[('stage2_unit1', 'conv1sc')] == (1, 28, 28, 512)
  assert out[('stage2_unit1',)] == (1, 28, 28, 512)
  assert out[('stage4_unit3',)] == (1, 7, 7, 2048)
  params = _flat(variables['params'])
  assert params[('stage2_unit1', 'conv1', 'kernel')].shape == (1, 1, 256, 128)
  assert params[('stage2_unit1', 'conv2', 'kernel')].shape == (3, 3, 128, 128)
  # Identity shortcuts everywhere except the first unit of each stage.
  assert ('stage2_unit2', 'conv1sc', 'kernel') not in params


def test_mini_forward_and_batch_stats(mini):
  model, variables, x = mini
  logits, stats = _apply(model, variables, x, train=True)
  assert logits.shape == (16, 10) and logits.dtype == jnp.float32
  assert np.all(np.isfinite(logits))
  old, new = _flat(variables['batch_stats']), _flat(stats)
  assert old.keys() == new.keys()
  assert all(not np.allclose(old[k], new[k]) for k in old)

  # Eval mode reads the moving statistics and writes nothing...
  eval_logits, eval_stats = _apply(model, variables, x, train=False)
  for k, v in _flat(eval_stats).items():
    np.testing.assert_array_equal(v, old[k])
  # ...so each example's logits are independent of the rest of the batch.
  np.testing.assert_allclose(_apply(model, variables, x[:4], train=False)[0],
                             eval_logits[:4], rtol=1e-5, atol=1e-6)


def test_bf16_compute_keeps_float32_params(mini):
  f32_model, variables, x = mini
  f32 = np.dtype(np.float32)
  model, bf16_vars = _init(resnet.mini_config(dtype=jnp.bfloat16))
  for tree in (bf16_vars['params'], bf16_vars['batch_stats']):
    assert {v.dtype for v in jax.tree_util.tree_leaves(tree)} == {f32}

  # Same float32 parameters through both compute dtypes.
  ref, _ = _apply(f32_model, variables, x, train=True)
  out, stats = _apply(model, variables, x, train=True)
  assert out.dtype == f32
  assert {v.dtype for v in jax.tree_util.tree_leaves(stats)} == {f32}
  rel_err = np.linalg.norm(out - ref) / np.linalg.norm(ref)
  assert rel_err < 0.05, rel_err


def test_logical_axis_names_on_every_param(resnet50):
  _, variables = resnet50
  leaves = jax.tree_util.tree_leaves(
      variables['params'], is_leaf=lambda x: isinstance(x, nn.Partitioned))
  assert len(leaves) == 161
  known = {name for name, _ in resnet.LOGICAL_AXIS_RULES}
  for leaf in leaves:
    assert isinstance(leaf, nn.LogicallyPartitioned)
    assert len(leaf.names) == leaf.value.ndim
    assert set(leaf.names) <= known
  specs = _flat(nn.get_partition_spec(variables)['params'])
  assert specs[('conv0', 'kernel')] == jax.sharding.PartitionSpec(
      'conv_h', 'conv_w', 'conv_in', 'conv_out')
  assert specs[('stage1_unit1', 'bnsc', 'scale')] == (
      jax.sharding.PartitionSpec('conv_out'))
  assert specs[('fc1', 'kernel')] == jax.sharding.PartitionSpec(
      'embed', 'classes')
  assert specs[('fc1', 'bias')] == jax.sharding.PartitionSpec('classes')
  # The default rules replicate everything.
  for spec in specs.values():
    mesh_axes = nn.logical_to_mesh_axes(tuple(spec), resnet.LOGICAL_AXIS_RULES)
    assert all(axis is None for axis in mesh_axes)


def test_initialisation_statistics(mini):
  _, variables, _ = mini
  params = _flat(variables['params'])
  for path in (('stage3_unit1', 'conv2', 'kernel'),    # 3x3x64x64
               ('stage3_unit1', 'conv1sc', 'kernel')):  # 1x1x128x256
    w = np.asarray(params[path])
    expected_std = np.sqrt(2.0 / np.prod(w.shape[:-1]))  # He, fan-in
    assert abs(w.std() / expected_std - 1) < 0.03, path
    assert abs(w.mean()) < 0.03 * expected_std, path
    assert np.abs(w).max() <= _TRUNCATED_BOUND * expected_std * 1.0001, path
  fc = np.asarray(params[('fc1', 'kernel')])
  assert abs(fc.std() / 0.01 - 1) < 0.06
  assert not np.any(params[('fc1', 'bias')])
  for path, value in params.items():
    if path[-1] == 'scale':
      np.testing.assert_array_equal(value, 1.0)  # reference: no zero gamma
    elif path[-1] == 'bias':
      np.testing.assert_array_equal(value, 0.0)


def test_init_options():
  cfg = resnet.mini_config(zero_init_last_bn=True, truncated_normal_init=False)
  params = _flat(_init(cfg)[1]['params'])
  gammas = {p[:-1]: v for p, v in params.items() if p[-1] == 'scale'}
  assert len(gammas) == 1 + 4 * 3  # bn0 + (bn1, bn2, bn3, bnsc) x 3 units
  for path, gamma in gammas.items():
    np.testing.assert_array_equal(gamma, 0.0 if path[-1] == 'bn3' else 1.0)
  # Untruncated normal: same variance, tails beyond the truncation bound.
  w = np.asarray(params[('stage3_unit1', 'conv2', 'kernel')])
  expected_std = np.sqrt(2.0 / np.prod(w.shape[:-1]))
  assert abs(w.std() / expected_std - 1) < 0.03
  assert np.abs(w).max() > _TRUNCATED_BOUND * expected_std


def test_config_validation():
  with pytest.raises(ValueError, match='stem'):
    resnet.mini_config(stem='cifar')
  with pytest.raises(ValueError, match='stage_sizes'):
    resnet.ResNetConfig(stage_sizes=(), num_classes=10)
  # Lists are normalised to tuples so configs stay hashable Module fields.
  assert hash(resnet.ResNetConfig(stage_sizes=[1, 1], num_classes=10))
