# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MiniGo hyperparameters and optimizer (SGD with momentum), by MLLOG key.

Keys follow the v1.1 rules table and `training_1.1.0/closed_minigo.yaml`:
`train_batch_size`, `lr_boundaries` and `lr_rates` are free (the rates need
one more entry than the boundaries, a check of the reference's own flags);
`min_selfplay_games_per_generation` is fixed to 8192. The per-generation
`actual_selfplay_games_per_generation` is a measurement the workload logs,
not a hyperparameter.

Reference: mlcommons/training `reinforcement/tensorflow/minigo` (v1.1,
`ml_perf/flags/19/*.flags` over `dual_net.py`):
`tf.train.MomentumOptimizer(piecewise_constant(global_step, lr_boundaries,
lr_rates), 0.9)` on a loss with `l2_strength * sum(l2_loss(v))` = 1e-4 over
every variable whose name contains neither 'bias' nor 'beta'. TF momentum
(`accum = m * accum + g; w -= lr * accum`, accumulator from zero) is the same
update as `torch.optim.SGD`, and the L2 term's gradient `1e-4 * w` is torch's
weight decay, so `sgd.torch_sgd` with weight decay 1e-4 is exact when it
decays the same variables. Those are selected by name, as the reference
does, not by parameter label: the rule covers BatchNorm's gamma but not its
beta, a split the four labels (kernel/bias/norm/embedding) cannot express.
In Flax both offsets, dense biases and BatchNorm betas, are the leaves named
'bias' (the scale is 'scale'), so "neither 'bias' nor 'beta' in the TF name"
is exactly "the leaf is not named 'bias'" (`l2_mask`).

`min_selfplay_games_per_generation` is fixed to the scale's game count:
8192 for the reference (`closed_minigo.yaml`), the mini scale's own count
there (its YAML checks that value).
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

WORKLOAD = 'minigo'
MOMENTUM = 0.9
L2_STRENGTH = 1e-4  # dual_net.py `l2_strength`
REFERENCE_GAMES_PER_GENERATION = 8192


def _rates_match(v: Any, hp: Mapping[str, Any]) -> bool:
  return len(v) == len(hp['lr_boundaries']) + 1


def _increasing(v: Any, hp: Mapping[str, Any]) -> bool:
  del hp
  return list(v) == sorted(v) and all(b >= 0 for b in v)


HPARAMS: tuple[HParam, ...] = (
    HParam('train_batch_size', 4096, registry.positive_int(), int,
           doc='positions per optimizer step (the global batch)'),
    registry.GRADIENT_ACCUMULATION,
    HParam('opt_name', 'sgd', registry.fixed('sgd'), str,
           doc='SGD with momentum 0.9 (tf.train.MomentumOptimizer)'),
    HParam('lr_boundaries', [128, 10000, 20000],
           registry.rule(_increasing, 'must be increasing steps >= 0'),
           list, doc='steps at which the LR moves to the next rate (free)'),
    HParam('lr_rates', [0.016, 0.16, 0.016, 0.0016],
           registry.rule(_rates_match,
                         'needs exactly one more entry than lr_boundaries'),
           list, doc='piecewise-constant LR values (free)'),
    HParam('min_selfplay_games_per_generation', REFERENCE_GAMES_PER_GENERATION,
           registry.fixed(REFERENCE_GAMES_PER_GENERATION),
           int, doc='self-play games before training each generation'),
)


def piecewise_constant_schedule(boundaries, rates) -> optax.Schedule:
  """`tf.train.piecewise_constant(global_step, boundaries, rates)`.

  `global_step` is the optax update count `t` (TF increments it after the
  update): `lr(t) = rates[#{b in boundaries : t > b}]`.

  Args:
    boundaries: increasing step boundaries.
    rates: one more learning rate than boundaries.

  Returns:
    A schedule mapping the update count to a float32 learning rate.

  Raises:
    ValueError: if the lengths do not match.
  """
  if len(rates) != len(boundaries) + 1:
    raise ValueError(f'lr_rates needs {len(boundaries) + 1} values for '
                     f'{len(boundaries)} lr_boundaries, got {len(rates)}')
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  b = jnp.asarray([float(x) for x in boundaries] or [jnp.inf], jnp.float32)
  r = jnp.asarray([float(x) for x in rates], jnp.float32)

  def schedule(count):
    t = jnp.asarray(count, jnp.float32)
    return r[jnp.sum(t > b)]

  return schedule


def l2_mask(params):
  """True for every leaf not named 'bias' (kernels and BN scales): the
  reference's variables without 'bias' or 'beta' in their TF names."""
  import jax  # pylint: disable=import-outside-toplevel
  return jax.tree_util.tree_map_with_path(
      lambda path, _: getattr(path[-1], 'key', None) != 'bias', params)


def _build(hp: Mapping[str, Any], ctx: registry.OptimizerContext):
  from mlperf_jax.optim import sgd  # pylint: disable=import-outside-toplevel
  # The schedule counts steps, not epochs: ctx.steps_per_epoch is unused.
  schedule = piecewise_constant_schedule(hp['lr_boundaries'], hp['lr_rates'])
  del ctx  # the mask comes from the names, not the labels
  tx = sgd.torch_sgd(schedule, momentum=MOMENTUM, weight_decay=L2_STRENGTH,
                     mask=l2_mask)
  return tx, schedule


SGD = registry.register(registry.OptimizerEntry(
    workload=WORKLOAD, name='sgd', hparams=HPARAMS, build=_build,
    doc='tf.train.MomentumOptimizer(0.9) with L2 1e-4 and a '
        'piecewise-constant LR'))


def hparams(opt_name: str = 'sgd',
            games_per_generation: int = REFERENCE_GAMES_PER_GENERATION
            ) -> tuple[HParam, ...]:
  """All hyperparameters of a MiniGo run, in log order, with the games
  per generation fixed to the scale's count."""
  out = []
  for h in registry.get(WORKLOAD, opt_name).hparams:
    if h.key == 'min_selfplay_games_per_generation':
      h = dataclasses.replace(h, default=games_per_generation,
                              closed=registry.fixed(games_per_generation))
    out.append(h)
  return tuple(out)
