# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD-ResNet-34 hyperparameters and optimizer (SGD, momentum), by MLLOG key.

The MLPerf v1.1 rules table lists SGD with momentum for SSD-ResNet-34 (the
issue that asked for this entry said "Adam": Adam belongs to RetinaNet, which
took over the `ssd` name from the 2.0 rules on). Keys and constraints follow
the v1.1 rules table and `training_1.1.0/closed_ssd.yaml`.

Reference: mlcommons/training `single_stage_detector/ssd/train.py` (v1.1):
`torch.optim.SGD(model.parameters(), lr, momentum=0.9, weight_decay=wd)`
(weight decay on every parameter, BatchNorm and biases included), with the
base LR `2.5e-3 * global_batch_size / 32`, a linear warmup over
`opt_learning_rate_warmup_steps` iterations shaped by
`opt_learning_rate_warmup_factor`, and a x0.1 decay at each epoch of
`opt_learning_rate_decay_boundary_epochs`. Defaults are the reference's
single-node configuration (8 GPUs x 128 = 1024 images, warmup of 2.619685
epochs = 300 iterations); `max_samples` (crop retries) is the reference's 1.
`model_bn_span` is logged truthfully: BatchNorm statistics here are taken
over the whole batch of one forward pass (under `jax.jit` the global batch,
not a per-device share), so the span is `global_batch_size /
gradient_accumulation_steps`; it is derived from the batch
(`registry.global_bn_span`), and any other explicit value is rejected in
every division, naming the value it must have.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from mlperf_jax.hparams import registry
from mlperf_jax.hparams.registry import HParam

if TYPE_CHECKING:
  import optax

# JAX and optax (and mlperf_jax.optim) are imported inside the functions that
# build schedules and optimizers, so that this module stays JAX-free.

WORKLOAD = 'ssd'
# Fixed by the reference code (not a flag, not logged).
MOMENTUM = 0.9
# The reference scales this per-32-images learning rate with the batch size.
REFERENCE_LR_PER_32 = 2.5e-3
_BOUNDARIES = (40, 50)


def _boundaries_ok(v: Any, hp: Mapping[str, Any]) -> bool:
  del hp
  if not isinstance(v, (list, tuple)) or len(v) != 2:
    return False
  k0 = 10 * (v[0] / _BOUNDARIES[0] - 1)
  k1 = 10 * (v[1] / _BOUNDARIES[1] - 1)
  # pylint: disable-next=protected-access
  return registry._is_integer(k0) and abs(k0 - k1) < 1e-6


HPARAMS: tuple[HParam, ...] = (
    HParam('global_batch_size', 1024, registry.positive_int(), int,
           doc='images per optimizer step, over all devices'),
    registry.GRADIENT_ACCUMULATION,
    HParam('opt_name', 'sgd', registry.fixed('sgd'), str,
           doc='SGD with momentum 0.9 (torch.optim.SGD)'),
    registry.global_bn_span(),
    HParam('opt_base_learning_rate', REFERENCE_LR_PER_32 * 1024 / 32,
           kind=float, doc='LR after the warmup, before the decays (free)'),
    HParam('opt_weight_decay', 5e-4, kind=float,
           doc='L2 added to the gradient of every parameter (free)'),
    HParam('opt_learning_rate_warmup_steps', 300,
           registry.rule(lambda v, hp: isinstance(v, int) and v >= 1,
                         'must be an integer >= 1 in the closed division'),
           int, doc='linear warmup length in iterations'),
    HParam('opt_learning_rate_warmup_factor', 0, registry.nonnegative_int(),
           int, doc='warmup starts at LR * (1 - 2^-factor)'),
    HParam('opt_learning_rate_decay_boundary_epochs', [40, 50],
           registry.rule(_boundaries_ok,
                         'must be [40, 50] * (1 + k/10) for one integer k in '
                         'the closed division'),
           list, doc='epochs after which the LR is multiplied by 0.1'),
    HParam('max_samples', 1, registry.one_of(1, 50), int,
           doc='random-crop retries of the augmentation: 1 or 50'),
)


def ssd_schedule(base_lr: float, warmup_steps: int, warmup_factor: int,
                 boundary_epochs, steps_per_epoch: int) -> optax.Schedule:
  """The reference SSD learning rate at optax update count `t` (0-based).

  The reference sets the torch parameter-group LR at two moments: at the
  start of each boundary epoch (`current_lr *= 0.1`) and before each of the
  first `W` iterations (`lr_warmup`). The LR of update `t` is the last value
  written. With `e(t) = t // steps_per_epoch` (0-based epoch),
  `lr_e = base_lr * 0.1^#{b in boundary_epochs : b <= e}` and
  `d = W * 2^warmup_factor`:

    lr(t) = lr_e(t) * (1 - (W - t) / d)      if t < W  (warmup write)
    lr(t) = lr_e(t)                          if a boundary epoch started
                                             after iteration W - 1
    lr(t) = lr_e(W-1) * (1 - 1 / d)          otherwise (the last warmup
                                             value stays until a decay)

  The last case reproduces a quirk of the reference: after the warmup the
  LR is not reset to the base LR, so it trains at `(1 - 1/d)` of it until
  the first decay.

  Args:
    base_lr: `opt_base_learning_rate`.
    warmup_steps: `W`, iterations of warmup (0: none).
    warmup_factor: `opt_learning_rate_warmup_factor`.
    boundary_epochs: epochs after which the LR is multiplied by 0.1.
    steps_per_epoch: optimizer steps per epoch.

  Returns:
    A schedule mapping the update count to a float32 learning rate.
  """
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  bounds = jnp.asarray(sorted(float(b) for b in boundary_epochs) or [jnp.inf],
                       jnp.float32)
  spe = float(steps_per_epoch)
  w = float(warmup_steps)
  denom = w * 2.0 ** warmup_factor

  def lr_at(t):
    epoch = jnp.floor(t / spe)
    return base_lr * 0.1 ** jnp.sum(bounds <= epoch).astype(jnp.float32)

  def schedule(count):
    t = jnp.asarray(count, jnp.float32)
    lr = lr_at(t)
    if w <= 0:
      return lr
    warm = lr * (1.0 - (w - t) / denom)
    held = lr_at(jnp.float32(w - 1)) * (1.0 - 1.0 / denom)
    epoch = jnp.floor(t / spe)
    decayed_later = jnp.any((bounds * spe > w - 1) & (bounds <= epoch))
    return jnp.where(t < w, warm, jnp.where(decayed_later, lr, held))

  return schedule


def _build(hp: Mapping[str, Any], ctx: registry.OptimizerContext):
  from mlperf_jax.optim import sgd  # pylint: disable=import-outside-toplevel
  schedule = ssd_schedule(
      hp['opt_base_learning_rate'], hp['opt_learning_rate_warmup_steps'],
      hp['opt_learning_rate_warmup_factor'],
      hp['opt_learning_rate_decay_boundary_epochs'], ctx.steps_per_epoch)
  # The reference decays every parameter (one torch parameter group), so no
  # labels are consulted: mask=None.
  tx = sgd.torch_sgd(schedule, momentum=MOMENTUM,
                     weight_decay=hp['opt_weight_decay'], mask=None)
  return tx, schedule


SGD = registry.register(registry.OptimizerEntry(
    workload=WORKLOAD, name='sgd', hparams=HPARAMS, build=_build,
    doc='torch.optim.SGD (momentum 0.9, L2 on all parameters), linear warmup '
        'and x0.1 steps at the boundary epochs'))


def hparams(opt_name: str = 'sgd') -> tuple[HParam, ...]:
  """All hyperparameters of an SSD run, in log order."""
  return registry.get(WORKLOAD, opt_name).hparams
