# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""DLRM hyperparameters and optimizer: plain SGD with the reference schedule.

The reference (`dlrm_s_pytorch.py`, facebookresearch/dlrm branch `mlperf`)
trains with `torch.optim.SGD(lr)` (no momentum, no weight decay; sparse
gradients for the tables) under its `LRPolicyScheduler`. Plain SGD keeps no
state per parameter, so the 10^8-row tables get no optimizer state at all.

Defaults are NVIDIA's reference-convergence runs for global batch 32768
(`rcps_dlrm.json` of mlperf-logging 1.1.0): base LR 18, 8,000 warmup steps,
decay from step 70,000 over 30,000 steps. The closed-division rules leave
`global_batch_size`, the base LR, the warmup, the decay start and the decay
length free and fix the decay power to 2; `opt_base_learning_rate` and
`sgd_opt_base_learning_rate` are the same value in the reference and are
logged from one setting here.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Mapping

from mlperf_jax.hparams import registry
from mlperf_jax.hparams.registry import HParam

if TYPE_CHECKING:
  import optax

# JAX and optax (and mlperf_jax.optim) are imported inside the functions that
# build schedules and optimizers, so that this module stays JAX-free.

WORKLOAD = 'dlrm'
MIN_LR = 1e-7  # the reference's floor during the decay


def _decay_after_warmup(v: int, hp: Mapping[str, Any]) -> bool:
  return v >= hp.get('opt_learning_rate_warmup_steps', 0)


COMMON_HPARAMS: tuple[HParam, ...] = (
    HParam('global_batch_size', 32768, registry.positive_int(), int,
           doc='samples per optimizer step, over all devices'),
    registry.GRADIENT_ACCUMULATION,
    HParam('opt_name', 'sgd', registry.one_of('sgd'), str,
           doc='optimizer (the reference allows torch.optim.SGD only)'),
    HParam('max_ind_range', 40_000_000, registry.fixed(40_000_000), int,
           doc='rows per table are capped here (the reference\'s '
               '--max-ind-range); smaller only for synthetic smoke runs'),
)

SGD_HPARAMS: tuple[HParam, ...] = (
    HParam('opt_base_learning_rate', 18.0, kind=float,
           also_log_as=('sgd_opt_base_learning_rate',),
           doc='LR after the warmup, before the decay'),
    HParam('opt_learning_rate_warmup_steps', 8000, registry.nonnegative_int(),
           int, doc='linear warmup length in steps'),
    HParam('lr_decay_start_steps', 70000, registry.rule(
        _decay_after_warmup, 'must be >= opt_learning_rate_warmup_steps (the '
        'reference exits otherwise)'), int,
           doc='step at which the polynomial decay starts'),
    HParam('sgd_opt_learning_rate_decay_steps', 30000,
           registry.nonnegative_int(), int,
           doc='length of the polynomial decay in steps'),
    HParam('sgd_opt_learning_rate_decay_poly_power', 2.0, registry.fixed(2),
           float, doc='exponent of the polynomial decay'),
)


def reference_schedule(base_lr: float, warmup_steps: int, decay_start: int,
                       decay_steps: int, power: float = 2.0) -> optax.Schedule:
  """The reference's `LRPolicyScheduler`, indexed by the optax update count.

  The reference evaluates its policy at torch's `_step_count`, which is
  `s = t + 1` for the 0-based update `t` (the scheduler steps once at
  construction). With `W` warmup steps, decay start `S` and `D` decay steps:

    lr = base * s / W                                  s < W
    lr = max(1e-7, base * ((D - (s - S)) / D) ** 2)     S <= s < S + D
    lr = the previous step's lr (held)                 otherwise, if D > 0
    lr = base                                          otherwise, if D == 0

  Held values are reproduced as the reference computes them: between the
  warmup and the decay the LR stays at `base * (W - 1) / W` (the last warmup
  value; the reference never reaches `base` exactly when `S > W`), and after
  the decay at its last value `max(1e-7, base / D**2)`. With `W <= 1` (where
  the reference would fail) the hold value is `base`.

  Args:
    base_lr: `opt_base_learning_rate`.
    warmup_steps: `opt_learning_rate_warmup_steps` (W >= 0).
    decay_start: `lr_decay_start_steps` (S >= W).
    decay_steps: `sgd_opt_learning_rate_decay_steps` (D >= 0).
    power: `sgd_opt_learning_rate_decay_poly_power` (2 in the reference).

  Returns:
    A schedule: update count (0 on the first update) -> float32 LR.
  """
  if min(warmup_steps, decay_start, decay_steps) < 0:
    raise ValueError('warmup, decay start and decay steps must be >= 0, got '
                     f'{warmup_steps}, {decay_start}, {decay_steps}')
  if decay_start < warmup_steps:
    raise ValueError(f'lr_decay_start_steps={decay_start} must be >= '
                     f'opt_learning_rate_warmup_steps={warmup_steps}: '
                     'learning-rate warmup must finish before the decay starts')
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  base, w, s0, d = float(base_lr), float(warmup_steps), float(decay_start), \
      float(decay_steps)
  hold = base * (w - 1.0) / w if w > 1 else base
  end = max(MIN_LR, base * (1.0 / d) ** power) if d > 0 else base

  def schedule(count):
    s = jnp.asarray(count, jnp.float32) + 1.0
    lr = jnp.where(s < s0, hold, end) if d > 0 else jnp.full_like(s, base)
    if d > 0:
      frac = (d - jnp.clip(s - s0, 0.0, d)) / d
      decayed = jnp.maximum(MIN_LR, base * frac ** power)
      lr = jnp.where((s >= s0) & (s < s0 + d), decayed, lr)
    if w > 0:
      lr = jnp.where(s < w, base * s / w, lr)
    return lr.astype(jnp.float32)

  return schedule


def _build_sgd(hp: Mapping[str, Any], ctx: registry.OptimizerContext):
  # No weight decay (the reference has none), so no parameter labels are
  # needed; and the schedule is in steps, not epochs.
  del ctx
  import optax  # pylint: disable=import-outside-toplevel
  registry.check_build(hp, 'sgd')
  schedule = reference_schedule(
      hp['opt_base_learning_rate'], hp['opt_learning_rate_warmup_steps'],
      hp['lr_decay_start_steps'], hp['sgd_opt_learning_rate_decay_steps'],
      hp['sgd_opt_learning_rate_decay_poly_power'])
  # optax.sgd without momentum: update = -lr * grad, state = a step count
  # only, i.e. torch.optim.SGD(lr) with no per-parameter buffers.
  return optax.sgd(schedule), schedule


SGD = registry.register(registry.OptimizerEntry(
    workload=WORKLOAD, name='sgd', hparams=SGD_HPARAMS, build=_build_sgd,
    doc='torch.optim.SGD (no momentum) with the reference LRPolicyScheduler'))


def hparams(opt_name: str, *, synthetic: bool = False
            ) -> tuple[HParam, ...]:
  """All hyperparameters of a DLRM run, in log order.

  Args:
    opt_name: 'sgd' (the only one).
    synthetic: True for runs on random data, whose tables may be capped
      below the reference's 40M rows (`max_ind_range`) in the closed
      division so that a smoke run fits a small machine.

  Returns:
    Common hyperparameters followed by the optimizer entry's.
  """
  entry = registry.get(WORKLOAD, opt_name)
  common = []
  for h in COMMON_HPARAMS:
    if h.key == 'max_ind_range' and synthetic:
      h = dataclasses.replace(h, closed=registry.positive_int())
    common.append(h)
  return tuple(common) + entry.hparams
