# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""3D U-Net hyperparameters and optimizer (SGD, Nesterov), by MLLOG key.

The rules table names the tunables `opt_learning_rate_warmup_steps` and
`opt_learning_rate_decay_steps`; `training_1.1.0/closed_unet3d.yaml` (the
source of truth where the two differ) wants `opt_learning_rate_warmup_epochs`
and `opt_learning_rate_decay_boundary_epochs`, so those are the keys here.
All optimizer tunables are free in the closed division; the data settings
(oversampling, input shapes, evaluation overlap) are fixed to the reference.

Reference: mlcommons/training `image_segmentation/pytorch` (v1.1):
`torch.optim.SGD(params, lr, momentum, nesterov=True, weight_decay)` on every
parameter; per-epoch linear warmup from `opt_initial_learning_rate` to
`opt_base_learning_rate` over `opt_learning_rate_warmup_epochs` epochs
(`lr_warmup` at the start of epochs 1..W), then `MultiStepLR` (x factor at
the end of each boundary epoch). `torch.optim.SGD` with Nesterov momentum is
on the approved list, so MXNet NAG is not needed. Defaults are the
reference's `run_and_time.sh` (batch 2, LR 0.8, 200 warmup epochs), which is
also the 1.1.0 RCP `unet3d_ref_2_fp32`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from mlperf_jax.hparams import registry
from mlperf_jax.hparams.registry import HParam

if TYPE_CHECKING:
  import optax

# JAX and optax (and mlperf_jax.optim) are imported inside the functions that
# build schedules and optimizers, so that this module stays JAX-free.

WORKLOAD = 'unet3d'

HPARAMS: tuple[HParam, ...] = (
    HParam('global_batch_size', 2, registry.positive_int(), int,
           doc='volumes per optimizer step, over all devices'),
    registry.GRADIENT_ACCUMULATION,
    HParam('opt_name', 'sgd', registry.fixed('sgd'), str,
           doc='SGD with Nesterov momentum (torch.optim.SGD)'),
    HParam('opt_base_learning_rate', 0.8, kind=float,
           doc='LR at the end of the warmup (free)'),
    HParam('opt_initial_learning_rate', 1e-4, kind=float,
           doc='LR the warmup starts from (free; not required by the YAML)'),
    HParam('opt_learning_rate_warmup_epochs', 200, registry.nonnegative_int(),
           int, doc='warmup length in epochs (free, >= 0)'),
    HParam('opt_learning_rate_decay_boundary_epochs', [], kind=list,
           doc='epochs after which the LR is multiplied by the factor'),
    HParam('opt_learning_rate_decay_factor', 1.0, kind=float,
           doc='LR multiplier at each boundary (free)'),
    HParam('opt_momentum', 0.9, kind=float, doc='Nesterov momentum (free)'),
    HParam('opt_weight_decay', 0.0, kind=float,
           doc='L2 added to the gradient of every parameter (free)'),
    HParam('oversampling', 0.4, registry.fixed(0.4), float,
           doc='probability of a foreground-centred training crop'),
    HParam('training_input_shape', [128, 128, 128],
           registry.fixed([128, 128, 128]), list, doc='training crop'),
    HParam('validation_input_shape', [128, 128, 128],
           registry.fixed([128, 128, 128]), list,
           doc='sliding-window size of the evaluation'),
    HParam('validation_overlap', 0.5, registry.fixed(0.5), float,
           doc='sliding-window overlap of the evaluation'),
)


def unet3d_schedule(base_lr: float, init_lr: float, warmup_epochs: int,
                    boundary_epochs, decay_factor: float,
                    steps_per_epoch: int) -> optax.Schedule:
  """The reference U-Net learning rate at optax update count `t` (0-based).

  With the reference's 1-based epoch `e = t // steps_per_epoch + 1`:

    lr(t) = init_lr + (base_lr - init_lr) * e / W            if e <= W
    lr(t) = base_lr * factor^#{m in boundaries : W <= m < e}  otherwise

  (warmup overwrites the LR at the start of each warmup epoch, so decays at
  boundaries inside the warmup are lost, as in the reference).

  Args:
    base_lr: `opt_base_learning_rate`.
    init_lr: `opt_initial_learning_rate`.
    warmup_epochs: `W` (0: no warmup).
    boundary_epochs: `MultiStepLR` milestones, in epochs.
    decay_factor: `MultiStepLR` gamma.
    steps_per_epoch: optimizer steps per epoch.

  Returns:
    A schedule mapping the update count to a float32 learning rate.
  """
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  w = int(warmup_epochs)
  bounds = jnp.asarray([float(m) for m in boundary_epochs if m >= w] or
                       [jnp.inf], jnp.float32)

  def schedule(count):
    t = jnp.asarray(count, jnp.float32)
    e = jnp.floor(t / steps_per_epoch) + 1.0
    lr = base_lr * decay_factor ** jnp.sum(bounds < e).astype(jnp.float32)
    if w <= 0:
      return lr
    return jnp.where(e <= w, init_lr + (base_lr - init_lr) * e / w, lr)

  return schedule


def _build(hp: Mapping[str, Any], ctx: registry.OptimizerContext):
  from mlperf_jax.optim import sgd  # pylint: disable=import-outside-toplevel
  schedule = unet3d_schedule(
      hp['opt_base_learning_rate'], hp['opt_initial_learning_rate'],
      hp['opt_learning_rate_warmup_epochs'],
      hp['opt_learning_rate_decay_boundary_epochs'],
      hp['opt_learning_rate_decay_factor'], ctx.steps_per_epoch)
  # Every parameter is decayed (one torch parameter group): mask=None.
  tx = sgd.torch_sgd(schedule, momentum=hp['opt_momentum'],
                     weight_decay=hp['opt_weight_decay'], mask=None,
                     nesterov=hp['opt_momentum'] > 0)
  return tx, schedule


SGD = registry.register(registry.OptimizerEntry(
    workload=WORKLOAD, name='sgd', hparams=HPARAMS, build=_build,
    doc='torch.optim.SGD(nesterov=True) with per-epoch linear warmup and '
        'MultiStepLR'))


def hparams(opt_name: str = 'sgd') -> tuple[HParam, ...]:
  """All hyperparameters of a 3D U-Net run, in log order."""
  return registry.get(WORKLOAD, opt_name).hparams
