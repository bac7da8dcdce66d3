# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""DLRM SGD + LRPolicyScheduler against the reference equations, the
closed-division rules, and the exact AUC against scikit-learn."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mlperf_jax.metrics import auc as metrics_auc
from mlperf_jax.hparams import dlrm as dlrm_optim
from mlperf_jax.hparams import registry


class _RefPolicy:
  """Transliteration of the reference LRPolicyScheduler's get_lr/_step_count."""

  def __init__(self, base, warmup, start, decay):
    self.base, self.w, self.s0, self.d = base, warmup, start, decay
    self.step_count = 0
    self.lr = None
    self.step()  # torch's _LRScheduler steps once at construction

  def step(self):
    self.step_count += 1
    s = self.step_count
    if s < self.w:
      self.last = self.base * (1.0 - (self.w - s) / self.w)
      self.lr = self.last
    elif self.s0 <= s < self.s0 + self.d:
      self.last = max(1e-7, self.base * ((self.d - (s - self.s0)) / self.d)**2)
      self.lr = self.last
    elif self.d > 0:
      self.lr = self.last
    else:
      self.lr = self.base


@pytest.mark.parametrize('w,s0,d', [(8, 20, 10), (8, 8, 5), (0, 0, 6),
                                    (5, 9, 0)])
def test_schedule_matches_reference_policy(w, s0, d):
  sched = dlrm_optim.reference_schedule(3.0, w, s0, d)
  ref = _RefPolicy(3.0, w, s0, d)
  got = np.asarray(jax.vmap(sched)(jnp.arange(45)))
  want = []
  for _ in range(45):
    want.append(ref.lr)  # the lr of update t (0-based) ...
    ref.step()           # ... then scheduler.step() after optimizer.step()
  np.testing.assert_allclose(got, want, rtol=1e-6)


def test_sgd_is_plain_and_stateless_per_parameter():
  hp = registry.resolve(dlrm_optim.hparams('sgd'), {}, {}, division='closed')
  tx, sched = registry.get('dlrm', 'sgd').build(hp, None)
  params = {'emb': jnp.ones((1000, 4)), 'w': jnp.ones((3,))}
  state = tx.init(params)
  assert all(x.size <= 1 for x in jax.tree.leaves(state))  # only a count
  grads = jax.tree.map(lambda p: 0.5 * p, params)
  for t in range(3):
    upd, state = tx.update(grads, state, params)
    np.testing.assert_allclose(upd['w'], -float(sched(t)) * 0.5, rtol=1e-6)


def test_closed_rules_and_logged_keys():
  entries = dlrm_optim.hparams('sgd')
  hp = registry.resolve(entries, {}, {}, division='closed')
  keys = dict(registry.mllog_items(entries, hp))
  for k in ('global_batch_size', 'opt_base_learning_rate',
            'opt_learning_rate_warmup_steps', 'lr_decay_start_steps',
            'sgd_opt_base_learning_rate', 'sgd_opt_learning_rate_decay_steps',
            'sgd_opt_learning_rate_decay_poly_power'):
    assert k in keys
  assert keys['sgd_opt_base_learning_rate'] == keys['opt_base_learning_rate']
  with pytest.raises(registry.HParamError) as e:
    registry.resolve(entries, {}, {
        'sgd_opt_learning_rate_decay_poly_power': '1',
        'lr_decay_start_steps': '10', 'max_ind_range': '1000'},
                     division='closed')
  text = str(e.value)
  assert 'poly_power' in text and 'lr_decay_start_steps' in text
  assert 'max_ind_range' in text
  # Synthetic smoke runs may cap the tables in the closed division.
  registry.resolve(dlrm_optim.hparams('sgd', synthetic=True), {},
                   {'max_ind_range': '1000'}, division='closed')


def test_auc_matches_sklearn_with_ties_and_chunks():
  rng = np.random.default_rng(0)
  for n, chunk in [(1, 4), (50, 3), (20_000, 997), (200_000, 1 << 22)]:
    s = np.round(rng.random(n), 2).astype(np.float32)
    s[: n // 10] = 0.5  # a big tie group across chunk boundaries
    y = (rng.random(n) < s).astype(np.int64)
    if y.min() == y.max():
      assert np.isnan(metrics_auc.roc_auc(s, y, chunk))
      continue
    assert metrics_auc.roc_auc(s, y, chunk) == pytest.approx(
        roc_auc_score(y, s), abs=1e-12)
  s = np.array([-0.0, 0.0, -1.0, 2.0], np.float32)
  y = np.array([0, 1, 0, 1])
  assert metrics_auc.roc_auc(s, y) == roc_auc_score(y, s)


def test_auc_accumulator_masks_and_grows():
  rng = np.random.default_rng(1)
  acc = metrics_auc.AucAccumulator(expected=10)
  ss, yy = [], []
  for _ in range(5):
    s = rng.random(64).astype(np.float32)
    y = (rng.random(64) < s).astype(np.float32)
    m = (rng.random(64) < 0.7).astype(np.float32)
    acc.add({'score': s, 'label': y, 'mask': m})
    ss.append(s[m > 0])
    yy.append(y[m > 0])
  r = acc.result()
  assert r['count'] == sum(len(x) for x in ss)
  assert r['auc'] == pytest.approx(roc_auc_score(np.concatenate(yy),
                                                 np.concatenate(ss)))
  with pytest.raises(ValueError, match='NaN'):
    metrics_auc.roc_auc(np.array([np.nan], np.float32), np.array([1]))
