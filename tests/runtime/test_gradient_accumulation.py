# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Gradient accumulation in the shared train step (runtime/steps.py)."""

import jax
import numpy as np
import pytest

from mlperf_jax import workloads
from mlperf_jax.api import HostShard
from mlperf_jax.hparams import registry
from mlperf_jax.runtime import dry_run, loop
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps


def _setup(name, **over):
  wl = workloads.get(name, 'mini')
  hp = wl.resolve_hparams({k: str(v) for k, v in over.items()})
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  compiled = steps.build(wl, tx, hp, shd.make_mesh('data=8'),
                         compile_eval=False)
  batch = next(wl.train_batches(hp, seed=3, host=HostShard()))
  return wl, hp, compiled, batch


def _one_step(compiled, batch):
  state = compiled.init(jax.random.PRNGKey(0))
  before = jax.device_get(state)
  state, metrics = compiled.train_step(
      state, shd.host_to_global(batch, compiled.batch_sharding))
  return before, jax.device_get(state), float(metrics['loss'])


def test_k_micro_batches_give_the_update_of_one_batch_of_k_b():
  # DLRM has no batch statistics: 4 micro-batches of 256 must give the
  # update of one batch of 1024 (up to float32 summation order).
  _, hp1, c1, batch = _setup('dlrm', global_batch_size=1024)
  _, hp4, c4, _ = _setup('dlrm', global_batch_size=1024,
                         gradient_accumulation_steps=4)
  assert hp4['gradient_accumulation_steps'] == 4
  before, s1, loss1 = _one_step(c1, batch)
  _, s4, loss4 = _one_step(c4, batch)
  np.testing.assert_allclose(loss4, loss1, rtol=1e-6)
  moved = 0
  for a, b, p in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s4.params),
                     jax.tree.leaves(before.params)):
    scale = float(np.abs(a - p).max())
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-5 * scale + 1e-9)
    moved += scale > 0
  assert moved > len(jax.tree.leaves(before.params)) // 2
  # Twice the same k-step: deterministic.
  _, s4b, _ = _one_step(c4, batch)
  for a, b in zip(jax.tree.leaves(s4.params), jax.tree.leaves(s4b.params)):
    np.testing.assert_array_equal(a, b)


def test_bert_accumulates_the_mean_of_micro_batch_gradients():
  # BERT's loss is a mean (n = 1): two micro-batches give the mean of
  # their gradients, the reference's GradientAggregationOptimizer. With
  # dropout on, compare the loss only: it is the mean of the two halves'.
  wl, hp, c2, batch = _setup('bert', gradient_accumulation_steps=2,
                            num_warmup_steps=0)  # lr(0) > 0
  before, after, loss = _one_step(c2, batch)
  assert np.isfinite(loss)
  assert any(not np.array_equal(a, b) for a, b in zip(
      jax.tree.leaves(after.params), jax.tree.leaves(before.params)))
  rng = jax.random.fold_in(before.rng, 0)
  halves = [{k: v[i::2] for k, v in batch.items()} for i in range(2)]
  losses = [float(wl.loss(before.params, before.model_state, h,
                          jax.random.fold_in(rng, i), hp)[0])
            for i, h in enumerate(halves)]
  np.testing.assert_allclose(loss, np.mean(losses), rtol=1e-5)


def test_resnet_batchnorm_statistics_per_micro_batch_in_order():
  wl, hp, c2, batch = _setup('resnet', gradient_accumulation_steps=2)
  assert hp['model_bn_span'] == hp['global_batch_size'] // 2 == 64
  logged = dict(registry.mllog_items(wl.hparams(hp['opt_name']), hp))
  assert logged['gradient_accumulation_steps'] == 2
  assert logged['model_bn_span'] == 64
  before, after, loss = _one_step(c2, batch)
  assert np.isfinite(loss)
  # Each micro-batch (rows i, i + 2, ...) normalises with its own
  # statistics and updates the running averages once, in order.
  state = before.model_state
  for i in range(2):
    half = {k: v[i::2] for k, v in batch.items()}
    state = wl.loss(before.params, state, half, None, hp)[2][0]
  for a, b in zip(jax.tree.leaves(after.model_state), jax.tree.leaves(state)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  assert any(not np.array_equal(a, b) for a, b in zip(
      jax.tree.leaves(after.model_state), jax.tree.leaves(before.model_state)))


def test_dry_run_reports_memory_with_and_without_accumulation():
  wl = workloads.get('resnet', 'mini')
  hp = wl.resolve_hparams({'gradient_accumulation_steps': '2'})
  text = dry_run.report(wl, hp, loop.RunOptions(mesh='data=8'))
  line, = [l for l in text.splitlines() if l.startswith('gradient accum')]
  assert '2 micro-batches of 64' in line
  assert 'with it: temporaries' in line and 'without it (1 batch of 128)' in line
  plain = dry_run.report(wl, wl.resolve_hparams(),
                         loop.RunOptions(mesh='data=8'))
  assert 'gradient accumulation: off' in plain


def test_accumulation_must_split_the_batch_and_the_mesh():
  wl = workloads.get('resnet', 'mini')
  for division in ('closed', 'open'):
    with pytest.raises(registry.HParamError, match='must divide'):
      wl.resolve_hparams({'gradient_accumulation_steps': '3'}, division)
    with pytest.raises(registry.HParamError, match='positive integer'):
      wl.resolve_hparams({'gradient_accumulation_steps': '0'}, division)
  hp = wl.resolve_hparams({'gradient_accumulation_steps': '32'})  # micro 4
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  with pytest.raises(ValueError, match='does not split over the 8 batch'):
    steps.build(wl, tx, hp, shd.make_mesh('data=8'))
