# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mask R-CNN hyperparameters and optimizer (SGD with momentum), by MLLOG key.

Keys and constraints follow the v1.1 rules table and
`training_1.1.0/closed_maskrcnn.yaml`; the rules table is stricter than the
YAML in two places, both enforced here: `opt_learning_rate_decay_factor` is
fixed to 0.1, and `opt_learning_rate_decay_steps` must be
`(60000, 80000) * (1 + K/10) * 16 / global_batch_size` (rounded to whole
steps) for one integer K, a rule that depends on the global batch size.

Reference: mlcommons/training `object_detection` (maskrcnn-benchmark), config
`e2e_mask_rcnn_R_50_FPN_1x.yaml` over the library defaults: 16 images per
step, base LR 0.02, momentum 0.9, weight decay 1e-4, `WarmupMultiStepLR`
(linear warmup over 500 iterations from factor 1/3, x0.1 at 60k and 80k),
biases with twice the LR and no weight decay (`BIAS_LR_FACTOR` 2,
`WEIGHT_DECAY_BIAS` 0), 2000 RPN proposals in training kept over the
whole per-GPU batch (`FPN_POST_NMS_TOP_N_TRAIN`, logged as
`num_image_candidates`), images resized to 800 (max 1333). Momentum, weight
decay and the bias factor are not logged by the reference and are fixed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

from mlperf_jax.hparams import registry
from mlperf_jax.hparams.registry import HParam

if TYPE_CHECKING:
  import optax

# JAX and optax (and mlperf_jax.optim) are imported inside the functions that
# build schedules and optimizers, so that this module stays JAX-free.

WORKLOAD = 'maskrcnn'
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
BIAS_LR_FACTOR = 2.0
_DECAY_STEPS_AT_16 = (60000, 80000)
_REFERENCE_BATCH = 16


def _decay_steps_k(v: Any, gbs: int) -> int | None:
  """K of `(60000, 80000) * (1 + K/10) * 16 / gbs`, or None if none fits."""
  if not isinstance(v, (list, tuple)) or len(v) != 2 or gbs <= 0:
    return None
  scale = _REFERENCE_BATCH / gbs
  k = round(10 * (v[0] / (_DECAY_STEPS_AT_16[0] * scale) - 1))
  if 1 + k / 10 <= 0:
    return None
  for got, ref in zip(v, _DECAY_STEPS_AT_16):
    # Whole steps: the reference points round the product (5294 at 272).
    if abs(got - ref * (1 + k / 10) * scale) > 1.0:
      return None
  return k


def _decay_steps_ok(v: Any, hp: Mapping[str, Any]) -> bool:
  return _decay_steps_k(v, int(hp['global_batch_size'])) is not None


def _candidates_ok(v: Any, hp: Mapping[str, Any]) -> bool:
  """1000, 2000, or 1000 x the images per chip of some data-parallel layout.

  The rules table reads "1000 or 2000, or 1000 x batches per chip": the
  reference's `FPN_POST_NMS_TOP_N_TRAIN` is a top-N over the whole per-chip
  batch. Before any device is known, the images per chip `k` of a layout
  must divide `global_batch_size` (every chip holds the same number), so
  `1000 * k` is legal when `k` divides the global batch; 3000 at 16 images
  per step is not (no chip count gives 3 images each).
  """
  if not isinstance(v, int) or isinstance(v, bool) or v <= 0 or v % 1000:
    return False
  k = v // 1000
  gbs = hp.get('global_batch_size')
  return k in (1, 2) or (isinstance(gbs, int) and gbs > 0 and gbs % k == 0)


HPARAMS: tuple[HParam, ...] = (
    HParam('global_batch_size', 16, registry.positive_int(), int,
           doc='images per optimizer step, over all devices'),
    registry.GRADIENT_ACCUMULATION,
    HParam('opt_name', 'sgd_with_momentum',
           registry.fixed('sgd_with_momentum'), str,
           doc='the reference logs "sgd_with_momentum"'),
    HParam('opt_base_learning_rate', 0.02, registry.multiple_of(0.02), float,
           doc='LR after the warmup (0.02 * K); biases get twice this'),
    HParam('opt_learning_rate_warmup_steps', 500, registry.nonnegative_int(),
           int, doc='linear warmup length in iterations (free)'),
    HParam('opt_learning_rate_warmup_factor', 1.0 / 3,
           registry.rule(lambda v, hp: v > 0,
                         'must be > 0 in the closed division'),
           float, doc='LR factor at iteration 0 of the warmup (free, > 0)'),
    HParam('opt_learning_rate_decay_factor', 0.1, registry.fixed(0.1), float,
           doc='LR multiplier at each decay step'),
    HParam('opt_learning_rate_decay_steps', [60000, 80000],
           registry.rule(_decay_steps_ok,
                         'must be (60000, 80000) * (1 + K/10) * 16 / '
                         'global_batch_size (whole steps) for one integer K '
                         'in the closed division'),
           list, doc='iterations at which the LR is multiplied by the factor'),
    HParam('num_image_candidates', 2000,
           registry.rule(_candidates_ok,
                         'must be 1000 or 2000, or 1000 x the images per chip '
                         '(a divisor of global_batch_size) in the closed '
                         'division'),
           int, doc='RPN proposals kept (post-NMS top-N) over each group of '
                    'num_image_candidates / 1000 images in training'),
    HParam('min_image_size', 800, registry.fixed(800), int,
           doc='shorter image side after resizing'),
    HParam('max_image_size', 1333, registry.fixed(1333), int,
           doc='longer image side bound after resizing'),
)


def warmup_multistep_schedule(base_lr: float, warmup_steps: int,
                              warmup_factor: float, decay_steps,
                              decay_factor: float) -> optax.Schedule:
  """maskrcnn-benchmark `WarmupMultiStepLR` (linear) at optax count `t`.

  The reference trainer calls `scheduler.step()` before each optimizer step,
  so update `t` (0-based) uses the scheduler's `last_epoch = s = t + 1`:

    f(s)   = warmup_factor * (1 - s/W) + s/W   if s < W else 1
    lr(t)  = base_lr * f(s) * decay_factor ** bisect_right(decay_steps, s)

  Args:
    base_lr: `opt_base_learning_rate`.
    warmup_steps: `W`.
    warmup_factor: `opt_learning_rate_warmup_factor`.
    decay_steps: increasing iteration milestones.
    decay_factor: `opt_learning_rate_decay_factor` (gamma).

  Returns:
    A schedule mapping the update count to a float32 learning rate.
  """
  if list(decay_steps) != sorted(decay_steps):
    raise ValueError(f'decay steps must increase, got {list(decay_steps)}')
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  milestones = jnp.asarray([float(m) for m in decay_steps] or [math.inf],
                           jnp.float32)
  w = float(warmup_steps)

  def schedule(count):
    s = jnp.asarray(count, jnp.float32) + 1.0
    decays = jnp.sum(milestones <= s).astype(jnp.float32)  # bisect_right
    lr = base_lr * decay_factor ** decays
    if w <= 0:
      return lr
    alpha = s / w
    return jnp.where(s < w, lr * (warmup_factor * (1 - alpha) + alpha), lr)

  return schedule


# make_optimizer of maskrcnn-benchmark: parameters named '*bias*' form a
# group with lr * BIAS_LR_FACTOR and weight decay 0; every other parameter
# gets weight decay 1e-4 at the base LR. The reference's trainable norm layers
# are none (its backbone's FrozenBatchNorm2d holds buffers), so 'norm'
# parameters, should a model have them, stay where the kernel-only decay mask
# put them before the labels: with the biases.
_DECAYED = (registry.KERNEL, registry.EMBEDDING)
_BIAS_GROUP = (registry.BIAS, registry.NORM)


def _build(hp: Mapping[str, Any], ctx: registry.OptimizerContext):
  import optax  # pylint: disable=import-outside-toplevel
  from mlperf_jax.optim import sgd  # pylint: disable=import-outside-toplevel
  schedule = warmup_multistep_schedule(
      hp['opt_base_learning_rate'], hp['opt_learning_rate_warmup_steps'],
      hp['opt_learning_rate_warmup_factor'],
      hp['opt_learning_rate_decay_steps'],
      hp['opt_learning_rate_decay_factor'])
  # torch applies a group's LR after the momentum buffer, so scaling the
  # bias group's update by the factor is its LR, exactly.
  tx = optax.chain(
      sgd.torch_sgd(schedule, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY,
                    mask=ctx.mask(*_DECAYED)),
      optax.masked(optax.scale(BIAS_LR_FACTOR), ctx.mask(*_BIAS_GROUP)))
  return tx, schedule


SGD = registry.register(registry.OptimizerEntry(
    workload=WORKLOAD, name='sgd_with_momentum', hparams=HPARAMS,
    build=_build,
    doc='torch.optim.SGD (momentum 0.9, weight decay 1e-4, biases 2x LR and '
        'no decay) with maskrcnn-benchmark WarmupMultiStepLR'))


def hparams(opt_name: str = 'sgd_with_momentum') -> tuple[HParam, ...]:
  """All hyperparameters of a Mask R-CNN run, in log order."""
  return registry.get(WORKLOAD, opt_name).hparams
