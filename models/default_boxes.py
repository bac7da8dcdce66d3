# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD default (prior) boxes, by the reference formula and in its order.

mlcommons/training `single_stage_detector/ssd/utils.py` `DefaultBoxes` and
`train.py` `dboxes300_coco`. For feature map `k` of size `f_k` cells:

* `s_k = scales[k] / fig_size`; sizes `(s_k, s_k)`, `(s'_k, s'_k)` with
  `s'_k = sqrt(s_k * s_{k+1})`, then for each aspect ratio `a` of the map
  `(s_k sqrt(a), s_k / sqrt(a))` followed by its transpose;
* centres `((j + 0.5) / n_k, (i + 0.5) / n_k)` for row `i`, column `j`, with
  `n_k = fig_size / steps[k]` (37.5 for SSD300's first map: the reference
  divides by the step ratio, not by the map size); the inference model
  SSD-ResNet-34 1200 (mlcommons/inference `models/ssd_r34.py`
  `DefaultBoxes`) divides with `//` instead (`floor_cells`: 1200 // 92 =
  13, not 13.04);
* order: map, then size, then cell (row-major);
* the centre-form table is clamped to [0, 1] (centre and size alike), and
  the ltrb table is computed from the clamped one.

The tables are host numpy arrays (float32, as the reference's torch tensor).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class DefaultBoxSpec:
  """Everything `DefaultBoxes` takes (scale_xy/scale_wh live in box_ops);
  `floor_cells`: `n_k = fig_size // steps[k]` (the inference SSD-R34)."""
  fig_size: int
  feat_size: tuple[int, ...]
  steps: tuple[float, ...]
  scales: tuple[float, ...]
  aspect_ratios: tuple[tuple[float, ...], ...]
  floor_cells: bool = False

  def __post_init__(self):
    n = len(self.feat_size)
    if not (len(self.steps) == len(self.aspect_ratios) == n and
            len(self.scales) == n + 1):
      raise ValueError(
          f'default boxes: {n} feature maps need {n} steps, {n} aspect-ratio '
          f'lists and {n + 1} scales; got {len(self.steps)}, '
          f'{len(self.aspect_ratios)} and {len(self.scales)}')

  @property
  def boxes_per_cell(self) -> tuple[int, ...]:
    """Default boxes per cell of each map: 2 + 2 per aspect ratio."""
    return tuple(2 + 2 * len(a) for a in self.aspect_ratios)

  @property
  def num_boxes(self) -> int:
    return sum(f * f * n for f, n in zip(self.feat_size, self.boxes_per_cell))


# SSD300 on COCO (`dboxes300_coco`): 8732 boxes.
SSD300 = DefaultBoxSpec(
    fig_size=300, feat_size=(38, 19, 10, 5, 3, 1),
    steps=(8, 16, 32, 64, 100, 300), scales=(21, 45, 99, 153, 207, 261, 315),
    aspect_ratios=((2,), (2, 3), (2, 3), (2, 3), (2,), (2,)))

# SSD-ResNet-34 1200 of MLPerf Inference v1.x (`ssd_r34.py`
# `dboxes_R34_coco((1200, 1200), ...)`): maps 50/25/13/7/3/3, steps
# int(1200 / map), scales int(s * 1200 / 300) of SSD300's; 15,130 boxes.
SSD_R34_1200 = DefaultBoxSpec(
    fig_size=1200, feat_size=(50, 25, 13, 7, 3, 3),
    steps=(24, 48, 92, 171, 400, 400),
    scales=(84, 180, 396, 612, 828, 1044, 1260),
    aspect_ratios=((2,), (2, 3), (2, 3), (2, 3), (2,), (2,)),
    floor_cells=True)


def default_boxes_xywh(spec: DefaultBoxSpec) -> np.ndarray:
  """The [num_boxes, 4] centre-form table, clamped to [0, 1]."""
  steps = np.asarray(spec.steps, np.float64)
  fk = (spec.fig_size // steps if spec.floor_cells else
        spec.fig_size / steps)
  rows = []
  for k, f in enumerate(spec.feat_size):
    s1 = spec.scales[k] / spec.fig_size
    s2 = spec.scales[k + 1] / spec.fig_size
    sizes = [(s1, s1), (math.sqrt(s1 * s2),) * 2]
    for a in spec.aspect_ratios[k]:
      w, h = s1 * math.sqrt(a), s1 / math.sqrt(a)
      sizes += [(w, h), (h, w)]
    for w, h in sizes:
      for i, j in itertools.product(range(f), repeat=2):
        rows.append(((j + 0.5) / fk[k], (i + 0.5) / fk[k], w, h))
  return np.clip(np.asarray(rows, np.float32), 0.0, 1.0)


def default_boxes_ltrb(spec: DefaultBoxSpec) -> np.ndarray:
  """The [num_boxes, 4] ltrb table from the clamped centre form."""
  xywh = default_boxes_xywh(spec)
  half = 0.5 * xywh[:, 2:]
  return np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], axis=1)
