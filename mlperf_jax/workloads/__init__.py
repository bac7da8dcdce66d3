# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Workload registry: CLI name -> implementing class, imported lazily.

Importing a workload module imports no JAX (its model and pipeline modules
load on first use), so the CLI reads variants and hyperparameters fast.
Adding a workload is one line here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
  from mlperf_jax.api import Variant, Workload

# name -> 'module:Class'.
_WORKLOADS: dict[str, str] = {
    'resnet': 'mlperf_jax.workloads.resnet:ResNetWorkload',
    'bert': 'mlperf_jax.workloads.bert:BertWorkload',
    'dlrm': 'mlperf_jax.workloads.dlrm:DlrmWorkload',
    'ssd': 'mlperf_jax.workloads.ssd:SSDWorkload',
    'maskrcnn': 'mlperf_jax.workloads.maskrcnn:MaskRCNNWorkload',
    'unet3d': 'mlperf_jax.workloads.unet3d:UNet3DWorkload',
    'rnnt': 'mlperf_jax.workloads.rnnt:RnntWorkload',
    'minigo': 'mlperf_jax.workloads.minigo:MiniGoWorkload',
}
# MLPerf Inference models with no training benchmark: served by `infer` and
# scored by `accuracy`, never trained (not in `names()`).
_SERVING_ONLY: dict[str, str] = {
    'ssd-mobilenet': 'mlperf_jax.workloads.ssd_mobilenet:SSDMobileNetWorkload',
}


def register(name: str, target: str) -> None:
  """Registers workload `name` implemented by 'module:Class'."""
  if name in _WORKLOADS:
    raise ValueError(f'workload {name!r} is already registered')
  _WORKLOADS[name] = target


def names() -> list[str]:
  """The training benchmarks."""
  return sorted(_WORKLOADS)


def serving_only_names() -> list[str]:
  """Inference models without a training benchmark."""
  return sorted(_SERVING_ONLY)


def all_names() -> list[str]:
  return sorted({**_WORKLOADS, **_SERVING_ONLY})


def get_class(name: str) -> type[Workload]:
  """The workload class for `name`; KeyError naming the valid choices."""
  try:
    target = {**_WORKLOADS, **_SERVING_ONLY}[name]
  except KeyError:
    raise KeyError(f'unknown workload {name!r}; valid workloads: '
                   f'{", ".join(all_names())}') from None
  module, cls = target.split(':')
  return getattr(importlib.import_module(module), cls)


def get(name: str, scale: str = 'mini', **kwargs) -> Workload:
  """Builds workload `name` at `scale` (kwargs: data_dir, synthetic,
  compute_dtype)."""
  return get_class(name)(scale, **kwargs)


def by_benchmark(benchmark: str) -> tuple[type[Workload], Variant] | None:
  """(workload class, variant) whose MLLOG benchmark name is `benchmark`
  ('resnet', 'mini_bert', ...), or None."""
  for name in names():
    cls = get_class(name)
    for variant in cls.variants.values():
      if variant.benchmark == benchmark:
        return cls, variant
  return None
