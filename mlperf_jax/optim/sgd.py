# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SGD with momentum exactly as `torch.optim.SGD`, as an optax transformation.

`torch.optim.SGD` is on the MLPerf Training list of allowed SGD+momentum
implementations. Its update (dampening 0, `maximize=False`), per parameter
`w` with gradient `g`, learning rate `lr` for the current step, momentum `m`
and weight decay `wd`:

  g   = g + wd * w              # L2 decay in the gradient (where mask True)
  buf = g                       # first step: the buffer is a copy of g
  buf = m * buf + g             # later steps
  d   = g + m * buf if nesterov else buf
  w   = w - lr * d              # the learning rate is applied after momentum

Parameters excluded from weight decay (BatchNorm, biases) correspond to a
torch parameter group with `weight_decay=0`. Because `lr` multiplies the
buffer rather than entering it, a learning-rate change rescales the whole
accumulated momentum at once (unlike `mlperf_lars`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax


class TorchSgdState(NamedTuple):
  """State of `torch_sgd`.

  Attributes:
    count: number of updates applied so far (the schedule's step).
    momentum_buffer: torch's `momentum_buffer`, one per parameter.
  """
  count: jax.Array
  momentum_buffer: optax.Updates


def _mask_tree(mask, params):
  if mask is None:
    return jax.tree.map(lambda _: True, params)
  return mask(params) if callable(mask) else mask


def torch_sgd(learning_rate: optax.ScalarOrSchedule,
              momentum: float,
              weight_decay: float,
              mask: Any | Callable[[optax.Params], Any] | None = None,
              nesterov: bool = False) -> optax.GradientTransformation:
  """`torch.optim.SGD` (dampening 0) as an optax transformation.

  The returned updates are to be added to the parameters
  (`optax.apply_updates`): `-lr * d` in the notation of the module docstring.

  Args:
    learning_rate: a float, or a schedule evaluated at the number of updates
      applied so far (0 on the first update).
    momentum: momentum coefficient (0 gives plain SGD).
    weight_decay: L2 coefficient added to the gradient where mask is True.
    mask: pytree of bools like the parameters, or a callable returning one;
      True where weight decay applies. None decays every parameter, as torch
      does for a single parameter group.
    nesterov: torch's `nesterov` flag.

  Returns:
    An `optax.GradientTransformation`; `update` needs `params` when
    `weight_decay` is non-zero.
  """
  if momentum < 0.0:
    raise ValueError(f'momentum must be >= 0, got {momentum}')
  if weight_decay < 0.0:
    raise ValueError(f'weight_decay must be >= 0, got {weight_decay}')
  if nesterov and momentum <= 0.0:
    raise ValueError('nesterov momentum requires momentum > 0 (as in torch)')

  def init_fn(params):
    return TorchSgdState(
        count=jnp.zeros([], jnp.int32),
        momentum_buffer=jax.tree.map(jnp.zeros_like, params))

  def decayed(g, w, m):
    if isinstance(m, (bool, np.bool_)):
      return g + weight_decay * w if m else g
    return jnp.where(m, g + weight_decay * w, g)

  def update_fn(updates, state, params=None):
    if callable(learning_rate):
      lr = learning_rate(state.count)
    else:
      lr = learning_rate
    lr = jnp.asarray(lr, jnp.float32)
    if weight_decay:
      if params is None:
        raise ValueError('torch_sgd with weight decay needs the parameters: '
                         'call update(grads, state, params)')
      updates = jax.tree.map(decayed, updates, params,
                             _mask_tree(mask, params))
    first = state.count == 0

    def buffer(g, buf):
      # torch creates the buffer as a copy of the first gradient; with zero
      # dampening `m * 0 + g` is the same value, but stating it keeps the
      # equivalence independent of the initial buffer.
      return jnp.where(first, g, momentum * buf + g).astype(buf.dtype)

    new_buf = jax.tree.map(buffer, updates, state.momentum_buffer)
    if nesterov:
      direction = jax.tree.map(lambda g, b: g + momentum * b, updates, new_buf)
    else:
      direction = new_buf
    new_updates = jax.tree.map(lambda d: (-lr * d).astype(d.dtype), direction)
    return new_updates, TorchSgdState(
        count=optax.safe_increment(state.count), momentum_buffer=new_buf)

  return optax.GradientTransformation(init_fn, update_fn)
