# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Equivalence and registry tests for the ResNet LARS and SGD optimizers.

The closed division only allows LARS as TF `MLPERF_LARSOptimizer` and SGD as
`torch.optim.SGD`, so the optax transformations are checked step by step
against plain-NumPy (float64) transcriptions of those two update rules,
written here from their equations, with a learning rate that changes every
step (warmup, then decay).
"""

import importlib.resources
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import yaml

from mlperf_jax.optim import lars
from mlperf_jax.hparams import registry
from mlperf_jax.hparams import resnet
from mlperf_jax.optim import schedules
from mlperf_jax.optim import sgd

# ---------------------------------------------------------------------------
# NumPy references.


def ref_schedule(t, base_lr, end_lr, warmup_steps, decay_steps, power=2.0):
  """The reference: where(t <= W, base*t/W, PolynomialDecay(t - W))."""
  if t <= warmup_steps:
    return base_lr * t / warmup_steps
  p = min(t - warmup_steps, decay_steps) / decay_steps
  return (base_lr - end_lr) * (1.0 - p) ** power + end_lr


def ref_mlperf_lars_step(params, grads, moms, lr, momentum, wd, eeta, eps,
                         skip):
  """One TF MLPERF_LARSOptimizer step (compute_lr + ApplyMomentum, lr=1)."""
  new_params, new_moms = {}, {}
  for name, w in params.items():
    g = grads[name]
    scaled_lr = lr
    if name not in skip:
      w_norm = np.linalg.norm(w)
      g_norm = np.linalg.norm(g)
      if w_norm > 0 and g_norm > 0:
        trust = eeta * w_norm / (g_norm + wd * w_norm + eps)
      else:
        trust = 1.0
      scaled_lr = lr * trust
      g = g + wd * w
    # ApplyMomentum(var, accum, lr=1.0, grad=g * scaled_lr, momentum):
    # accum = accum * momentum + grad; var -= lr * accum.
    accum = moms[name] * momentum + g * scaled_lr
    new_moms[name] = accum
    new_params[name] = w - 1.0 * accum
  return new_params, new_moms


def ref_torch_sgd_step(params, grads, bufs, lr, momentum, wd, skip,
                       nesterov=False):
  """One torch.optim.SGD step; skipped params form a weight_decay=0 group."""
  new_params, new_bufs = {}, {}
  for name, w in params.items():
    d_p = grads[name]
    group_wd = 0.0 if name in skip else wd
    if group_wd != 0:
      d_p = d_p + group_wd * w
    if bufs.get(name) is None:
      buf = d_p.copy()
    else:
      buf = momentum * bufs[name] + d_p   # dampening 0
    new_bufs[name] = buf
    d_p = d_p + momentum * buf if nesterov else buf
    new_params[name] = w - lr * d_p
  return new_params, new_bufs


# ---------------------------------------------------------------------------
# A small model-like pytree: decayed kernels, excluded BN scale/bias and bias,
# a zero-initialised kernel (||w|| = 0 at first) and a kernel that never gets
# a gradient (||g|| = 0).

_NAMES = ('conv/kernel', 'zero/kernel', 'unused/kernel', 'bn/scale',
          'bn/bias', 'dense/kernel', 'dense/bias')
_SKIP = {'bn/scale', 'bn/bias', 'dense/bias'}


def _init_flat(rng):
  return {
      'conv/kernel': rng.normal(size=(3, 3, 4, 8)) * 0.1,
      'zero/kernel': np.zeros((4, 5)),
      'unused/kernel': rng.normal(size=(5, 3)),
      'bn/scale': np.ones(8),
      'bn/bias': np.zeros(8),
      'dense/kernel': rng.normal(size=(8, 10)) * 0.3,
      'dense/bias': np.zeros(10),
  }


def _grads_flat(rng, step):
  g = {n: rng.normal(size=s.shape) * (0.5 + 0.1 * step)
       for n, s in _init_flat(np.random.default_rng(0)).items()}
  g['unused/kernel'] = np.zeros_like(g['unused/kernel'])
  return g


def _nest(flat, dtype=jnp.float32):
  tree = {}
  for name, v in flat.items():
    outer, inner = name.split('/')
    tree.setdefault(outer, {})[inner] = jnp.asarray(v, dtype)
  return tree


def _flatten(tree):
  return {f'{o}/{i}': np.asarray(v, np.float64)
          for o, d in tree.items() for i, v in d.items()}


def decay_mask(params):
  """True on kernels: what a ResNet workload's decay mask does."""
  return jax.tree_util.tree_map_with_path(
      lambda path, _: path[-1].key == 'kernel', params)


_BASE_LR, _END_LR, _WARMUP, _DECAY, _STEPS = 5.0, 1e-4, 3, 8, 10


def _lr(t):
  return ref_schedule(t, _BASE_LR, _END_LR, _WARMUP, _DECAY)


def _assert_trees_close(ours, ref, step):
  # float32 against float64: elementwise rtol 1e-5, plus an absolute slack
  # of 1e-6 of the tensor's largest entry for entries that cancelled to
  # near zero (float32 keeps ~7 digits of the tensor's scale, not of each
  # entry).
  ours = _flatten(ours)
  for name in _NAMES:
    scale = float(np.abs(ref[name]).max())
    np.testing.assert_allclose(
        ours[name], ref[name], rtol=1e-5, atol=1e-6 * scale + 1e-12,
        err_msg=f'{name} at step {step}')


# ---------------------------------------------------------------------------
# (1) Step-by-step equivalence.


@pytest.mark.parametrize('mask_kind', ['callable', 'pytree', 'traced'])
def test_mlperf_lars_matches_tf_reference(mask_kind):
  momentum, wd, eeta, eps = 0.9, 5e-5, 0.001, 0.0
  rng = np.random.default_rng(1)
  ref_params = _init_flat(rng)
  params = _nest(ref_params)
  if mask_kind == 'callable':
    mask = decay_mask
  elif mask_kind == 'pytree':
    mask = decay_mask(params)
  else:
    mask = jax.tree.map(jnp.asarray, decay_mask(params))
  sched = schedules.poly_warmup_schedule(_BASE_LR, _END_LR, _WARMUP, _DECAY)
  tx = lars.mlperf_lars(sched, momentum, wd, eeta=eeta, epsilon=eps,
                        mask=mask)
  state = tx.init(params)
  update = jax.jit(tx.update)
  ref_moms = {n: np.zeros_like(v) for n, v in ref_params.items()}
  grad_rng = np.random.default_rng(2)
  for step in range(_STEPS):
    g = _grads_flat(grad_rng, step)
    updates, state = update(_nest(g), state, params)
    params = optax.apply_updates(params, updates)
    ref_params, ref_moms = ref_mlperf_lars_step(
        ref_params, g, ref_moms, _lr(step), momentum, wd, eeta, eps, _SKIP)
    _assert_trees_close(params, ref_params, step)
    _assert_trees_close(state.momentum, ref_moms, step)
  # The zero-initialised kernel left zero (trust ratio 1 path), and the
  # gradient-free kernel was still decayed (||g|| = 0 path).
  assert np.abs(_flatten(params)['zero/kernel']).max() > 0
  assert not np.allclose(_flatten(params)['unused/kernel'],
                         _init_flat(np.random.default_rng(1))['unused/kernel'])
  assert int(state.count) == _STEPS


def test_mlperf_lars_first_step_has_zero_lr():
  # The reference evaluates the schedule at the 0-based step: lr(0) = 0.
  params = _nest(_init_flat(np.random.default_rng(1)))
  sched = schedules.poly_warmup_schedule(_BASE_LR, _END_LR, _WARMUP, _DECAY)
  tx = lars.mlperf_lars(sched, 0.9, 5e-5, mask=decay_mask)
  updates, _ = tx.update(
      _nest(_grads_flat(np.random.default_rng(2), 0)), tx.init(params), params)
  assert all(float(jnp.abs(u).max()) == 0.0 for u in jax.tree.leaves(updates))


@pytest.mark.parametrize('nesterov', [False, True])
@pytest.mark.parametrize('mask_kind', ['callable', 'traced'])
def test_torch_sgd_matches_torch_reference(nesterov, mask_kind):
  momentum, wd = 0.9, 1e-4
  rng = np.random.default_rng(3)
  ref_params = _init_flat(rng)
  params = _nest(ref_params)
  mask = (decay_mask if mask_kind == 'callable'
          else jax.tree.map(jnp.asarray, decay_mask(params)))
  sched = schedules.poly_warmup_schedule(_BASE_LR, _END_LR, _WARMUP, _DECAY)
  tx = sgd.torch_sgd(sched, momentum, wd, mask=mask, nesterov=nesterov)
  state = tx.init(params)
  update = jax.jit(tx.update)
  ref_bufs = {}
  grad_rng = np.random.default_rng(4)
  for step in range(_STEPS):
    g = _grads_flat(grad_rng, step)
    updates, state = update(_nest(g), state, params)
    params = optax.apply_updates(params, updates)
    ref_params, ref_bufs = ref_torch_sgd_step(
        ref_params, g, ref_bufs, _lr(step), momentum, wd, _SKIP, nesterov)
    _assert_trees_close(params, ref_params, step)
    _assert_trees_close(state.momentum_buffer, ref_bufs, step)


def test_torch_sgd_first_buffer_is_first_gradient():
  params = {'w': jnp.ones(3)}
  tx = sgd.torch_sgd(0.1, 0.9, 0.0)
  state = tx.init(params)
  # A non-zero initial buffer must not leak into the first step (torch
  # creates the buffer from the first gradient).
  state = state._replace(momentum_buffer={'w': jnp.full(3, 7.0)})
  g = {'w': jnp.array([1.0, -2.0, 3.0])}
  updates, state = tx.update(g, state, params)
  np.testing.assert_allclose(state.momentum_buffer['w'], g['w'])
  np.testing.assert_allclose(updates['w'], -0.1 * g['w'], rtol=1e-6)


# ---------------------------------------------------------------------------
# (2) Schedule.


def test_poly_warmup_schedule_reference_points():
  base, end, spe = 10.5, 1e-4, 393
  w, d = 2 * spe, 14523
  sched = schedules.poly_warmup_schedule(base, end, w, d)
  mid = w + d // 2
  expected = {
      0: 0.0,
      1: base / w,
      w // 2: base / 2,
      w: base,                         # end of warmup: the peak
      w + 1: end + (base - end) * (1 - 1 / d) ** 2,
      mid: end + (base - end) * (1 - (d // 2) / d) ** 2,
      w + d - 2: ref_schedule(w + d - 2, base, end, w, d),  # last ref step
      w + d: end,
      w + d + 1000: end,               # held after the decay
  }
  for t, want in expected.items():
    assert math.isclose(float(sched(t)), want, rel_tol=1e-5, abs_tol=1e-7), t
    assert math.isclose(want, ref_schedule(t, base, end, w, d),
                        rel_tol=1e-12, abs_tol=1e-12), t
  # Traceable with an int32 count, as optax calls it.
  got = jax.jit(sched)(jnp.arange(0, w + d + 5, 97, dtype=jnp.int32))
  want = [ref_schedule(t, base, end, w, d) for t in range(0, w + d + 5, 97)]
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_poly_warmup_schedule_edge_cases():
  no_warmup = schedules.poly_warmup_schedule(1.0, 0.0, 0, 4)
  np.testing.assert_allclose([float(no_warmup(t)) for t in range(6)],
                             [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0])
  no_decay = schedules.poly_warmup_schedule(1.0, 0.01, 2, 0)
  np.testing.assert_allclose([float(no_decay(t)) for t in range(4)],
                             [0.0, 0.5, 1.0, 0.01])
  fractional = schedules.poly_warmup_schedule(2.0, 0.0, 2.5, 10)
  assert math.isclose(float(fractional(2)), 1.6, rel_tol=1e-6)
  with pytest.raises(ValueError):
    schedules.poly_warmup_schedule(1.0, 0.0, -1, 4)
  with pytest.raises(ValueError):
    schedules.poly_warmup_schedule(1.0, 0.0, 1, -4)


def test_lars_entry_builds_reference_schedule():
  hp = registry.resolve(resnet.hparams('lars'), {}, {}, division='closed')
  ctx = registry.OptimizerContext(steps_per_epoch=393, param_labels=lambda p: (
      jax.tree_util.tree_map_with_path(lambda path, _: registry.KERNEL if path[
          -1].key == 'kernel' else registry.BIAS, p)))
  tx, sched = registry.get('resnet', 'lars').build(hp, ctx)
  w, d = 2 * 393, 14523
  for t in (0, 100, w, w + 1, w + 5000, w + d, w + d + 7):
    assert math.isclose(float(sched(t)), ref_schedule(t, 10.5, 1e-4, w, d),
                        rel_tol=1e-5, abs_tol=1e-7), t
  params = _nest(_init_flat(np.random.default_rng(0)))
  updates, _ = tx.update(jax.tree.map(jnp.ones_like, params), tx.init(params),
                         params)
  assert jax.tree.structure(updates) == jax.tree.structure(params)


def test_sgd_entry_builds_and_checks_opt_name():
  hp = registry.resolve(resnet.hparams('sgd'), {}, {}, division='closed')
  ctx = registry.OptimizerContext(steps_per_epoch=10, param_labels=lambda p: (
      jax.tree_util.tree_map_with_path(lambda path, _: registry.KERNEL if path[
          -1].key == 'kernel' else registry.BIAS, p)))
  _, sched = resnet.SGD.build(hp, ctx)
  assert float(sched(0)) == 0.0
  assert math.isclose(float(sched(50)), 1.275, rel_tol=1e-6)
  with pytest.raises(ValueError, match='opt_name'):
    resnet.LARS.build(hp, ctx)


# ---------------------------------------------------------------------------
# (3) Hyperparameter resolution.


@pytest.mark.parametrize('name', ['lars', 'sgd'])
def test_defaults_pass_closed_division(name):
  entry = registry.get('resnet', name)
  registry.resolve(resnet.COMMON_HPARAMS + entry.hparams, {}, {},
                   division='closed')
  values = registry.resolve(resnet.hparams(name), {}, {}, division='closed')
  assert values['opt_name'] == name


def test_closed_division_reports_every_violation():
  overrides = {'lars_opt_weight_decay': '6e-5',
               'lars_opt_end_learning_rate': '0.001',
               'lars_opt_momentum': '0.8'}
  with pytest.raises(registry.HParamError) as err:
    registry.resolve(resnet.hparams('lars'), {}, overrides, division='closed')
  problems = err.value.problems
  assert len(problems) == 3, problems
  for key in overrides:
    assert sum(p.startswith(key + '=') for p in problems) == 1, (key, problems)
  for key in overrides:
    assert key in str(err.value)
  values = registry.resolve(resnet.hparams('lars'), {}, overrides,
                            division='open')
  assert values['lars_opt_weight_decay'] == 6e-5
  assert values['lars_opt_end_learning_rate'] == 0.001
  assert values['lars_opt_momentum'] == 0.8


def test_unknown_and_malformed_keys_are_reported_with_violations():
  overrides = {'lars_opt_wieght_decay': '1e-4',
               'lars_opt_base_learning_rate': 'abc',
               'lars_opt_momentum': '0.8'}
  with pytest.raises(registry.HParamError) as err:
    registry.resolve(resnet.hparams('lars'), {}, overrides, division='closed')
  problems = err.value.problems
  assert len(problems) == 3, problems
  assert any('unknown' in p and 'lars_opt_wieght_decay' in p
             for p in problems)
  assert any(p.startswith('lars_opt_base_learning_rate:') and 'abc' in p
             for p in problems)
  assert any(p.startswith('lars_opt_momentum=') for p in problems)


def test_lars_momentum_free_at_32k():
  overrides = {'global_batch_size': '32768', 'model_bn_span': '32768',
               'lars_opt_momentum': '0.8'}
  values = registry.resolve(resnet.hparams('lars'), {}, overrides,
                            division='closed')
  assert values['lars_opt_momentum'] == 0.8
  with pytest.raises(registry.HParamError, match='lars_opt_momentum'):
    registry.resolve(resnet.hparams('lars'), {},
                     dict(overrides, global_batch_size='32767'),
                     division='closed')


def test_sgd_closed_constraints():
  bad = {'sgd_opt_base_learning_rate': '1.2345',
         'sgd_opt_weight_decay': '3e-4',
         'sgd_opt_momentum': '0.95',
         'sgd_opt_end_learning_rate': '0',
         'opt_learning_rate_warmup_epochs': '-1',
         'sgd_opt_learning_rate_decay_steps': '2.5',
         'label_smoothing': '0.2'}
  with pytest.raises(registry.HParamError) as err:
    registry.resolve(resnet.hparams('sgd'), {}, bad, division='closed')
  reported = {p.split('=')[0].split(':')[0] for p in err.value.problems}
  assert reported == set(bad), err.value.problems


# ---------------------------------------------------------------------------
# (4) Keys equal those the official 1.1.0 checker requires.


def _yaml_key_names(filename):
  ref = (importlib.resources.files('mlperf_logging') / 'compliance_checker' /
         'training_1.1.0' / filename)
  items = yaml.safe_load(ref.read_text())
  return {item['KEY']['NAME'] for item in items if 'KEY' in item}


def _hparam_yaml_keys(filename):
  # Events the run loop logs, not hyperparameters.
  not_hparams = {'weights_initialization', 'eval_accuracy',
                 'submission_benchmark'}
  return _yaml_key_names(filename) - not_hparams


def test_lars_keys_equal_official_yaml():
  entry_keys = {h.key for h in resnet.LARS.hparams}
  assert entry_keys == _yaml_key_names('closed_resnet_lars.yaml')


def test_sgd_keys_equal_official_yaml():
  entry_keys = {h.key for h in resnet.SGD.hparams}
  common_keys = {h.key for h in resnet.COMMON_HPARAMS if h.logged}
  required = _yaml_key_names('closed_resnet_sgd.yaml')
  assert entry_keys <= required
  assert required - entry_keys == {'model_bn_span'}
  assert required <= entry_keys | common_keys


@pytest.mark.parametrize('name', ['lars', 'sgd'])
def test_logged_keys_cover_checker_exactly_once(name):
  hp = resnet.hparams(name)
  values = registry.resolve(hp, {}, {}, division='closed')
  logged = [k for k, _ in registry.mllog_items(hp, values)]
  assert len(logged) == len(set(logged)), logged   # EXACTLY_ONE
  required = (_hparam_yaml_keys(f'closed_resnet_{name}.yaml') |
              _hparam_yaml_keys('closed_resnet.yaml') |
              _hparam_yaml_keys('closed_common.yaml'))
  assert required <= set(logged), required - set(logged)
  assert 'label_smoothing' not in logged
  # The YAML's own value checks pass on the defaults.
  assert values['global_batch_size'] > 0
  assert values['gradient_accumulation_steps'] > 0
  assert values['opt_name'] == name
