# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""LAMB exactly as the MLPerf BERT reference, as an optax composition.

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

Every line is an optax primitive, so the optimizer is a plain composition:

  clip_by_global_norm(clip_norm)              # the reference's clip
  scale_by_adam(beta1, beta2, epsilon, eps_root=0)   # m, v, bias, u
  add_decayed_weights(weight_decay, mask)     # u + wd * w where decayed
  masked(scale_by_trust_ratio(), mask)        # r * u where adapted
  scale_by_learning_rate(lr)                  # -lr * r * u

(`optax.clip_by_global_norm` computes `g / norm * clip` when the norm exceeds
the clip, the same value to float32 rounding.) It is not `optax.lamb`
(optax 0.2.8), which has no gradient clip and applies its trust ratio to
every parameter: its `mask` covers only the weight decay, whereas the
reference also exempts LayerNorm and bias variables from the layer
adaptation.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import optax

from mlperf_jax.optim import schedules

Mask = Any | Callable[[optax.Params], Any]


class MlperfLambState(NamedTuple):
  """State of `mlperf_lamb` (what the composition's `scale_by_adam` holds).

  Attributes:
    count: updates applied so far (the schedule's step; t - 1).
    mu: first moments `m`.
    nu: second moments `v`.
  """
  count: jax.Array
  mu: optax.Updates
  nu: optax.Updates


def mlperf_lamb(learning_rate: optax.ScalarOrSchedule,
                beta1: float = 0.9,
                beta2: float = 0.999,
                epsilon: float = 1e-6,
                weight_decay: float = 0.01,
                mask: Mask | None = None,
                clip_norm: float | None = 1.0) -> optax.GradientTransformation:
  """The reference LAMB (with its global-norm clip) as an optax transformation.

  The composition of the module docstring, with its state presented as
  `MlperfLambState` (the step and the two moments). The returned updates are
  to be added to the parameters (`optax.apply_updates`): `-r * lr * u` in the
  notation of the module docstring. Moments are kept in the parameters'
  dtype (float32 for every workload of this project).

  Args:
    learning_rate: a float, or a schedule of the update count (0 first).
    beta1: first-moment decay (`opt_lamb_beta_1`).
    beta2: second-moment decay (`opt_lamb_beta_2`).
    epsilon: added to sqrt(v_hat) (`opt_lamb_epsilon`).
    weight_decay: decoupled weight decay (`opt_lamb_weight_decay_rate`).
    mask: pytree of bools like the parameters, or a callable returning one
      (concrete leaves, see `lars.Mask`); True where weight decay and the
      trust ratio apply (False for LayerNorm parameters and biases, as the
      reference). None applies both everywhere.
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

  trust = optax.scale_by_trust_ratio()
  if mask is not None:
    trust = optax.masked(trust, mask)
  clip = (optax.clip_by_global_norm(clip_norm) if clip_norm is not None
          else optax.identity())
  decay = optax.add_decayed_weights(weight_decay, mask)
  tx = optax.chain(
      clip,
      optax.scale_by_adam(b1=beta1, b2=beta2, eps=epsilon, eps_root=0.0),
      decay,
      trust,
      optax.scale_by_learning_rate(schedules.as_schedule(learning_rate)))

  def init_fn(params):
    adam_state = tx.init(params)[1]
    return MlperfLambState(count=adam_state.count, mu=adam_state.mu,
                           nu=adam_state.nu)

  def update_fn(grads, state, params=None):
    if params is None:
      raise ValueError('mlperf_lamb needs the parameters: call '
                       'update(grads, state, params)')
    # The chain's state, rebuilt from the named one: the clip, the decay and
    # the trust ratio hold no arrays; Adam's step and the schedule's step
    # are the same count.
    chain_state = (clip.init(params),
                   optax.ScaleByAdamState(count=state.count, mu=state.mu,
                                          nu=state.nu),
                   decay.init(params), trust.init(params),
                   optax.ScaleByScheduleState(count=state.count))
    updates, new = tx.update(grads, chain_state, params)
    adam_state = new[1]
    return updates, MlperfLambState(count=adam_state.count, mu=adam_state.mu,
                                    nu=adam_state.nu)

  return optax.GradientTransformation(init_fn, update_fn)
