# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ResNet-50 hyperparameters and optimizers (LARS and SGD), by MLLOG key.

Keys and closed-division constraints follow the v1.1 rules table and the
1.1.0 compliance YAMLs (`closed_resnet.yaml`, `closed_resnet_lars.yaml`,
`closed_resnet_sgd.yaml`, `closed_common.yaml` of mlperf-logging 4.1.68).
Every optimizer key the optimizer's YAML requires is an entry key here, so
`mllog_items(hparams(name), values)` logs each of them exactly once.

Defaults:
  * LARS: the 1.1.0 RCP `resnet_ref_3264` (rcp_checker/training_1.1.0/
    rcps_resnet.json): base LR 10.5, 2 warmup epochs, momentum 0.9, weight
    decay 5e-5, 14523 decay steps; end LR 1e-4, power 2 and epsilon 0.0 are
    fixed by the rules.
  * SGD: the reference's `--optimizer=SGD` path (mlcommons/training
    `image_classification/tensorflow2/common.py` `get_optimizer`: Keras
    `gradient_descent_v2.SGD(lr_schedule, momentum)` under the same
    `PolynomialDecayWithWarmup` as LARS, and `resnet_runnable.py`, which adds
    the L2 term `weight_decay * 2 * sum(l2_loss(v))` over every trainable
    variable whose name has no 'bn' to the loss). No RCP exists for it, so
    the defaults are an untuned starting point: base LR 1.275 =
    0.1 * 3264 / 256 (the linear scaling rule of Goyal et al. 2017, which is
    a multiple of 0.001 as the rules require), 5 warmup epochs and weight
    decay 1e-4 (same paper; 1e-4 * 2^0), momentum 0.9 (fixed by the rules),
    and the LARS RCP's 14523 decay steps.
  * model_bn_span: BatchNorm statistics are computed over the whole
    micro-batch, synchronised over every device (distributed BatchNorm is
    allowed: training_rules.adoc v1.1, "Equivalence exceptions"), so the span
    is derived, `global_batch_size / gradient_accumulation_steps`, and any
    other value is rejected. (The RCP lists 204 because NVIDIA's run used
    per-group statistics.)
  * input_normalization: 'mean' (the reference's `_mean_image_subtraction`
    of the channel means, no division; the default) or 'mean_std' (also
    divide by the channel standard deviations, as NVIDIA's MXNet submissions
    do). The closed division requires the reference's preprocessing
    (training_rules.adoc v1.1, "Preprocessing During the Run": "The same
    preprocessing steps as the reference implementation must be used") and
    its list of "Equivalence exceptions" names no normalisation change, so
    'mean_std' needs an exemption approved in advance: it is accepted in the
    open division only, and logged there.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from mlperf_jax.hparams import registry
from mlperf_jax.hparams.registry import HParam

# The optimizers (mlperf_jax.optim, which import JAX and optax) are imported
# by the `build` functions only, so that this module stays JAX-free.

WORKLOAD = 'resnet'

# The rules fix LARS momentum to 0.9 below this global batch size ("32k").
_FREE_MOMENTUM_BATCH_SIZE = 32768


def _lars_momentum_ok(v: float, hp: Mapping[str, Any]) -> bool:
  gbs = hp.get('global_batch_size', 0)
  return v == 0.9 or (isinstance(gbs, int) and gbs >= _FREE_MOMENTUM_BATCH_SIZE)


# `input_normalization` values: subtract the channel means (the reference),
# or also divide by the channel standard deviations.
NORMALIZATIONS = ('mean', 'mean_std')

COMMON_HPARAMS: tuple[HParam, ...] = (
    HParam('global_batch_size', 3264, registry.positive_int(), int,
           doc='images per optimizer step, over all devices'),
    registry.GRADIENT_ACCUMULATION,
    HParam('opt_name', 'lars', registry.one_of('lars', 'sgd'), str,
           doc='optimizer; selects the closed_resnet_<opt_name>.yaml checks'),
    registry.global_bn_span(),
    HParam('label_smoothing', 0.1, registry.one_of(0.0, 0.1), float,
           logged=False,
           doc='0 or 0.1 in the closed division; checked by code review'),
    HParam('input_normalization', 'mean',
           registry.rule(lambda v, hp: v == 'mean',
                         "must be 'mean' (the reference's preprocessing) in "
                         "the closed division; 'mean_std' is open-division "
                         'only'), str, logged=False,
           fact=lambda v, hp: None if v in NORMALIZATIONS else (
               f'must be one of {list(NORMALIZATIONS)}'),
           doc="'mean': subtract the channel means (the reference); "
               "'mean_std': also divide by the channel stds (open division; "
               'logged as a notice)'),
)

LARS_HPARAMS: tuple[HParam, ...] = (
    HParam('lars_opt_base_learning_rate', 10.5, kind=float,
           doc='peak LR, reached at the end of the warmup'),
    HParam('lars_opt_learning_rate_warmup_epochs', 2.0, kind=float,
           doc='linear warmup length in epochs (may be fractional)'),
    HParam('lars_opt_momentum', 0.9,
           registry.rule(_lars_momentum_ok,
                         'must be 0.9 when global_batch_size < 32768 in the '
                         'closed division'),
           float, doc='momentum coefficient'),
    HParam('lars_opt_weight_decay', 5e-5, registry.pow2_times(1e-4), float,
           doc='L2 coefficient, also in the trust ratio; not on BN/bias'),
    # Any value is allowed by the rules; the constraint only rejects values
    # that are no step count at all.
    HParam('lars_opt_learning_rate_decay_steps', 14523,
           registry.nonnegative_int(), int,
           doc='D of the polynomial decay, the reference\'s '
               'train_steps - warmup_steps + 1; used as is'),
    HParam('lars_opt_end_learning_rate', 1e-4, registry.fixed(1e-4), float,
           doc='LR at the end of the decay'),
    HParam('lars_opt_learning_rate_decay_poly_power', 2.0, registry.fixed(2),
           float, doc='exponent of the polynomial decay'),
    HParam('lars_epsilon', 0.0, registry.fixed(0.0), float,
           doc='added to the trust ratio denominator'),
)

SGD_HPARAMS: tuple[HParam, ...] = (
    HParam('sgd_opt_base_learning_rate', 1.275, registry.multiple_of(0.001),
           float, doc='peak LR, reached at the end of the warmup'),
    HParam('sgd_opt_end_learning_rate', 1e-4, registry.fixed(1e-4), float,
           doc='LR at the end of the decay'),
    HParam('sgd_opt_learning_rate_decay_poly_power', 2.0, registry.fixed(2),
           float, doc='exponent of the polynomial decay'),
    HParam('sgd_opt_learning_rate_decay_steps', 14523,
           registry.nonnegative_int(), int,
           doc='D of the polynomial decay (same meaning as for LARS)'),
    HParam('sgd_opt_weight_decay', 1e-4, registry.pow2_times(1e-4), float,
           doc='L2 coefficient wd of the loss term wd * ||w||^2 (gradient '
               '2 * wd * w) on every variable but BatchNorm\'s'),
    HParam('sgd_opt_momentum', 0.9, registry.fixed(0.9), float,
           doc='momentum coefficient'),
    HParam('opt_learning_rate_warmup_epochs', 5, registry.nonnegative_int(),
           int, doc='linear warmup length in whole epochs'),
)


def _check_context(hp: Mapping[str, Any], name: str,
                   ctx: registry.OptimizerContext) -> None:
  registry.check_build(hp, name)
  if ctx.steps_per_epoch <= 0:
    raise ValueError(f'steps_per_epoch must be > 0, got {ctx.steps_per_epoch}')


# LARS: weight decay and the trust ratio on conv and dense kernels only;
# BatchNorm scales/offsets and biases are excluded (the reference's
# skip_list ['batch_normalization', 'bias', 'bn']).
_DECAYED = (registry.KERNEL,)
# SGD: the reference's L2 loss covers every variable without 'bn' in its
# name: the conv and dense kernels and the dense (fc1000) bias.
_SGD_DECAYED = (registry.KERNEL, registry.BIAS)


def _build_lars(hp: Mapping[str, Any], ctx: registry.OptimizerContext):
  from mlperf_jax.optim import lars  # pylint: disable=import-outside-toplevel
  from mlperf_jax.optim import schedules  # pylint: disable=import-outside-toplevel
  _check_context(hp, 'lars', ctx)
  schedule = schedules.poly_warmup_schedule(
      base_lr=hp['lars_opt_base_learning_rate'],
      end_lr=hp['lars_opt_end_learning_rate'],
      warmup_steps=(hp['lars_opt_learning_rate_warmup_epochs'] *
                    ctx.steps_per_epoch),
      decay_steps=hp['lars_opt_learning_rate_decay_steps'],
      power=hp['lars_opt_learning_rate_decay_poly_power'])
  tx = lars.mlperf_lars(
      schedule,
      momentum=hp['lars_opt_momentum'],
      weight_decay=hp['lars_opt_weight_decay'],
      epsilon=hp['lars_epsilon'],
      mask=ctx.mask(*_DECAYED))
  return tx, schedule


def _build_sgd(hp: Mapping[str, Any], ctx: registry.OptimizerContext):
  from mlperf_jax.optim import schedules  # pylint: disable=import-outside-toplevel
  from mlperf_jax.optim import sgd  # pylint: disable=import-outside-toplevel
  _check_context(hp, 'sgd', ctx)
  schedule = schedules.poly_warmup_schedule(
      base_lr=hp['sgd_opt_base_learning_rate'],
      end_lr=hp['sgd_opt_end_learning_rate'],
      warmup_steps=hp['opt_learning_rate_warmup_epochs'] * ctx.steps_per_epoch,
      decay_steps=hp['sgd_opt_learning_rate_decay_steps'],
      power=hp['sgd_opt_learning_rate_decay_poly_power'])
  # Keras SGD, as the reference (see optim/sgd.py for why not torch's form);
  # the L2 loss term wd * ||w||^2 adds 2 * wd * w to the gradient.
  tx = sgd.keras_sgd(
      schedule,
      momentum=hp['sgd_opt_momentum'],
      l2_gradient_coefficient=2.0 * hp['sgd_opt_weight_decay'],
      mask=ctx.mask(*_SGD_DECAYED))
  return tx, schedule


LARS = registry.register(registry.OptimizerEntry(
    workload=WORKLOAD, name='lars', hparams=LARS_HPARAMS, build=_build_lars,
    doc='TF MLPERF_LARSOptimizer with linear warmup and poly-2 decay'))

SGD = registry.register(registry.OptimizerEntry(
    workload=WORKLOAD, name='sgd', hparams=SGD_HPARAMS, build=_build_sgd,
    doc='the reference\'s Keras SGD (momentum 0.9, L2 loss on every non-BN '
        'variable) with linear warmup and poly-2 decay'))


def hparams(opt_name: str) -> tuple[HParam, ...]:
  """All hyperparameters of a ResNet run with the given optimizer.

  Args:
    opt_name: 'lars' or 'sgd'.

  Returns:
    `COMMON_HPARAMS` (with the `opt_name` default set to `opt_name`) followed
    by the optimizer entry's hyperparameters: what `registry.resolve` and
    `registry.mllog_items` take.
  """
  entry = registry.get(WORKLOAD, opt_name)
  common = tuple(
      dataclasses.replace(h, default=opt_name) if h.key == 'opt_name' else h
      for h in COMMON_HPARAMS)
  return common + entry.hparams
