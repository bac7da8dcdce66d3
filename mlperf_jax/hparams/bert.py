# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""BERT hyperparameters, LAMB entry and learning-rate schedule, by MLLOG key.

Keys follow the v1.1 rules table for BERT and the compliance YAMLs
(`training_1.1.0/closed_bert.yaml` wants `opt_epsilon`, `training_5.0.0/
closed_bert.yaml` wants `opt_lamb_epsilon`: both are logged, from one value).
The rules leave every BERT tunable unconstrained; the keys the table does not
list are fixed to the reference (gradient-norm clip 1.0 and the power-1
polynomial decay to 0). `gradient_accumulation_steps` (the reference's
`--steps_per_update`) splits each global batch into micro-batches
(`mlperf_jax.runtime.steps`); the clip acts on the accumulated gradient.

Defaults: the 1.1.0 RCP `bert_ref_448` (rcp_checker/training_1.1.0/
rcps_bert.json; the batch size of the 8 x A100 anchor): base LR 4e-4,
8103 training steps, no warmup, start_warmup_step 0, beta1 0.9,
beta2 0.999, weight decay 0.01, epsilon 1e-6.

Schedule (reference `optimization.create_optimizer`), with `t` the number of
updates applied before the current one (TF's `global_step`):

  decayed(t) = base_lr * (1 - min(t, T) / T) ** power        (end LR 0)
  lr(t) = base_lr * (t - S) / W   if W > 0 and t - S < W     (warmup)
        = decayed(t)              otherwise

with T = `opt_learning_rate_training_steps`, W = `num_warmup_steps` (also
logged as `opt_learning_rate_warmup_steps`), S = `start_warmup_step` (may be
negative: the run starts part-way into the warmup, as several RCPs do) and
power = `opt_lamb_learning_rate_decay_poly_power` (1.0). The decay counts
from step 0, not from the end of the warmup, exactly as the reference.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Mapping

from mlperf_jax.hparams import registry
from mlperf_jax.hparams.registry import HParam

if TYPE_CHECKING:
  import optax

# JAX, optax and mlperf_jax.optim are imported inside the functions that
# build schedules and optimizers, so that this module stays JAX-free.

WORKLOAD = 'bert'


def _is_int(v: Any, hp: Mapping[str, Any]) -> bool:
  del hp
  return isinstance(v, int) and not isinstance(v, bool)


# Not rules (the rules leave these free) but what makes LAMB well defined.
_BETA = registry.rule(lambda v, hp: 0.0 <= v < 1.0, 'must lie in [0, 1)')

COMMON_HPARAMS: tuple[HParam, ...] = (
    HParam('global_batch_size', 448, registry.positive_int(), int,
           doc='sequences per optimizer step, over all devices'),
    registry.GRADIENT_ACCUMULATION,
    HParam('opt_name', 'lamb', registry.one_of('lamb'), str,
           doc='optimizer; the reference uses LAMB'),
)

LAMB_HPARAMS: tuple[HParam, ...] = (
    HParam('opt_base_learning_rate', 4e-4, kind=float,
           doc='peak LR (after the warmup), decayed linearly to 0'),
    HParam('opt_epsilon', 1e-6,
           registry.rule(lambda v, hp: v >= 0, 'must be >= 0'), float, also_log_as=('opt_lamb_epsilon',),
           doc='added to sqrt(v_hat); MLLOG name opt_epsilon up to 2.0.0, '
               'opt_lamb_epsilon from 2.1.0 (both are logged)'),
    HParam('opt_learning_rate_training_steps', 8103, registry.positive_int(),
           int, doc='T of the polynomial decay (the reference num_train_steps)'),
    HParam('num_warmup_steps', 0, registry.nonnegative_int(), int,
           also_log_as=('opt_learning_rate_warmup_steps',),
           doc='W: linear warmup length in steps (0: no warmup)'),
    HParam('start_warmup_step', 0,
           registry.rule(_is_int, 'must be an integer (may be negative)'),
           int, doc='S: the step at which the warmup starts'),
    HParam('opt_lamb_beta_1', 0.9, _BETA, float, doc='first-moment decay'),
    HParam('opt_lamb_beta_2', 0.999, _BETA, float,
           doc='second-moment decay'),
    HParam('opt_lamb_weight_decay_rate', 0.01,
           registry.rule(lambda v, hp: v >= 0, 'must be >= 0'), float, doc='decoupled weight decay; not on LayerNorm and biases'),
    HParam('opt_lamb_learning_rate_decay_poly_power', 1.0, registry.fixed(1.0),
           float, doc='power of the polynomial decay (reference: 1.0)'),
)


def lr_schedule(base_lr: float, training_steps: int, warmup_steps: int = 0,
                start_warmup_step: int = 0, power: float = 1.0
                ) -> optax.Schedule:
  """The reference BERT schedule (see the module docstring).

  Args:
    base_lr: `opt_base_learning_rate`.
    training_steps: T (> 0), the decay length.
    warmup_steps: W (>= 0); 0 disables the warmup as in the reference.
    start_warmup_step: S.
    power: decay exponent.

  Returns:
    A schedule of the 0-based update count returning a float32 LR.

  Raises:
    ValueError: if T <= 0 or W < 0.
  """
  if training_steps <= 0:
    raise ValueError(f'training_steps must be > 0, got {training_steps}')
  if warmup_steps < 0:
    raise ValueError(f'warmup_steps must be >= 0, got {warmup_steps}')
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import optax  # pylint: disable=import-outside-toplevel
  from mlperf_jax.optim import schedules  # pylint: disable=import-outside-toplevel
  base_lr, power = float(base_lr), float(power)
  w, s = int(warmup_steps), int(start_warmup_step)
  # base_lr * (1 - min(t, T) / T) ** power: optax's polynomial decay to 0.
  decayed = optax.polynomial_schedule(
      init_value=base_lr, end_value=0.0, power=power,
      transition_steps=int(training_steps))
  if w == 0:
    return decayed
  warm = schedules.linear_warmup(base_lr, w, begin=s)

  def schedule(count):
    since = jnp.asarray(count, jnp.int32) - s
    return jnp.where(since < w, warm(count), decayed(count))

  return schedule


# Weight decay and the layer adaptation everywhere except LayerNorm and bias
# variables (the reference's exclude_from_weight_decay regexes).
_DECAYED = (registry.KERNEL, registry.EMBEDDING)


def _build_lamb(hp: Mapping[str, Any], ctx: registry.OptimizerContext):
  from mlperf_jax.optim import lamb  # pylint: disable=import-outside-toplevel
  registry.check_build(hp, 'lamb')
  schedule = lr_schedule(
      hp['opt_base_learning_rate'], hp['opt_learning_rate_training_steps'],
      hp['num_warmup_steps'], hp['start_warmup_step'],
      hp['opt_lamb_learning_rate_decay_poly_power'])
  tx = lamb.mlperf_lamb(
      schedule, beta1=hp['opt_lamb_beta_1'], beta2=hp['opt_lamb_beta_2'],
      epsilon=hp['opt_epsilon'], weight_decay=hp['opt_lamb_weight_decay_rate'],
      mask=ctx.mask(*_DECAYED), clip_norm=1.0)
  return tx, schedule


LAMB = registry.register(registry.OptimizerEntry(
    workload=WORKLOAD, name='lamb', hparams=LAMB_HPARAMS, build=_build_lamb,
    doc='MLPerf reference LAMB (global-norm clip 1.0, bias correction) with '
        'linear warmup and linear decay to 0'))


def hparams(opt_name: str = 'lamb') -> tuple[HParam, ...]:
  """All hyperparameters of a BERT run: common keys + the LAMB entry's."""
  entry = registry.get(WORKLOAD, opt_name)
  common = tuple(
      dataclasses.replace(h, default=opt_name) if h.key == 'opt_name' else h
      for h in COMMON_HPARAMS)
  return common + entry.hparams
