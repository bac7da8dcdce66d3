# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MiniGo's network: the reference parameter count, the 48 TF names of the
1.1.0 `weights_initialization` list, the L2 variable set, the loss against
NumPy, the piecewise LR, and import of TF checkpoints written locally."""

import os

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import mlperf_logging
from mlperf_jax import workloads
from mlperf_jax.hparams import minigo as minigo_hparams
from mlperf_jax.models import minigo
from mlperf_jax.selfplay import target_model
from support import tf_checkpoint_writer as writer


def _abstract(cfg):
  net = minigo.MiniGoNet(cfg)
  n = cfg.board_size
  return jax.eval_shape(lambda r: net.init(
      r, jnp.zeros((1, n, n, 13)), train=False), jax.random.PRNGKey(0))


def test_reference_network_has_736671_parameters():
  v = _abstract(minigo.reference_config())
  params = flax.linen.meta.unbox(v['params'])
  assert sum(x.size for x in jax.tree.leaves(params)) == 736_671
  # Head BatchNorms have no scale or centre: statistics only.
  assert 'batch_normalization_13' not in params
  assert 'batch_normalization_14' in v['batch_stats']
  assert params['dense']['kernel'].shape == (722, 362)
  assert params['dense_1']['kernel'].shape == (361, 64)
  assert params['dense_2']['kernel'].shape == (64, 1)


def _yaml_tensor_names(ruleset='1.1.0'):
  path = os.path.join(os.path.dirname(mlperf_logging.__file__),
                      'compliance_checker', f'training_{ruleset}',
                      'closed_minigo.yaml')
  entries = yaml.safe_load(open(path))
  check = next(e['END']['CHECK'] for e in entries if 'END' in e)
  return sorted(eval(check.split('==', 1)[1]))  # a literal list of names


def test_weights_initialization_names_are_the_48_of_closed_minigo():
  wl = workloads.get('minigo', 'reference')
  boxed = _abstract(minigo.reference_config())['params']
  names = wl.init_tensor_names(boxed)
  assert len(names) == 48
  assert sorted(names) == _yaml_tensor_names()


def test_l2_covers_kernels_and_gammas_but_no_bias_or_beta():
  params = flax.linen.meta.unbox(_abstract(minigo.reference_config())['params'])
  mask = minigo_hparams.l2_mask(params)
  flat = flax.traverse_util.flatten_dict(params)
  flat_mask = flax.traverse_util.flatten_dict(mask)
  decayed = sorted(minigo.tf_name(p) for p in flat if flat_mask[p])
  kept = sorted(minigo.tf_name(p) for p in flat if not flat_mask[p])
  assert all(('bias' in n or 'beta' in n) for n in kept)
  assert not any(('bias' in n or 'beta' in n) for n in decayed)
  assert len(decayed) == 15 + 3 + 13  # conv + dense kernels + BN gammas
  assert len(kept) == 3 + 13


def test_loss_is_ce_plus_half_mse_against_numpy():
  wl = workloads.get('minigo', 'mini')
  hp = wl.resolve_hparams()
  params, state = wl.init(jax.random.PRNGKey(0), hp)
  params = flax.linen.meta.unbox(params)
  rng = np.random.default_rng(0)
  b = 6
  planes = rng.random((b, 5, 5, 13)) < 0.3
  policy = rng.random((b, 26)).astype(np.float32)
  policy /= policy.sum(-1, keepdims=True)
  value = rng.choice([-1.0, 1.0], b).astype(np.float32)
  batch = {'planes': planes, 'policy': policy, 'value': value}
  summed, n, (_, aux) = wl.loss(params, state, batch, None, hp)
  (logits, v), _ = wl.model().apply({'params': params, **state}, planes,
                                    train=True, mutable=['batch_stats'])
  logits, v = np.asarray(logits, np.float64), np.asarray(v, np.float64)
  logp = logits - logits.max(-1, keepdims=True)
  logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
  ce = -(policy * logp).sum(-1)
  want = np.mean(ce) + 0.5 * np.mean((value - v) ** 2)
  np.testing.assert_allclose(float(summed / n), want, rtol=1e-5)
  # The L2 term (applied as weight decay) is reported: 1e-4 * sum(w^2) / 2.
  flat = flax.traverse_util.flatten_dict(params)
  l2 = 1e-4 * sum(0.5 * np.sum(np.square(np.asarray(x, np.float64)))
                  for p, x in flat.items() if p[-1] != 'bias')
  np.testing.assert_allclose(float(aux['l2']), l2, rtol=1e-5)


def test_sgd_step_adds_l2_gradient_to_kernels_and_gammas_only():
  params = {'conv2d': {'kernel': jnp.ones((3,))},
            'batch_normalization': {'scale': jnp.ones((2,)),
                                    'bias': jnp.ones((2,))},
            'dense': {'kernel': jnp.ones((2,)), 'bias': jnp.ones((2,))}}
  tx, _ = minigo_hparams.SGD.build(
      {'lr_boundaries': [10], 'lr_rates': [0.5, 0.1], 'opt_name': 'sgd'},
      None)
  zero = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zero, tx.init(params), params)
  got = flax.traverse_util.flatten_dict(updates)
  for path, u in got.items():
    want = 0.0 if path[-1] == 'bias' else -0.5 * 1e-4
    np.testing.assert_allclose(np.asarray(u), want, rtol=1e-6)


def test_piecewise_lr_against_numpy():
  sched = minigo_hparams.piecewise_constant_schedule([128, 10000, 20000],
                                                     [0.016, 0.16, 0.016,
                                                      0.0016])
  for t in (0, 1, 127, 128, 129, 9999, 10000, 10001, 20000, 20001, 50000):
    want = np.array([0.016, 0.16, 0.016, 0.0016])[
        np.searchsorted([128, 10000, 20000], t, side='left')]
    assert float(sched(t)) == pytest.approx(want)
  assert isinstance(sched(jnp.int32(3)), jax.Array)


def test_tf_checkpoint_import_round_trips(tmp_path):
  cfg = minigo.mini_config()
  net = minigo.MiniGoNet(cfg)
  v = net.init(jax.random.PRNGKey(3), jnp.zeros((1, 5, 5, 13)), train=False)
  v = flax.linen.meta.unbox(jax.device_get(v))
  v = jax.tree.map(lambda x: np.asarray(x) + np.random.default_rng(1).normal(
      size=x.shape).astype(np.float32), v)
  names = target_model.tf_names(v)
  flat = dict(target_model._flatten(v))  # pylint: disable=protected-access
  tensors = {names[p]: flat[p] for p in names}
  tensors['global_step'] = np.int64(1234)
  assert 'batch_normalization_5/moving_variance' in tensors
  prefix = str(tmp_path / 'target' / 'target')
  writer.write_tf_checkpoint(prefix, tensors)
  like = jax.eval_shape(lambda r: net.init(r, jnp.zeros((1, 5, 5, 13)),
                                           train=False), jax.random.PRNGKey(0))
  got = target_model.variables_from_tf_checkpoint(prefix, dict(like))
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(v)):
    np.testing.assert_array_equal(a, b)
  x = jnp.asarray(np.random.default_rng(2).random((2, 5, 5, 13)) < 0.5)
  for a, b in zip(net.apply(got, x, train=False), net.apply(v, x, train=False)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # A checkpoint of another network is refused, naming what is wrong.
  del tensors['dense_2/bias']
  tensors['dense_1/kernel'] = np.zeros((3, 3), np.float32)
  writer.write_tf_checkpoint(str(tmp_path / 'bad'), tensors)
  with pytest.raises(ValueError) as e:
    target_model.variables_from_tf_checkpoint(str(tmp_path / 'bad'),
                                              dict(like))
  assert "no tensor 'dense_2/bias'" in str(e.value)
  assert 'dense_1/kernel: shape (3, 3) in the checkpoint' in str(e.value)
