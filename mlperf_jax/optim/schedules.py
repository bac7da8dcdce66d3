# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Learning-rate schedules of the MLPerf Training references.

`poly_warmup_schedule` is the ResNet-50 schedule shared by the LARS and the
SGD closed-division optimizers: a linear warmup from 0 to the base learning
rate, then a polynomial (power 2) decay to the end learning rate.

Step numbering. The schedule is evaluated at the optax update count, i.e. the
number of updates applied *before* the current one (0 on the first update).
This is the numbering of the MLPerf references: the TF2 reference
(mlcommons/training `image_classification/tensorflow2/lars_util.py`,
`PolynomialDecayWithWarmup`) is called with the optimizer's `iterations`,
which is 0 on the first step, and Google's JAX submissions
(training_results_v0.7/v1.0 `resnet-research-JAX`,
`polynomial_learning_rate_fn`) are called with the optimizer step before it
is incremented. Consequences,
reproduced on purpose: the first update uses a learning rate of 0, and the
base learning rate is reached at step `warmup_steps` (the last warmup step).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax


def as_schedule(learning_rate: optax.ScalarOrSchedule) -> optax.Schedule:
  """A schedule for `optax.scale_by_learning_rate`, also for a constant, so
  that the composition always keeps the update count."""
  if callable(learning_rate):
    return learning_rate
  return optax.constant_schedule(learning_rate)


def linear_warmup(peak: float, warmup_steps: float,
                  begin: float = 0.0) -> optax.Schedule:
  """`peak * (t - begin) / warmup_steps`, the references' warmup ramp.

  Not `optax.linear_schedule(0, peak, W)`: that evaluates
  `(0 - peak) * (1 - t / W) + peak`, whose cancellation costs up to ~2e-5
  relative error in the first warmup steps in float32 (measured at t = 1,
  W = 786), where the references compute the ramp as one product and
  quotient. Unclamped: the caller selects the warmup range.
  """
  peak, w, begin = float(peak), float(warmup_steps), float(begin)
  return lambda count: peak * (jnp.asarray(count, jnp.float32) - begin) / w


def poly_warmup_schedule(base_lr: float, end_lr: float, warmup_steps: float,
                         decay_steps: int, power: float = 2.0
                         ) -> optax.Schedule:
  """Linear warmup then polynomial decay, as in the MLPerf ResNet reference.

  With `t` the 0-based update count, `W = warmup_steps`, `D = decay_steps`:

    lr(t) = base_lr * t / W                                   if t <= W
    lr(t) = end_lr + (base_lr - end_lr) * (1 - min(t - W, D) / D) ** power
                                                              otherwise

  This is the reference's `tf.where(step <= warmup_steps, warmup_rate,
  PolynomialDecay(step - warmup_steps))` with
  `PolynomialDecay(base_lr, decay_steps=D, end_lr, power)`; the reference
  derives `D = train_steps - W + 1` and logs exactly this `D` as
  `lars_opt_learning_rate_decay_steps`, so the MLLOG value is passed through
  unchanged. The end learning rate is reached at `t = W + D` (one step past
  the reference's last training step `train_steps - 1 = W + D - 2`) and held.

  Edge cases: `W = 0` means no warmup (the decay starts at `t = 0` from
  `base_lr`; the reference's formula would divide by zero); `D = 0` means the
  decay is already over, so every step after the warmup uses `end_lr`. `W`
  may be fractional (warmup epochs times steps per epoch), as in the
  references, which do not round it.

  Args:
    base_lr: peak learning rate, reached at the end of the warmup.
    end_lr: final learning rate of the polynomial decay.
    warmup_steps: number of warmup steps `W` (>= 0; may be fractional).
    decay_steps: number of decay steps `D` (>= 0) as logged in MLLOG.
    power: exponent of the polynomial decay.

  Returns:
    A schedule mapping the update count (int array) to a float32 learning
    rate.

  Raises:
    ValueError: if `warmup_steps` or `decay_steps` is negative.
  """
  if warmup_steps < 0:
    raise ValueError(f'warmup_steps must be >= 0, got {warmup_steps}')
  if decay_steps < 0:
    raise ValueError(f'decay_steps must be >= 0, got {decay_steps}')
  base_lr, end_lr = float(base_lr), float(end_lr)
  w = float(warmup_steps)
  if decay_steps > 0:
    # end + (base - end) * (1 - clip(t - W, 0, D) / D) ** power: exactly the
    # reference's PolynomialDecay evaluated at t - W.
    decay = optax.polynomial_schedule(
        init_value=base_lr, end_value=end_lr, power=float(power),
        transition_steps=decay_steps, transition_begin=w)
  else:
    # optax.polynomial_schedule with 0 steps would hold init_value (base_lr);
    # a decay of length 0 is over at once, so it holds end_lr.
    decay = optax.constant_schedule(end_lr)
  if w == 0:
    return lambda count: jnp.asarray(decay(count), jnp.float32)
  warmup = linear_warmup(base_lr, w)

  # Not optax.join_schedules: it evaluates the next piece at `t - boundary`
  # with an integer boundary (here floor(W) + 1), while the reference decays
  # from the possibly fractional W.
  def schedule(count):
    t = jnp.asarray(count, jnp.float32)
    return jnp.where(t <= w, warmup(count), decay(count))

  return schedule
