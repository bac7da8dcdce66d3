# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The U-Net's DiceCE training loss and its DICE evaluation score.

mlcommons/training `image_segmentation/pytorch/model/losses.py` (v1.1):

* `Dice`: per example and class, (2 * sum(t * p) + 1e-6) /
  (sum(t) + sum(p) + 1e-6) over the spatial axes, background (class 0)
  excluded;
* `DiceCELoss`: (mean over examples and classes 1, 2 of (1 - soft Dice on
  softmax probabilities) + mean voxel cross-entropy) / 2;
* `DiceScore`: Dice of the argmax one-hot prediction (an absent class
  predicted absent scores 1), per case; the eval metric is the mean over
  cases of the mean of the kidney and tumour scores.
"""

from __future__ import annotations

import numpy as np

SMOOTH_NR = 1e-6
SMOOTH_DR = 1e-6


def dice_ce_loss(logits, labels, num_classes: int = 3):
  """The reference DiceCE loss of a batch (a scalar mean over it).

  Args:
    logits: float [B, D, H, W, C].
    labels: int [B, D, H, W] in [0, C).
    num_classes: C.

  Returns:
    (loss, per-example loss [B]); the batch loss is the mean of the
    per-example losses (every example has the same voxel count).
  """
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  logits = logits.astype(jnp.float32)
  onehot = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  logp = jax.nn.log_softmax(logits, axis=-1)
  ce = -jnp.mean(jnp.sum(onehot * logp, -1), axis=(1, 2, 3))      # [B]
  prob = jnp.exp(logp)[..., 1:]
  target = onehot[..., 1:]
  axes = (1, 2, 3)
  inter = jnp.sum(prob * target, axes)
  dice = (2.0 * inter + SMOOTH_NR) / (
      jnp.sum(target, axes) + jnp.sum(prob, axes) + SMOOTH_DR)      # [B, C-1]
  per_example = (jnp.mean(1.0 - dice, -1) + ce) / 2
  return jnp.mean(per_example), per_example


def dice_per_class(prediction: np.ndarray, label: np.ndarray,
                   num_classes: int = 3) -> np.ndarray:
  """DICE of each foreground class of one case (argmax labels in).

  Args:
    prediction: int [D, H, W] predicted classes.
    label: int [D, H, W] true classes.
    num_classes: C.

  Returns:
    float64 [C - 1]: the scores of classes 1 .. C - 1.
  """
  if prediction.shape != label.shape:
    raise ValueError(f'prediction {prediction.shape} and label {label.shape} '
                     'shapes differ')
  scores = []
  for c in range(1, num_classes):
    p = prediction == c
    t = label == c
    inter = np.count_nonzero(p & t)
    scores.append((2.0 * inter + SMOOTH_NR) /
                  (np.count_nonzero(t) + np.count_nonzero(p) + SMOOTH_DR))
  return np.asarray(scores, np.float64)


def mean_dice(per_case: np.ndarray) -> float:
  """The eval metric: mean over cases of the mean over foreground classes."""
  per_case = np.asarray(per_case, np.float64)
  return float(np.mean(np.mean(per_case, axis=-1)))


class SlidingWindowDice:
  """Eval accumulator: window logits -> whole-volume argmax -> mean DICE.

  `add` takes the eval step's outputs for one global batch of windows:
  'weighted_logits' [w, R, R, R, C] (logits times the importance map),
  'case' [w] (-1: a padding window) and 'origin' [w, 3]; windows arrive in
  the plan's order. A case is scored (and its buffers freed) as soon as its
  last window arrives.

  Args:
    plans: callable returning the eval cases' `WindowPlan`s (resolved on the
      first `add`, after the eval stream has fixed the window size).
    cases: the eval cases (their labels are scored on the trimmed volume).
    num_classes: C.
  """

  def __init__(self, plans, cases, num_classes: int = 3):
    self._plans_fn = plans
    self._plans = None
    self._cases = cases
    self._num_classes = num_classes
    self._open: dict = {}
    self._scores: dict[int, np.ndarray] = {}

  def add(self, outputs) -> None:
    from mlperf_jax.models import sliding_window  # pylint: disable=import-outside-toplevel
    if self._plans is None:
      self._plans = self._plans_fn()
    logits = np.asarray(outputs['weighted_logits'], np.float32)
    for c, origin, lg in zip(np.asarray(outputs['case']),
                             np.asarray(outputs['origin']), logits):
      c = int(c)
      if c < 0:
        continue
      if c in self._scores:
        raise ValueError(f'eval case {c} received a window after it was '
                         'complete')
      agg = self._open.get(c)
      if agg is None:
        agg = self._open[c] = sliding_window.VolumeAggregator(
            self._plans[c], self._num_classes, weighted=True)
      agg.add(origin, lg)
      if agg.complete:
        pred = np.argmax(agg.logits(), axis=-1)
        label = agg.plan.trimmed(np.asarray(self._cases.label(c)))
        self._scores[c] = dice_per_class(pred, label, self._num_classes)
        del self._open[c]

  def result(self) -> dict[str, float]:
    n = len(self._cases)
    if self._open or len(self._scores) != n:
      raise ValueError(f'sliding-window eval scored {len(self._scores)} of '
                       f'{n} cases ({len(self._open)} incomplete)')
    per_case = np.stack([self._scores[c] for c in range(n)])
    out = {'mean_dice': mean_dice(per_case), 'cases': float(n)}
    for i, name in enumerate(('kidney_dice', 'tumour_dice')[
        :self._num_classes - 1]):
      out[name] = float(per_case[:, i].mean())
    return out
