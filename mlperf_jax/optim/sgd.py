# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SGD with momentum as `torch.optim.SGD` and as Keras `SGD`, in optax.

Two momentum forms, which differ whenever the learning rate changes:

* `torch_sgd`: `torch.optim.SGD` (also `tf.train.MomentumOptimizer`), the
  learning rate applied after the momentum buffer (below);
* `keras_sgd`: Keras `SGD` (`tf.keras.optimizers.SGD`, TF's
  `gradient_descent_v2`), the learning rate inside the velocity: what the
  MLPerf ResNet reference trains with (`image_classification/tensorflow2/
  common.py`, `get_optimizer`, `--optimizer=SGD`).

torch form.

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

Composition: `add_decayed_weights(wd, mask)` (the L2 term) ->
`trace(momentum, nesterov)` (torch's buffer and Nesterov direction:
`buf = m * buf + g`, `d = g + m * buf`) -> `scale_by_learning_rate(lr)`, all
optax primitives. The one addition is torch's first step, which creates the
buffer as a copy of the gradient: the buffer handed to `trace` is zeroed on
update 0, so a restored or hand-set buffer cannot leak into the first step.

Keras form (`gradient_descent_v2.SGD._resource_apply_dense`, momentum > 0,
not Nesterov), with the velocity `v` starting at zero:

  v = m * v - lr * g
  w = w + v

The velocity holds learning-rate-scaled gradients, so a learning-rate change
only affects new gradients (as in `mlperf_lars`). An L2 loss term
`c / 2 * ||w||^2` in the reference's loss enters as `g = g + c * w` (the
ResNet reference's `weight_decay * 2 * l2_loss(w)` gives `c = 2 * wd`).
Composition: `add_decayed_weights(c, mask)` -> `scale_by_learning_rate(lr)`
(`-lr * g`) -> `trace(m)` (`v = m * v + (-lr * g)`, the update added to `w`),
optax primitives only.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from mlperf_jax.optim import schedules


class TorchSgdState(NamedTuple):
  """State of `torch_sgd`: torch's variables, not optax's chain state.

  Attributes:
    count: number of updates applied so far (the schedule's step).
    momentum_buffer: torch's `momentum_buffer`, one per parameter (what the
      composition's `optax.trace` holds).
  """
  count: jax.Array
  momentum_buffer: optax.Updates


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
    mask: pytree of bools like the parameters, or a callable returning one
      (concrete leaves, see `lars.Mask`); True where weight decay applies.
      None decays every parameter, as torch does for a single parameter
      group.
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

  # The L2 term is stateless; optax.identity stands in without weight decay
  # (torch skips the term then, and `update` needs no parameters).
  decay = (optax.add_decayed_weights(weight_decay, mask) if weight_decay
           else optax.identity())
  tx = optax.chain(
      decay,                                            # g = g + wd * w
      optax.trace(decay=momentum, nesterov=nesterov),   # buf, d
      optax.scale_by_learning_rate(                     # -lr * d
          schedules.as_schedule(learning_rate)))

  def init_fn(params):
    _, trace_state, lr_state = tx.init(params)
    return TorchSgdState(count=lr_state.count,
                         momentum_buffer=trace_state.trace)

  def update_fn(updates, state, params=None):
    if weight_decay and params is None:
      raise ValueError('torch_sgd with weight decay needs the parameters: '
                       'call update(grads, state, params)')
    # torch creates the buffer as a copy of the first gradient; with zero
    # dampening `m * 0 + g` is the same value, and zeroing the buffer on the
    # first update keeps that independent of the initial buffer.
    first = state.count == 0
    buf = jax.tree.map(lambda b: jnp.where(first, jnp.zeros_like(b), b),
                       state.momentum_buffer)
    # The chain's state, rebuilt from the named one; the decay's holds no
    # arrays (its init only reads the mask, over the gradients' structure).
    chain_state = (decay.init(updates), optax.TraceState(trace=buf),
                   optax.ScaleByScheduleState(count=state.count))
    updates, (_, trace_state, lr_state) = tx.update(updates, chain_state,
                                                    params)
    return updates, TorchSgdState(count=lr_state.count,
                                  momentum_buffer=trace_state.trace)

  return optax.GradientTransformation(init_fn, update_fn)


def keras_sgd(learning_rate: optax.ScalarOrSchedule,
              momentum: float,
              l2_gradient_coefficient: float = 0.0,
              mask: Any | Callable[[optax.Params], Any] | None = None
              ) -> optax.GradientTransformation:
  """Keras `SGD` (learning rate inside the velocity) as optax.

  Args:
    learning_rate: a float, or a schedule evaluated at the number of updates
      applied so far (0 on the first update).
    momentum: momentum coefficient (0 gives plain SGD).
    l2_gradient_coefficient: `c` of the gradient term `c * w` that an L2
      loss `c / 2 * ||w||^2` adds, where mask is True.
    mask: pytree of bools like the parameters, or a callable returning one;
      True where the L2 term applies. None: every parameter.

  Returns:
    An `optax.GradientTransformation` whose updates are the Keras velocity
    (added to the parameters); `update` needs `params` when the L2
    coefficient is non-zero.
  """
  if momentum < 0.0:
    raise ValueError(f'momentum must be >= 0, got {momentum}')
  if l2_gradient_coefficient < 0.0:
    raise ValueError('l2_gradient_coefficient must be >= 0, got '
                     f'{l2_gradient_coefficient}')
  decay = (optax.add_decayed_weights(l2_gradient_coefficient, mask)
           if l2_gradient_coefficient else optax.identity())
  return optax.chain(
      decay,                                             # g = g + c * w
      optax.scale_by_learning_rate(                      # -lr * g
          schedules.as_schedule(learning_rate)),
      optax.trace(decay=momentum))                       # v = m * v - lr * g
