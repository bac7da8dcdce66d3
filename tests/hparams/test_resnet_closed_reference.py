# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ResNet closed-division details against the MLPerf TF2 reference.

(1) input normalisation: channel means only, std division an open option;
(3) the SGD path: Keras SGD with the reference's L2 loss on every non-BN
    variable, step by step against a NumPy transcription;
(4) `model_bn_span` is the real span, derived from the batch;
(6) steps per epoch round down, as the reference.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from mlperf_jax.hparams import registry
from mlperf_jax.input_pipelines import image_ops
from mlperf_jax.models import cpu_kernels, direct_conv, max_pool
from mlperf_jax.runtime import loop
from mlperf_jax.workloads import resnet as resnet_wl


def _hp(wl, division='closed', **over):
  return registry.resolve(wl.hparams(over.get('opt_name', 'lars')),
                          wl.variant.defaults,
                          {k: str(v) for k, v in over.items()},
                          division=division)


# ---- (1) input normalisation ------------------------------------------------


def test_default_preprocessing_subtracts_the_means_only():
  # The reference's _mean_image_subtraction: x - (123.68, 116.78, 103.94),
  # no division. A 256 x 256 image is centre-cropped without resampling.
  img = np.random.default_rng(0).integers(0, 256, (256, 256, 3), np.uint8)
  out = image_ops.preprocess_for_eval(img)
  want = img[16:240, 16:240].astype(np.float32) - np.array(
      [123.68, 116.78, 103.94], np.float32)
  np.testing.assert_allclose(out, want, rtol=0, atol=1e-4)
  train = image_ops.preprocess_for_train(np.full((64, 64, 3), 200, np.uint8),
                                         np.random.default_rng(1))
  np.testing.assert_allclose(train[0, 0], 200 - np.array(image_ops.MEAN_RGB),
                             atol=1e-4)


def test_std_division_is_an_open_division_option_and_logged():
  wl = resnet_wl.ResNetWorkload('reference', synthetic=True)
  hp = _hp(wl)
  assert hp['input_normalization'] == 'mean'
  assert resnet_wl.input_std(hp) is None
  # Only the implementation detail of which 2D convolution runs (the direct
  # kernels where this machine can build them).
  direct = ('direct_conv kernels for the other large 3x3 stride-1 ones where '
            'they apply, ' if direct_conv.available() else '')
  assert wl.extra_mllog_items(hp) == [(
      'mlperf_jax_conv2d',
      'im2col for 1x1, strided and <= 8^2 convolutions of >= 1e+08 forward '
      'FLOPs, ' + direct +
      'xla with an im2col kernel gradient for the other large ones, xla for '
      'the rest on cpu'), (
          'mlperf_jax_batch_norm',
          'one-pass per-channel sums (models/batch_norm_kernels.cc) in a custom '
          "VJP, ReLU fused, on one float32 device, else flax's expressions, "
          'on cpu' if cpu_kernels.available() else
          "flax's expressions on cpu"), (
          'mlperf_jax_max_pool',
          ('max-pool kernels, gradient to the first maximal tap '
           '(models/max_pool_kernels.cc) on one float32 device, else '
           'window-tap maxima' if max_pool.kernel_available() else
           'window-tap maxima, gradient by selects (models/max_pool.py)')
          + ' on cpu')]
  with pytest.raises(registry.HParamError, match='open-division only'):
    _hp(wl, input_normalization='mean_std')
  with pytest.raises(registry.HParamError, match='must be one of'):
    _hp(wl, 'open', input_normalization='std')
  hp = _hp(wl, 'open', input_normalization='mean_std')
  assert resnet_wl.input_std(hp) == image_ops.STDDEV_RGB
  *_, (key, text) = wl.extra_mllog_items(hp)
  assert key == 'mlperf_jax_notice' and 'channel std' in text
  # Not an MLLOG hyperparameter: the checker's keys are unchanged.
  assert 'input_normalization' not in dict(
      registry.mllog_items(wl.hparams('lars'), hp))


# ---- (3) SGD: Keras momentum, L2 on every non-BatchNorm variable -------------


def _keras_sgd_reference(params, grads_per_step, lrs, momentum, wd, decayed):
  """NumPy transcription of the reference's SGD step.

  resnet_runnable.py adds `weight_decay * 2 * sum(tf.nn.l2_loss(v))` over
  the variables without 'bn' in their names to the loss (l2_loss(v) =
  sum(v^2) / 2), so the gradient gains 2 * wd * v there; Keras SGD
  (gradient_descent_v2) then does v = m * v - lr * g; w = w + v.
  """
  w = {k: np.asarray(v, np.float64) for k, v in params.items()}
  vel = {k: np.zeros_like(v) for k, v in w.items()}
  for g, lr in zip(grads_per_step, lrs):
    for k in w:
      grad = np.asarray(g[k], np.float64)
      if decayed[k]:
        grad = grad + 2.0 * wd * w[k]
      vel[k] = momentum * vel[k] - lr * grad
      w[k] = w[k] + vel[k]
  return w


def test_sgd_is_keras_sgd_with_the_reference_l2_term():
  wl = resnet_wl.ResNetWorkload('mini')
  hp = _hp(wl, opt_name='sgd', sgd_opt_weight_decay=2e-4)
  params = jax.tree.map(np.asarray, wl.init(jax.random.PRNGKey(0), hp)[0])
  import flax.linen as nn  # pylint: disable=import-outside-toplevel
  params = nn.meta.unbox(params)
  tx, schedule = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  flat = traverse_util.flatten_dict(params, sep='/')
  # What the reference decays: everything whose name has no 'bn', i.e. the
  # conv and dense kernels and the dense bias (the labels' kernel + bias).
  labels = traverse_util.flatten_dict(wl.param_labels(params), sep='/')
  decayed = {k: labels[k] in (registry.KERNEL, registry.BIAS) for k in flat}
  assert any(decayed[k] and flat[k].ndim == 1 for k in flat)  # dense bias
  assert not all(decayed.values())                             # BN excluded
  rng = np.random.default_rng(3)
  steps = 6
  grads = [{k: rng.normal(size=v.shape) for k, v in flat.items()}
           for _ in range(steps)]
  lrs = [float(schedule(t)) for t in range(steps)]
  assert len(set(lrs)) == steps  # the LR changes every step (warmup)
  state = tx.init(params)
  p = params
  for g in grads:
    g_tree = traverse_util.unflatten_dict(
        {tuple(k.split('/')): jnp.asarray(v, jnp.float32)
         for k, v in g.items()})
    updates, state = tx.update(g_tree, state, p)
    p = jax.tree.map(lambda a, u: a + u, p, updates)
  ours = traverse_util.flatten_dict(p, sep='/')
  want = _keras_sgd_reference(flat, grads, lrs, 0.9, 2e-4, decayed)
  for k in flat:
    np.testing.assert_allclose(np.asarray(ours[k], np.float64), want[k],
                               rtol=2e-5, atol=1e-6, err_msg=k)


# ---- (4) model_bn_span: the real span ----------------------------------------


def test_model_bn_span_is_the_global_micro_batch():
  wl = resnet_wl.ResNetWorkload('reference', synthetic=True)
  assert _hp(wl)['model_bn_span'] == 3264
  assert _hp(wl, global_batch_size=256)['model_bn_span'] == 256
  hp = _hp(wl, global_batch_size=256, gradient_accumulation_steps=4)
  assert hp['model_bn_span'] == 64
  assert ('model_bn_span', 64) in registry.mllog_items(wl.hparams('lars'), hp)
  # A span the run does not have is rejected in both divisions.
  for division in ('closed', 'open'):
    with pytest.raises(registry.HParamError, match='model_bn_span=204'):
      _hp(wl, division, global_batch_size=256, model_bn_span=204)
  assert _hp(wl, global_batch_size=256, model_bn_span=256)[
      'model_bn_span'] == 256
  mini = resnet_wl.ResNetWorkload('mini')
  assert _hp(mini)['model_bn_span'] == _hp(mini)['global_batch_size']


# ---- (6) steps per epoch: floor, as the reference ----------------------------


def test_steps_per_epoch_round_down_as_the_reference():
  wl = resnet_wl.ResNetWorkload('reference', synthetic=True)
  hp = _hp(wl)
  # 1,281,167 / 3264 = 392.5: the reference runs 392 steps per epoch.
  assert wl.steps_per_epoch(hp) == 392
  blocks = list(wl.blocks(hp, 8))
  assert [b.steps for b in blocks] == [4 * 392, 4 * 392]
  ctx = loop.optimizer_context(wl, hp)
  assert ctx.steps_per_epoch == 392  # warmup: 2 epochs = 784 steps
  assert wl.steps_per_epoch(_hp(wl, global_batch_size=2_000_000)) == 1
