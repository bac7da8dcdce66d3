# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The hyperparameter registry of the whole suite against the MLPerf rules.

For each of the eight v1.1 workloads: one legal and one illegal closed
setting (the illegal one rejected, naming the rule), the open division
accepting and logging it, and every key the 1.1.0 compliance YAML requires
present in the registry. The schedules and optimizers of the entries are
checked step by step against plain-Python/NumPy transcriptions of the
reference code (torch.optim.SGD, TF MomentumOptimizer, torch.optim.Adam,
apex FusedLAMB).
"""

import bisect
import importlib
import math
import os

import jax
import jax.numpy as jnp
import mlperf_logging
import numpy as np
import pytest
import yaml

from mlperf_jax.optim import adam
from mlperf_jax.hparams import registry

EIGHT = ('resnet', 'bert', 'dlrm', 'ssd', 'maskrcnn', 'unet3d', 'rnnt',
         'minigo')
YAML_DIR = os.path.join(os.path.dirname(mlperf_logging.__file__),
                        'compliance_checker', 'training_1.1.0')
# Keys the YAMLs require that the loop or the workload logs (measurements,
# dataset sizes, the timeline), not hyperparameters.
RUN_KEYS = {'weights_initialization', 'eval_accuracy', 'seed', 'train_samples',
            'eval_samples', 'actual_selfplay_games_per_generation',
            'block_start', 'block_stop', 'epoch_start', 'epoch_stop',
            'eval_start', 'eval_stop', 'init_start', 'init_stop', 'run_start',
            'run_stop', 'cache_clear'}


def _entries():
  for w in EIGHT:
    for name in registry.names(w):
      yield w, name


def _all_hparams(workload, name):
  """Every hyperparameter of a run: the entry module's `hparams(opt_name)`."""
  entry = registry.get(workload, name)
  module = importlib.import_module(entry.build.__module__)
  if hasattr(module, 'hparams'):
    return module.hparams(name)
  return entry.hparams


def _required_keys(path):
  with open(path) as f:
    items = yaml.safe_load(f)
  keys = set()
  for item in items:
    key = item.get('KEY') if isinstance(item, dict) else None
    if key and str(key.get('REQ', '')).startswith(('EXACTLY', 'AT_LEAST')):
      keys.add(key['NAME'])
  return keys


def test_all_eight_workloads_are_registered():
  missing = [w for w in EIGHT if not registry.names(w)]
  assert not missing, f'no optimizer entry for {missing}'


@pytest.mark.parametrize('workload,name', list(_entries()))
def test_entry_has_every_key_its_yaml_requires(workload, name):
  want = _required_keys(os.path.join(YAML_DIR, 'closed_common.yaml'))
  want = {'gradient_accumulation_steps'} & want
  want |= _required_keys(os.path.join(YAML_DIR, f'closed_{workload}.yaml'))
  if workload == 'resnet':
    want |= _required_keys(os.path.join(YAML_DIR,
                                        f'closed_resnet_{name}.yaml'))
  want -= RUN_KEYS
  hps = _all_hparams(workload, name)
  logged = [k for k, _ in registry.mllog_items(
      hps, {h.key: h.default for h in hps})]
  assert want <= set(logged), sorted(want - set(logged))
  assert len(logged) == len(set(logged)), 'a key would be logged twice'


# workload -> (legal closed overrides, illegal closed overrides, words the
# rejection must contain: the key and the rule).
CASES = {
    'resnet': ({'lars_opt_weight_decay': '2e-4'},
               {'lars_opt_weight_decay': '3e-4'},
               ['lars_opt_weight_decay', '* 2^N']),
    'resnet/sgd': ({'sgd_opt_base_learning_rate': '2.5'},
                   {'sgd_opt_base_learning_rate': '2.5005'},
                   ['sgd_opt_base_learning_rate', '0.001 * k']),
    'bert': ({'opt_base_learning_rate': '5e-4'},
             {'opt_lamb_learning_rate_decay_poly_power': '2'},
             ['opt_lamb_learning_rate_decay_poly_power', 'fixed']),
    'dlrm': ({'opt_base_learning_rate': '20'},
             {'sgd_opt_learning_rate_decay_poly_power': '3'},
             ['sgd_opt_learning_rate_decay_poly_power']),
    'ssd': ({'opt_learning_rate_decay_boundary_epochs': '44,55',
             'max_samples': '50'},
            {'opt_learning_rate_decay_boundary_epochs': '44,50'},
            ['opt_learning_rate_decay_boundary_epochs',
             '[40, 50] * (1 + k/10)']),
    # The decay steps rule depends on the global batch size: the reference
    # steps (60000, 80000) are legal at 16 images per step, not at 20.
    'maskrcnn': ({'global_batch_size': '20',
                  'opt_learning_rate_decay_steps': '48000,64000'},
                 {'global_batch_size': '20'},
                 ['opt_learning_rate_decay_steps',
                  '* 16 / global_batch_size']),
    'unet3d': ({'opt_base_learning_rate': '2.0',
                'opt_learning_rate_warmup_epochs': '1000'},
               {'oversampling': '0.5'}, ['oversampling', 'fixed']),
    'rnnt': ({'opt_gradient_clip_norm': 'inf', 'opt_lamb_beta_2': '0.98'},
             {'opt_gradient_clip_norm': '5'},
             ['opt_gradient_clip_norm', 'one of [1, inf]']),
    'minigo': ({'lr_boundaries': '100,200', 'lr_rates': '0.1,0.01,0.001'},
               {'min_selfplay_games_per_generation': '4096'},
               ['min_selfplay_games_per_generation', 'fixed']),
}


@pytest.mark.parametrize('workload,name', list(_entries()))
def test_closed_rejects_illegal_and_open_accepts(workload, name):
  legal, illegal, words = CASES.get(f'{workload}/{name}', CASES[workload])
  hps = _all_hparams(workload, name)
  # Reference defaults are legal, and so is the legal setting.
  registry.resolve(hps, {}, {}, division='closed')
  ok = registry.resolve(hps, {}, legal, division='closed')
  for k in legal:
    assert k in ok
  with pytest.raises(registry.HParamError) as err:
    registry.resolve(hps, {}, illegal, division='closed')
  msg = str(err.value)
  for w in words:
    assert w in msg, msg
  assert len(err.value.problems) == 1, msg
  opened = registry.resolve(hps, {}, illegal, division='open')
  logged = dict(registry.mllog_items(hps, opened))
  for k in illegal:
    assert logged[k] == opened[k]


def test_closed_lists_every_violation_at_once():
  hps = _all_hparams('rnnt', 'lamb')
  with pytest.raises(registry.HParamError) as err:
    registry.resolve(hps, {}, {'opt_lamb_epsilon': '1e-8',
                               'opt_weight_decay': '0',
                               'data_speed_perturbaton_min': '0.9',
                               'opt_gradient_clip_norm': '2'},
                     division='closed')
  assert len(err.value.problems) == 4, err.value


@pytest.mark.parametrize('gbs,steps', [
    (48, [24000, 32000]), (64, [18000, 24000]), (96, [12000, 16000]),
    (128, [9000, 12000]), (256, [5625, 7500]), (272, [5294, 7058])])
def test_maskrcnn_decay_steps_of_the_official_rcps_are_legal(gbs, steps):
  # rcp_checker/training_1.1.0/rcps_maskrcnn.json: reference points at
  # several batch sizes, all closed-legal (5294 = 60000 * 1.5 * 16 / 272,
  # rounded).
  hps = _all_hparams('maskrcnn', 'sgd_with_momentum')
  registry.resolve(hps, {}, {
      'global_batch_size': gbs, 'opt_learning_rate_decay_steps': steps,
      'num_image_candidates': 1000 * gbs // 8}, division='closed')
  # One image more per step and the same steps no longer fit any K.
  with pytest.raises(registry.HParamError, match='16 / global_batch_size'):
    registry.resolve(hps, {}, {
        'global_batch_size': gbs + 1, 'opt_learning_rate_decay_steps': steps},
                     division='closed')


# ---- schedules against the reference code, transcribed -------------------


def _sched(workload, name, overrides, spe, mask=None):
  hps = _all_hparams(workload, name)
  hp = registry.resolve(hps, {}, overrides, division='open')
  ctx = registry.OptimizerContext(
      steps_per_epoch=spe,
      param_labels=mask or (lambda p: jax.tree.map(
          lambda x: registry.KERNEL if x.ndim > 1 else registry.BIAS, p)))
  return hp, registry.get(workload, name).build(hp, ctx)


def _ssd_reference_lrs(base, wb, factor, schedule, spe, epochs):
  """single_stage_detector/ssd/train.py: the param-group LR per update."""
  lrs, param_lr, current_lr, it = [], base, base, 0
  for epoch in range(epochs):
    if epoch in schedule:
      current_lr *= 0.1
      param_lr = current_lr
    for _ in range(spe):
      if it < wb:  # lr_warmup
        param_lr = current_lr - (wb - it) * (current_lr / (wb * 2 ** factor))
      lrs.append(param_lr)
      it += 1
  return lrs


@pytest.mark.parametrize('wb,factor,bounds', [(5, 0, [2, 3]), (3, 1, [1, 4]),
                                               (7, 0, [1, 2])])
def test_ssd_schedule_matches_reference(wb, factor, bounds):
  spe, epochs = 4, 6
  _, (_, sched) = _sched('ssd', 'sgd', {
      'opt_base_learning_rate': 0.5, 'opt_learning_rate_warmup_steps': wb,
      'opt_learning_rate_warmup_factor': factor,
      'opt_learning_rate_decay_boundary_epochs': bounds}, spe)
  want = _ssd_reference_lrs(0.5, wb, factor, bounds, spe, epochs)
  got = [float(sched(t)) for t in range(len(want))]
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_maskrcnn_schedule_matches_reference():
  base, wf, wi, steps = 0.04, 1 / 3, 6, [9, 13]
  _, (_, sched) = _sched('maskrcnn', 'sgd_with_momentum', {
      'opt_base_learning_rate': base, 'opt_learning_rate_warmup_steps': wi,
      'opt_learning_rate_warmup_factor': wf,
      'opt_learning_rate_decay_steps': steps, 'global_batch_size': 1}, 1)
  want = []
  last_epoch = 0  # WarmupMultiStepLR after construction
  for _ in range(16):
    last_epoch += 1  # trainer: scheduler.step() before optimizer.step()
    f = 1.0
    if last_epoch < wi:
      alpha = last_epoch / wi
      f = wf * (1 - alpha) + alpha
    want.append(base * f * 0.1 ** bisect.bisect_right(steps, last_epoch))
  got = [float(sched(t)) for t in range(16)]
  np.testing.assert_allclose(got, want, rtol=1e-6)


def _unet_reference_lrs(base, init, warm, milestones, gamma, spe, epochs):
  """image_segmentation/pytorch/runtime/training.py, per update."""
  lrs, lr = [], base
  for epoch in range(1, epochs + 1):
    if epoch <= warm and warm > 0:
      lr = init + (base - init) * epoch / warm
    lrs += [lr] * spe
    if milestones and epoch in milestones:  # MultiStepLR.step() at epoch end
      lr *= gamma
  return lrs


@pytest.mark.parametrize('warm,milestones', [(3, [5, 7]), (0, [2]),
                                             (4, [2, 4, 6])])
def test_unet3d_schedule_matches_reference(warm, milestones):
  spe = 3
  _, (_, sched) = _sched('unet3d', 'sgd', {
      'opt_base_learning_rate': 1.5, 'opt_initial_learning_rate': 1e-3,
      'opt_learning_rate_warmup_epochs': warm,
      'opt_learning_rate_decay_boundary_epochs': milestones,
      'opt_learning_rate_decay_factor': 0.5}, spe)
  want = _unet_reference_lrs(1.5, 1e-3, warm, milestones, 0.5, spe, 9)
  got = [float(sched(t)) for t in range(len(want))]
  np.testing.assert_allclose(got, want, rtol=1e-6)


def test_rnnt_schedule_matches_reference():
  spe, warm, hold, gamma, base, min_lr = 3, 2, 1, 0.5, 0.01, 1e-3
  _, (_, sched) = _sched('rnnt', 'lamb', {
      'opt_base_learning_rate': base, 'opt_learning_rate_warmup_epochs': warm,
      'opt_lamb_learning_rate_hold_epochs': hold,
      'opt_lamb_learning_rate_decay_poly_power': gamma,
      'opt_lamb_learning_rate_min': min_lr}, spe)
  want, step = [], 1
  for epoch in range(1, 9):  # rnn_speech_recognition/pytorch/train.py
    for _ in range(spe):     # common/optimizers.py::lr_policy
      if step < warm * spe:
        a = (step + 1) / (warm * spe + 1)
      elif step < (warm + hold) * spe:
        a = 1.0
      else:
        a = gamma ** (epoch - warm - hold)
      want.append(max(a * base, min_lr))
      step += 1
  got = [float(sched(t)) for t in range(len(want))]
  np.testing.assert_allclose(got, want, rtol=1e-6)


def test_minigo_schedule_is_tf_piecewise_constant():
  _, (_, sched) = _sched('minigo', 'sgd', {
      'lr_boundaries': [2, 5], 'lr_rates': [0.1, 0.2, 0.05]}, 1)
  # tf.train.piecewise_constant: x <= b0 -> v0, b0 < x <= b1 -> v1, else v2.
  want = [0.1 if t <= 2 else 0.2 if t <= 5 else 0.05 for t in range(9)]
  np.testing.assert_allclose([float(sched(t)) for t in range(9)], want,
                             rtol=1e-6)
  with pytest.raises(ValueError, match='lr_rates needs 3 values'):
    _sched('minigo', 'sgd', {'lr_boundaries': [2, 5], 'lr_rates': [0.1]}, 1)


# ---- optimizer updates against NumPy transcriptions -----------------------


def _problem(seed=0, steps=8):
  rng = np.random.default_rng(seed)
  params = {'kernel': rng.normal(size=(4, 3)).astype(np.float32),
            'bias': rng.normal(size=(3,)).astype(np.float32)}
  grads = [{k: rng.normal(size=v.shape).astype(np.float32)
            for k, v in params.items()} for _ in range(steps)]
  return params, grads


def _run_optax(tx, params, grads):
  params = jax.tree.map(jnp.asarray, params)
  state = tx.init(params)
  out = []
  update = jax.jit(tx.update)
  for g in grads:
    u, state = update(jax.tree.map(jnp.asarray, g), state, params)
    params = jax.tree.map(lambda p, d: p + d, params, u)
    out.append(jax.tree.map(np.asarray, params))
  return out


def _np_torch_sgd(params, grads, lrs, momentum, wd, decays, nesterov=False,
                  lr_factor=None):
  """torch.optim.SGD.step (dampening 0), one param group per parameter."""
  w = {k: v.astype(np.float64) for k, v in params.items()}
  buf, out = {}, []
  for t, g in enumerate(grads):
    for k in w:
      d = g[k].astype(np.float64)
      if decays[k]:
        d = d + wd * w[k]
      buf[k] = d.copy() if t == 0 else momentum * buf[k] + d
      step = d + momentum * buf[k] if nesterov else buf[k]
      w[k] = w[k] - lrs[t] * (lr_factor or {}).get(k, 1.0) * step
    out.append({k: v.copy() for k, v in w.items()})
  return out


def _assert_close(got, want, rtol=2e-5, atol=1e-6):
  for t, (g, w) in enumerate(zip(got, want)):
    for k in w:
      np.testing.assert_allclose(g[k], w[k], rtol=rtol, atol=atol,
                                 err_msg=f'step {t} {k}')


def test_unet3d_sgd_is_torch_sgd_nesterov():
  params, grads = _problem(1)
  hp, (tx, sched) = _sched('unet3d', 'sgd', {
      'opt_base_learning_rate': 0.3, 'opt_learning_rate_warmup_epochs': 2,
      'opt_weight_decay': 1e-2, 'opt_momentum': 0.8}, 2)
  lrs = [float(sched(t)) for t in range(len(grads))]
  want = _np_torch_sgd(params, grads, lrs, 0.8, 1e-2,
                       {'kernel': True, 'bias': True}, nesterov=True)
  _assert_close(_run_optax(tx, params, grads), want)
  assert hp['opt_momentum'] == 0.8


def test_maskrcnn_sgd_is_torch_sgd_with_bias_groups():
  params, grads = _problem(2)
  _, (tx, sched) = _sched('maskrcnn', 'sgd_with_momentum', {
      'opt_base_learning_rate': 0.1, 'opt_learning_rate_warmup_steps': 3,
      'global_batch_size': 1}, 1)
  lrs = [float(sched(t)) for t in range(len(grads))]
  # make_optimizer: biases lr * 2 and weight decay 0, others wd 1e-4.
  want = _np_torch_sgd(params, grads, lrs, 0.9, 1e-4,
                       {'kernel': True, 'bias': False},
                       lr_factor={'bias': 2.0})
  _assert_close(_run_optax(tx, params, grads), want)


def test_minigo_sgd_is_tf_momentum_with_l2_loss():
  params, grads = _problem(3)
  _, (tx, _) = _sched('minigo', 'sgd', {
      'lr_boundaries': [3], 'lr_rates': [0.05, 0.01]}, 1)
  # tf.train.MomentumOptimizer on loss + 1e-4 * sum(l2_loss(v)) over
  # non-bias variables: grad += 1e-4 * w; accum = 0.9 * accum + grad (from
  # zero); w -= lr * accum. Written independently of the torch form.
  w = {k: v.astype(np.float64) for k, v in params.items()}
  acc = {k: np.zeros_like(v) for k, v in w.items()}
  want = []
  for t, g in enumerate(grads):
    lr = 0.05 if t <= 3 else 0.01
    for k in w:
      grad = g[k] + (1e-4 * w[k] if k != 'bias' else 0.0)
      acc[k] = 0.9 * acc[k] + grad
      w[k] = w[k] - lr * acc[k]
    want.append({k: v.copy() for k, v in w.items()})
  _assert_close(_run_optax(tx, params, grads), want)


def test_ssd_sgd_decays_every_parameter():
  params, grads = _problem(4)
  _, (tx, sched) = _sched('ssd', 'sgd', {
      'opt_base_learning_rate': 0.2, 'opt_learning_rate_warmup_steps': 3}, 3)
  lrs = [float(sched(t)) for t in range(len(grads))]
  want = _np_torch_sgd(params, grads, lrs, 0.9, 5e-4,
                       {'kernel': True, 'bias': True})
  _assert_close(_run_optax(tx, params, grads), want)


def _np_torch_adam(params, grads, lrs, b1, b2, eps, wd, decays):
  """torch.optim.Adam.step (amsgrad off)."""
  w = {k: v.astype(np.float64) for k, v in params.items()}
  m = {k: np.zeros_like(v) for k, v in w.items()}
  v = {k: np.zeros_like(x) for k, x in w.items()}
  out = []
  for t, g in enumerate(grads, start=1):
    for k in w:
      d = g[k] + (wd * w[k] if decays[k] else 0.0)
      m[k] = b1 * m[k] + (1 - b1) * d
      v[k] = b2 * v[k] + (1 - b2) * d * d
      step_size = lrs[t - 1] / (1 - b1 ** t)
      denom = np.sqrt(v[k]) / math.sqrt(1 - b2 ** t) + eps
      w[k] = w[k] - step_size * m[k] / denom
    out.append({k: x.copy() for k, x in w.items()})
  return out


@pytest.mark.parametrize('eps', [1e-8, 1e-2])
def test_adam_is_torch_adam(eps):
  params, grads = _problem(5)
  sched = lambda t: 0.01 * (1 + jnp.asarray(t, jnp.float32)) / 4
  mask = {'kernel': True, 'bias': False}
  tx = adam.torch_adam(sched, beta1=0.8, beta2=0.95, eps=eps,
                       weight_decay=0.1, mask=mask)
  lrs = [float(sched(t)) for t in range(len(grads))]
  want = _np_torch_adam(params, grads, lrs, 0.8, 0.95, eps, 0.1, mask)
  _assert_close(_run_optax(tx, params, grads), want)


def _np_fused_lamb(params, grads, lrs, b1, b2, eps, wd, max_norm):
  """apex FusedLAMB (adam_w_mode, bias correction, grad averaging)."""
  w = {k: v.astype(np.float64) for k, v in params.items()}
  m = {k: np.zeros_like(v) for k, v in w.items()}
  v = {k: np.zeros_like(x) for k, x in w.items()}
  out = []
  for t, g in enumerate(grads, start=1):
    gnorm = math.sqrt(sum(float(np.sum(x.astype(np.float64) ** 2))
                          for x in g.values()))
    clip = max_norm / max(gnorm, max_norm) if math.isfinite(max_norm) else 1.0
    for k in w:
      d = g[k] * clip
      m[k] = b1 * m[k] + (1 - b1) * d
      v[k] = b2 * v[k] + (1 - b2) * d * d
      u = (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + eps)
      u = u + wd * w[k]
      pn, un = np.linalg.norm(w[k]), np.linalg.norm(u)
      ratio = pn / un if pn > 0 and un > 0 else 1.0
      w[k] = w[k] - lrs[t - 1] * ratio * u
    out.append({k: x.copy() for k, x in w.items()})
  return out


@pytest.mark.parametrize('clip', ['1', 'inf'])
def test_rnnt_lamb_is_fused_lamb(clip):
  pytest.importorskip('mlperf_jax.optim.lamb',
                      reason='lamb.py (shared with BERT) not written yet')
  params, grads = _problem(6)
  grads = [jax.tree.map(lambda x: 3 * x, g) for g in grads]  # norms > 1
  _, (tx, sched) = _sched('rnnt', 'lamb', {
      'opt_base_learning_rate': 0.05, 'opt_learning_rate_warmup_epochs': 1,
      'opt_lamb_learning_rate_hold_epochs': 1,
      'opt_gradient_clip_norm': clip}, 2)
  lrs = [float(sched(t)) for t in range(len(grads))]
  want = _np_fused_lamb(params, grads, lrs, 0.9, 0.999, 1e-9, 1e-3,
                        float(clip))
  _assert_close(_run_optax(tx, params, grads), want, rtol=5e-5, atol=5e-6)
