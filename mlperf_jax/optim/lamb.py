# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""LAMB exactly as the MLPerf BERT reference, as an optax transformation.

The reference (mlcommons/training `language_model/tensorflow/bert/
optimization.py` + `lamb_optimizer_v1.py`) first clips all gradients together
by their global norm (`tf.clip_by_global_norm(grads, clip_norm=1.0)`), then
applies, per variable `w` with clipped gradient `g`, learning rate `lr` for
the current step and 1-based step number `t`:

  m = beta1 * m + (1 - beta1) * g
  v = beta2 * v + (1 - beta2) * g * g
  m_hat = m / (1 - beta1^t)                 # bias correction (the v1
  v_hat = v / (1 - beta2^t)                 # optimizer's beta powers)
  u = m_hat / (sqrt(v_hat) + epsilon)       # epsilon outside the sqrt
  if decayed(w): u = u + weight_decay * w   # decoupled weight decay
  if adapted(w): r = ||w|| / ||u|| if ||w|| > 0 and ||u|| > 0 else 1
  else:          r = 1
  w = w - r * lr * u

`decayed` and `adapted` are the same set: every variable whose name does not
match `LayerNorm`, `layer_norm` or `bias` (`exclude_from_weight_decay`, which
`exclude_from_layer_adaptation` defaults to). The global-norm clip is
`g * clip_norm / max(global_norm, clip_norm)`. `m` and `v` start at zero; the
beta powers start at beta1 / beta2 and are multiplied after every step, so
step `t` (from 1) corrects by `1 - beta^t`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

Mask = Any | Callable[[optax.Params], Any]


class MlperfLambState(NamedTuple):
  """State of `mlperf_lamb`.

  Attributes:
    count: updates applied so far (the schedule's step; t - 1).
    mu: first moments `m`.
    nu: second moments `v`.
  """
  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates


def _mask_tree(mask: Mask | None, params: optax.Params) -> Any:
  if mask is None:
    return jax.tree.map(lambda _: True, params)
  return mask(params) if callable(mask) else mask


def _norm(x: jax.Array) -> jax.Array:
  x = x.astype(jnp.float32)
  return jnp.sqrt(jnp.sum(x * x))


def global_norm(tree: Any) -> jax.Array:
  """sqrt of the sum of squares of every leaf (float32)."""
  leaves = jax.tree.leaves(tree)
  return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(jnp.float32)))
                      for x in leaves))


def mlperf_lamb(learning_rate: optax.ScalarOrSchedule,
                beta1: float = 0.9,
                beta2: float = 0.999,
                epsilon: float = 1e-6,
                weight_decay: float = 0.01,
                mask: Mask | None = None,
                clip_norm: float | None = 1.0) -> optax.GradientTransformation:
  """The reference LAMB (with its global-norm clip) as an optax transformation.

  The returned updates are to be added to the parameters
  (`optax.apply_updates`): `-r * lr * u` in the notation of the module
  docstring.

  Args:
    learning_rate: a float, or a schedule of the update count (0 first).
    beta1: first-moment decay (`opt_lamb_beta_1`).
    beta2: second-moment decay (`opt_lamb_beta_2`).
    epsilon: added to sqrt(v_hat) (`opt_lamb_epsilon`).
    weight_decay: decoupled weight decay (`opt_lamb_weight_decay_rate`).
    mask: pytree of bools like the parameters, or a callable returning one;
      True where weight decay and the trust ratio apply (False for LayerNorm
      parameters and biases, as the reference). None applies both everywhere.
    clip_norm: global gradient-norm clip applied before the moments (the
      reference's 1.0); None disables it.

  Returns:
    An `optax.GradientTransformation` whose `update` requires `params`.
  """
  for name, b in (('beta1', beta1), ('beta2', beta2)):
    if not 0.0 <= b < 1.0:
      raise ValueError(f'{name} must lie in [0, 1), got {b}')
  if epsilon < 0.0:
    raise ValueError(f'epsilon must be >= 0, got {epsilon}')
  if weight_decay < 0.0:
    raise ValueError(f'weight_decay must be >= 0, got {weight_decay}')
  if clip_norm is not None and clip_norm <= 0.0:
    raise ValueError(f'clip_norm must be > 0 or None, got {clip_norm}')

  def init_fn(params):
    zeros = lambda p: jnp.zeros(p.shape, jnp.float32)
    return MlperfLambState(count=jnp.zeros([], jnp.int32),
                           mu=jax.tree.map(zeros, params),
                           nu=jax.tree.map(zeros, params))

  def update_fn(grads, state, params=None):
    if params is None:
      raise ValueError('mlperf_lamb needs the parameters: call '
                       'update(grads, state, params)')
    lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
    lr = jnp.asarray(lr, jnp.float32)
    grads = jax.tree.map(lambda g: g.astype(jnp.float32), grads)
    if clip_norm is not None:
      gn = global_norm(grads)
      scale = clip_norm / jnp.maximum(gn, clip_norm)
      grads = jax.tree.map(lambda g: g * scale, grads)
    t = (state.count + 1).astype(jnp.float32)
    c1 = 1.0 - jnp.power(jnp.float32(beta1), t)
    c2 = 1.0 - jnp.power(jnp.float32(beta2), t)
    mu = jax.tree.map(lambda m, g: beta1 * m + (1.0 - beta1) * g,
                      state.mu, grads)
    nu = jax.tree.map(lambda v, g: beta2 * v + (1.0 - beta2) * g * g,
                      state.nu, grads)

    def leaf(m, v, w, msk):
      w32 = w.astype(jnp.float32)
      u = (m / c1) / (jnp.sqrt(v / c2) + epsilon)
      if isinstance(msk, (bool, np.bool_)) and not msk:
        return (-lr * u).astype(w.dtype)
      u_wd = u + weight_decay * w32
      wn, un = _norm(w32), _norm(u_wd)
      ok = jnp.logical_and(wn > 0, un > 0)
      r = jnp.where(ok, wn / jnp.where(ok, un, 1.0), 1.0)
      adapted = (-r * lr * u_wd)
      if isinstance(msk, (bool, np.bool_)):
        return adapted.astype(w.dtype)
      return jnp.where(msk, adapted, -lr * u).astype(w.dtype)

    updates = jax.tree.map(leaf, mu, nu, params, _mask_tree(mask, params))
    return updates, MlperfLambState(count=optax.safe_increment(state.count),
                                    mu=mu, nu=nu)

  return optax.GradientTransformation(init_fn, update_fn)
