# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Fixed calibration sets for post-training quantization.

MLPerf Inference's closed division fixes the calibration data: each
benchmark has a published list in `mlcommons/inference` `calibration/`
(ImageNet: `calibration/ImageNet/cal_image_list_option_1.txt`, 500
validation file names, the list of MLPerf Inference v0.5 onwards). The
ImageNet list ships here unchanged (`calibration_lists/`, from
mlcommons/inference commit 76c66e45c404a9e0e3e66c991c715f5342ee8108, the
commit that added it; same bytes at b66003e10e2d), since the rules want
exactly those images.

Mini models are calibrated on a seeded subset of their own *training* set
(`seeded_subset`): never on the samples they are scored on, fixed by the
seed and documented by the description the set carries.

This module imports no JAX (workload modules import it).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Mapping, Sequence

import numpy as np

_LISTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'calibration_lists')
IMAGENET_CAL_LIST = os.path.join(_LISTS,
                                 'imagenet_cal_image_list_option_1.txt')
IMAGENET_CAL_SOURCE = ('mlcommons/inference calibration/ImageNet/'
                       'cal_image_list_option_1.txt (500 validation images)')


@dataclasses.dataclass(frozen=True)
class CalibrationSet:
  """The samples a model is calibrated on.

  Attributes:
    source: where the list comes from (reported with the int8 result).
    ids: the samples' ids in the source (indices or file names), in order.
    load: position in `ids` -> one sample pytree, preprocessed as the
      inference samples are.
  """
  source: str
  ids: Sequence
  load: Callable[[int], Mapping[str, np.ndarray]]

  def __len__(self) -> int:
    return len(self.ids)

  def batches(self, batch_size: int, collate) -> list:
    """The whole set as collated batches (the last one not padded)."""
    out = []
    for start in range(0, len(self), batch_size):
      rows = [self.load(i) for i in range(start, min(start + batch_size,
                                                     len(self)))]
      out.append(collate(rows, len(rows)))
    return out


def read_list(path: str) -> list[str]:
  """Non-empty lines of a calibration list file."""
  with open(path) as f:
    names = [line.strip() for line in f if line.strip()]
  if len(set(names)) != len(names):
    raise ValueError(f'{path} repeats entries')
  return names


def seeded_subset(population: int, size: int, seed: int) -> list[int]:
  """`size` distinct indices of `range(population)`, sorted, drawn by
  `np.random.default_rng(seed).choice` without replacement."""
  if not 0 < size <= population:
    raise ValueError(f'cannot draw {size} of {population} samples')
  rng = np.random.default_rng(seed)
  return sorted(int(i) for i in rng.choice(population, size, replace=False))


def resolve_file_names(names: Sequence[str], file_names: Sequence[str]
                       ) -> list[int]:
  """Indices in a data set (given by its per-record `file_names`) of the
  listed names; raises ValueError naming the missing ones."""
  where = {os.path.basename(str(f)): i for i, f in enumerate(file_names)}
  missing = [n for n in names if n not in where]
  if missing:
    raise ValueError(f'{len(missing)} calibration images are not in the '
                     f'data set, e.g. {missing[:3]}')
  return [where[n] for n in names]
