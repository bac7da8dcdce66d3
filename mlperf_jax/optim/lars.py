# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""LARS exactly as TF `MLPERF_LARSOptimizer`, as an optax transformation.

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
momentum buffer starts at zero (`_zeros_slot`). Because the learning rate is
folded into the accumulator, a change of learning rate only affects new
gradients, unlike `optax.lars`, which scales the momentum trace by the
current learning rate; the two differ whenever the learning rate changes.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

# A mask is a pytree of bools shaped like the parameters, or a function of
# the parameters that returns one; True marks the variables that get weight
# decay and the trust ratio.
Mask = Any | Callable[[optax.Params], Any]


class MlperfLarsState(NamedTuple):
  """State of `mlperf_lars`.

  Attributes:
    count: number of updates applied so far (the schedule's step).
    momentum: the TF `momentum` slot, one buffer per parameter.
  """
  count: jax.Array
  momentum: optax.Updates


def _mask_tree(mask: Mask | None, params: optax.Params) -> Any:
  if mask is None:
    return jax.tree.map(lambda _: True, params)
  return mask(params) if callable(mask) else mask


def _static_bool(m: Any) -> bool | None:
  """The mask leaf as a Python bool, or None when it is a traced value."""
  if isinstance(m, (bool, np.bool_)):
    return bool(m)
  if isinstance(m, np.ndarray) and m.shape == ():
    return bool(m)
  return None


def _l2_norm(x: jax.Array) -> jax.Array:
  # Norms in float32 even for low-precision parameters, as a reduction over
  # millions of bfloat16 values would lose the trust ratio's precision.
  x = x.astype(jnp.float32)
  return jnp.sqrt(jnp.sum(x * x))


def mlperf_lars(learning_rate: optax.ScalarOrSchedule,
                momentum: float,
                weight_decay: float,
                eeta: float = 0.001,
                epsilon: float = 0.0,
                mask: Mask | None = None) -> optax.GradientTransformation:
  """TF `MLPERF_LARSOptimizer` as an optax transformation.

  The returned updates are to be added to the parameters
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

  def init_fn(params):
    return MlperfLarsState(
        count=jnp.zeros([], jnp.int32),
        momentum=jax.tree.map(jnp.zeros_like, params))

  def lars_leaf(g, w, lr):
    w_norm, g_norm = _l2_norm(w), _l2_norm(g)
    ok = jnp.logical_and(w_norm > 0, g_norm > 0)
    denom = g_norm + weight_decay * w_norm + epsilon
    # The inner where keeps the discarded branch finite (0 / 0 otherwise).
    trust = jnp.where(ok, eeta * w_norm / jnp.where(ok, denom, 1.0), 1.0)
    return lr * trust, g + weight_decay * w

  def leaf_update(g, w, mu, m, lr):
    static = _static_bool(m)
    if static is True:
      a, g = lars_leaf(g, w, lr)
    elif static is False:
      a = lr
    else:
      a_lars, g_lars = lars_leaf(g, w, lr)
      a = jnp.where(m, a_lars, lr)
      g = jnp.where(m, g_lars, g)
    return (momentum * mu + a * g).astype(mu.dtype)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('mlperf_lars needs the parameters: call '
                       'update(grads, state, params)')
    if callable(learning_rate):
      lr = learning_rate(state.count)
    else:
      lr = learning_rate
    lr = jnp.asarray(lr, jnp.float32)
    mask_tree = _mask_tree(mask, params)
    new_mu = jax.tree.map(
        lambda g, w, mu, m: leaf_update(g, w, mu, m, lr),
        updates, params, state.momentum, mask_tree)
    new_updates = jax.tree.map(jnp.negative, new_mu)
    return new_updates, MlperfLarsState(
        count=optax.safe_increment(state.count), momentum=new_mu)

  return optax.GradientTransformation(init_fn, update_fn)
