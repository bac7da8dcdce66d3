# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""BERT LAMB and schedule against NumPy implementations of the reference
equations; the MLLOG keys and closed-division rules of the BERT entry."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mlperf_jax.hparams import bert as bert_optim
from mlperf_jax.optim import lamb
from mlperf_jax.hparams import registry


def _ref_schedule(t, base, total, warm, start, power=1.0):
  """optimization.create_optimizer, step by step (TF's global_step = t)."""
  decayed = base * (1 - min(t, total) / total) ** power
  if warm:
    s = t - start
    if s < warm:
      return base * s / warm
  return decayed


class _NumpyLamb:
  """The reference: clip_by_global_norm(1.0) + lamb_optimizer_v1.LAMBOptimizer
  with exclude_from_weight_decay = exclude_from_layer_adaptation =
  ['LayerNorm', 'layer_norm', 'bias'] (here: a per-variable flag)."""

  def __init__(self, params, decayed, beta1, beta2, eps, wd):
    self.w = {k: v.astype(np.float64) for k, v in params.items()}
    self.m = {k: np.zeros_like(v) for k, v in self.w.items()}
    self.v = {k: np.zeros_like(v) for k, v in self.w.items()}
    self.decayed, self.b1, self.b2, self.eps, self.wd = (decayed, beta1, beta2,
                                                         eps, wd)
    self.beta1_power, self.beta2_power = beta1, beta2

  def step(self, grads, lr):
    gn = np.sqrt(sum(np.sum(g.astype(np.float64)**2) for g in grads.values()))
    grads = {k: g * 1.0 / max(gn, 1.0) for k, g in grads.items()}
    for k, g in grads.items():
      self.m[k] = self.m[k] * self.b1 + g * (1 - self.b1)
      self.v[k] = self.v[k] * self.b2 + g * g * (1 - self.b2)
      m_hat = self.m[k] / (1 - self.beta1_power)
      v_hat = self.v[k] / (1 - self.beta2_power)
      update = m_hat / (np.sqrt(v_hat) + self.eps)
      ratio = 1.0
      if self.decayed[k]:
        update = update + self.wd * self.w[k]
        wn, un = np.linalg.norm(self.w[k]), np.linalg.norm(update)
        ratio = wn / un if wn > 0 and un > 0 else 1.0
      self.w[k] = self.w[k] - ratio * lr * update
    self.beta1_power *= self.b1
    self.beta2_power *= self.b2


def test_lamb_matches_reference_equations_step_by_step():
  rng = np.random.default_rng(0)
  params = {'kernel': rng.normal(size=(6, 4)).astype(np.float32),
            'LayerNorm_gamma': 1 + 0.1 * rng.normal(size=(4,)).astype(
                np.float32),
            'bias': np.zeros((4,), np.float32),
            'zero_kernel': np.zeros((3, 2), np.float32)}  # ratio guard
  decayed = {'kernel': True, 'LayerNorm_gamma': False, 'bias': False,
             'zero_kernel': True}
  hp = dict(base=0.02, total=10, warm=3, start=-1)
  sched = bert_optim.lr_schedule(hp['base'], hp['total'], hp['warm'],
                                 hp['start'])
  tx = lamb.mlperf_lamb(sched, beta1=0.8, beta2=0.95, epsilon=1e-4,
                        weight_decay=0.05, mask=decayed)
  ref = _NumpyLamb(params, decayed, 0.8, 0.95, 1e-4, 0.05)
  p = jax.tree.map(jnp.asarray, params)
  state = tx.init(p)
  step = jax.jit(tx.update)
  clipped_steps = 0
  for t in range(8):
    # Large gradients on some steps so the global-norm clip is exercised.
    scale = 10.0 if t % 2 else 0.05
    grads = {k: (scale * rng.normal(size=v.shape)).astype(np.float32)
             for k, v in params.items()}
    clipped_steps += np.sqrt(sum(np.sum(g**2) for g in grads.values())) > 1
    updates, state = step(jax.tree.map(jnp.asarray, grads), state, p)
    p = optax.apply_updates(p, updates)
    ref.step(grads, _ref_schedule(t, **hp))
    for k in params:
      np.testing.assert_allclose(np.asarray(p[k]), ref.w[k], rtol=2e-5,
                                 atol=2e-6, err_msg=f'{k} at step {t}')
  assert clipped_steps >= 3
  assert np.abs(np.asarray(p['bias'])).max() > 0  # it did move
  assert int(state.count) == 8


def test_lamb_without_mask_and_clip_differs_from_reference():
  # The exclusions matter: with every variable decayed/adapted, LayerNorm
  # gamma moves differently, so the test above would catch a wrong mask.
  rng = np.random.default_rng(1)
  params = {'g': (1 + 0.1 * rng.normal(size=(4,))).astype(np.float32)}
  grads = {'g': rng.normal(size=(4,)).astype(np.float32)}
  outs = []
  for mask in ({'g': True}, {'g': False}):
    tx = lamb.mlperf_lamb(0.01, mask=mask)
    u, _ = tx.update(grads, tx.init(params), params)
    outs.append(np.asarray(u['g']))
  assert np.abs(outs[0] - outs[1]).max() > 1e-4


@pytest.mark.parametrize('warm,start', [(0, 0), (4, 0), (287, -76), (0, -700)])
def test_schedule_matches_reference(warm, start):
  total, base = 600, 0.00288293
  sched = jax.jit(bert_optim.lr_schedule(base, total, warm, start))
  for t in [0, 1, 2, 3, 4, 5, 100, 210, 211, 212, 599, 600, 601, 900]:
    np.testing.assert_allclose(float(sched(t)),
                               _ref_schedule(t, base, total, warm, start),
                               rtol=1e-5, atol=base * 1e-6, err_msg=f't={t}')


def test_schedule_rejects_bad_lengths():
  with pytest.raises(ValueError, match='training_steps'):
    bert_optim.lr_schedule(1e-3, 0)
  with pytest.raises(ValueError, match='warmup_steps'):
    bert_optim.lr_schedule(1e-3, 10, -1)


def test_lamb_rejects_bad_arguments():
  with pytest.raises(ValueError, match='beta1'):
    lamb.mlperf_lamb(0.1, beta1=1.0)
  with pytest.raises(ValueError, match='parameters'):
    tx = lamb.mlperf_lamb(0.1)
    tx.update({'a': jnp.ones(2)}, tx.init({'a': jnp.ones(2)}))


def test_mllog_keys_cover_both_rulesets():
  hp = registry.resolve(bert_optim.hparams(), {}, {}, division='closed')
  keys = [k for k, _ in registry.mllog_items(bert_optim.hparams(), hp)]
  required = ['global_batch_size', 'opt_base_learning_rate', 'opt_epsilon',
              'opt_lamb_epsilon', 'opt_learning_rate_training_steps',
              'opt_learning_rate_warmup_steps', 'num_warmup_steps',
              'start_warmup_step', 'opt_lamb_beta_1', 'opt_lamb_beta_2',
              'opt_lamb_weight_decay_rate', 'gradient_accumulation_steps']
  for k in required:
    assert keys.count(k) == 1, k
  values = dict(registry.mllog_items(bert_optim.hparams(), hp))
  assert values['opt_epsilon'] == values['opt_lamb_epsilon'] == 1e-6
  # The defaults are the 1.1.0 RCP bert_ref_448.
  assert values['global_batch_size'] == 448
  assert values['opt_base_learning_rate'] == 4e-4
  assert values['opt_learning_rate_training_steps'] == 8103


def test_closed_rules_and_sanity():
  entries = bert_optim.hparams()
  # Tunables are free in the closed division (e.g. a negative warmup start,
  # as several RCPs use) ...
  hp = registry.resolve(entries, {}, {'start_warmup_step': '-76',
                                      'num_warmup_steps': '287',
                                      'opt_lamb_beta_1': '0.66'},
                        division='closed')
  assert hp['start_warmup_step'] == -76
  # ... while what the rules fix is fixed, and nonsense is rejected at once.
  with pytest.raises(registry.HParamError) as e:
    registry.resolve(entries, {}, {
        'gradient_accumulation_steps': '0',
        'opt_lamb_learning_rate_decay_poly_power': '2',
        'opt_lamb_beta_2': '1.5', 'opt_learning_rate_training_steps': '0'},
        division='closed')
  text = str(e.value)
  for key in ('gradient_accumulation_steps', 'poly_power', 'opt_lamb_beta_2',
              'opt_learning_rate_training_steps'):
    assert key in text


def test_build_uses_resolved_values():
  hp = registry.resolve(bert_optim.hparams(), {}, {
      'num_warmup_steps': '10', 'opt_base_learning_rate': '0.5'},
      division='closed')
  ctx = registry.OptimizerContext(steps_per_epoch=1,
                                  param_labels=lambda p: jax.tree.map(
                                      lambda _: registry.KERNEL, p))
  tx, sched = bert_optim.LAMB.build(hp, ctx)
  assert float(sched(5)) == pytest.approx(0.25)
  assert float(sched(10)) == pytest.approx(0.5 * (1 - 10 / 8103))
  params = {'w': jnp.ones((2, 2))}
  u, _ = tx.update({'w': jnp.ones((2, 2))}, tx.init(params), params)
  assert float(jnp.abs(u['w']).max()) == 0.0  # lr(0) = 0 with warmup
