# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""LARS exactly as TF `MLPERF_LARSOptimizer`, as an optax composition.

The MLPerf Training rules (v1.0/v1.1 appendix) list TF `MLPERF_LARSOptimizer`
and MXNet `SGDwFASTLARS` as the allowed LARS implementations; a JAX
implementation has to show equivalence with one of them. This module follows
the TF one (mlcommons/training `image_classification/tensorflow/official/
resnet/mlperf_lars_optimizer.py`; the TF2 `lars_optimizer.py` of the same
repository computes the same update). Per variable `w` with gradient `g`,
learning rate `lr` (for the current step), momentum `m`, weight decay `wd`:

  if the variable takes part in LARS (mask True):
    trust = eeta * ||w|| / (||g|| + wd * ||w|| + epsilon)
              if ||w|| > 0 and ||g|| > 0, else 1.0
    g'    = g + wd * w           # L2 weight decay, added after the norms
    a     = lr * trust
  else (BatchNorm scale/bias and biases: the reference's skip_list):
    g'    = g                    # no weight decay
    a     = lr                   # no trust ratio
  mom = m * mom + a * g'         # the learning rate is inside the accumulator
  w   = w - mom

(`training_ops.apply_momentum(var, mom, lr=1.0, grad * scaled_lr, momentum)`
computes `mom = mom * momentum + grad * scaled_lr; var -= 1.0 * mom`.) The
momentum buffer starts at zero (`_zeros_slot`).

Relation to `optax.lars` (optax 0.2.8, `optax/_src/alias.py`). `optax.lars`
is `chain(add_decayed_weights(wd, weight_decay_mask),
masked(scale_by_trust_ratio(trust_coefficient, eps), trust_ratio_mask),
scale_by_learning_rate(lr), trace(momentum, nesterov))`. Like TF, it scales by
the learning rate *before* the momentum trace, so its accumulator also holds
learning-rate-scaled steps and a learning-rate change only affects new
gradients (its trace is TF's `mom` with the opposite sign). It differs from
`MLPERF_LARSOptimizer` in the trust ratio only, because
`scale_by_trust_ratio` runs after the weight decay was added:

  * denominator: optax uses `||g + wd * w|| + eps`, TF `||g|| + wd * ||w|| +
    eps` (not smaller, by the triangle inequality; equal only when g and w
    are parallel);
  * zero guard: optax falls back to a ratio of 1 when `||w|| = 0` or
    `||g + wd * w|| = 0`, TF when `||w|| = 0` or `||g|| = 0` (a parameter
    without gradient gets ratio 1 from TF, `eeta / wd` from optax).

Hence the composition below: optax's momentum trace and sign, and one custom
transformation, `scale_by_mlperf_lars_rate`, for TF's learning-rate-scaled
trust ratio (which needs `||g||` before the decay term is added, so it also
adds that term, and applies the rate in TF's order of operations).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from mlperf_jax.optim import schedules

# A mask is a pytree of bools shaped like the parameters, or a function of
# the parameters that returns one; True marks the variables that get weight
# decay and the trust ratio. Its leaves must be concrete (Python bools or
# concrete arrays): `optax.masked` selects the leaves when tracing.
Mask = Any | Callable[[optax.Params], Any]


class MlperfLarsState(NamedTuple):
  """State of `mlperf_lars`: TF's variables, not optax's chain state.

  Attributes:
    count: number of updates applied so far (the schedule's step).
    momentum: the TF `momentum` slot, one buffer per parameter (what the
      composition's `optax.trace` holds).
  """
  count: jax.Array
  momentum: optax.Updates


def _l2_norm(x: jax.Array) -> jax.Array:
  # Norms in float32 even for low-precision parameters, as a reduction over
  # millions of bfloat16 values would lose the trust ratio's precision.
  x = x.astype(jnp.float32)
  return jnp.sqrt(jnp.sum(x * x))


def scale_by_mlperf_lars_rate(learning_rate: optax.ScalarOrSchedule,
                              eeta: float, weight_decay: float,
                              epsilon: float = 0.0, mask: Mask | None = None
                              ) -> optax.GradientTransformation:
  """`g -> (lr * trust) * (g + wd * w)` where `mask`, else `lr * g`.

  TF `MLPERF_LARSOptimizer`'s scaled step, before the momentum trace.
  Custom because `optax.scale_by_trust_ratio` cannot express its ratio (see
  the module docstring): the denominator is `||g|| + wd * ||w|| + epsilon`
  of the undecayed gradient, with the zero guard on `||g||`. The learning
  rate multiplies the ratio before the gradient, in the reference's order,
  so that results equal the reference's float32 arithmetic bit for bit
  (`optax.scale_by_learning_rate` after the ratio rounds differently).
  State: the step count of the schedule. `update` needs the parameters.
  """
  schedule = schedules.as_schedule(learning_rate)

  def init_fn(params):
    del params
    return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('mlperf_lars needs the parameters: call '
                       'update(grads, state, params)')
    lr = jnp.asarray(schedule(state.count), jnp.float32)
    if mask is None:
      mask_tree = jax.tree.map(lambda _: True, params)
    else:
      mask_tree = mask(params) if callable(mask) else mask

    def leaf(g, w, m):
      if not m:
        return (lr * g).astype(g.dtype)
      w_norm, g_norm = _l2_norm(w), _l2_norm(g)
      ok = jnp.logical_and(w_norm > 0, g_norm > 0)
      denom = g_norm + weight_decay * w_norm + epsilon
      # The inner where keeps the discarded branch finite (0 / 0 otherwise).
      trust = jnp.where(ok, eeta * w_norm / jnp.where(ok, denom, 1.0), 1.0)
      return ((lr * trust) * (g + weight_decay * w)).astype(g.dtype)

    new = jax.tree.map(leaf, updates, params, mask_tree)
    return new, optax.ScaleByScheduleState(
        count=optax.safe_increment(state.count))

  return optax.GradientTransformation(init_fn, update_fn)


def mlperf_lars(learning_rate: optax.ScalarOrSchedule,
                momentum: float,
                weight_decay: float,
                eeta: float = 0.001,
                epsilon: float = 0.0,
                mask: Mask | None = None) -> optax.GradientTransformation:
  """TF `MLPERF_LARSOptimizer` as an optax transformation.

  The composition `scale_by_mlperf_lars_rate -> trace(momentum) ->
  scale(-1)`; its state is presented as `MlperfLarsState` (TF's `momentum`
  slot and the step), so that checkpoints and tests see the reference's
  variables. The returned updates are to be added to the parameters
  (`optax.apply_updates`); they equal minus the new momentum buffer. See the
  module docstring for the exact equations.

  Args:
    learning_rate: a float, or a schedule evaluated at the number of updates
      applied so far (0 on the first update).
    momentum: momentum coefficient `m`.
    weight_decay: L2 coefficient `wd`, used both in the gradient and in the
      trust ratio's denominator (where mask is True).
    eeta: LARS coefficient (the reference default 0.001).
    epsilon: added to the trust ratio's denominator (the MLPerf closed value
      is 0.0; with 0.0 the zero-norm guard keeps the ratio finite).
    mask: pytree of bools like the parameters, or a callable returning one;
      True where weight decay and the trust ratio apply. False gives plain
      momentum SGD with the learning rate inside the accumulator (the
      reference's `skip_list`, e.g. BatchNorm parameters and biases). None
      applies LARS to every parameter, as the reference with no skip list.

  Returns:
    An `optax.GradientTransformation` whose `update` requires `params`.
  """
  if momentum < 0.0:
    raise ValueError(f'momentum must be >= 0, got {momentum}')
  if weight_decay < 0.0:
    raise ValueError(f'weight_decay must be >= 0, got {weight_decay}')

  tx = optax.chain(
      scale_by_mlperf_lars_rate(learning_rate, eeta, weight_decay, epsilon,
                                mask),              # a * g'
      optax.trace(decay=momentum),                  # mom = m * mom + a g'
      optax.scale(-1.0))                            # w += -mom

  def init_fn(params):
    lr_state, trace_state, _ = tx.init(params)
    return MlperfLarsState(count=lr_state.count, momentum=trace_state.trace)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('mlperf_lars needs the parameters: call '
                       'update(grads, state, params)')
    chain_state = (optax.ScaleByScheduleState(count=state.count),
                   optax.TraceState(trace=state.momentum),
                   optax.EmptyState())
    updates, (lr_state, trace_state, _) = tx.update(updates, chain_state,
                                                    params)
    return updates, MlperfLarsState(count=lr_state.count,
                                    momentum=trace_state.trace)

  return optax.GradientTransformation(init_fn, update_fn)
