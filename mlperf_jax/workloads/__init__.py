# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Workload registry: CLI name -> implementing class, imported lazily."""

from __future__ import annotations

import importlib

from mlperf_jax.api import Workload

# name -> 'module:Class'. Workloads import heavy dependencies (models, data
# pipelines), so they are only imported when asked for.
_WORKLOADS: dict[str, str] = {
    'resnet': 'mlperf_jax.workloads.resnet:ResNetWorkload',
    'bert': 'mlperf_jax.workloads.bert:BertWorkload',
    'dlrm': 'mlperf_jax.workloads.dlrm:DlrmWorkload',
}


def register(name: str, target: str) -> None:
  """Registers workload `name` implemented by 'module:Class'."""
  if name in _WORKLOADS:
    raise ValueError(f'workload {name!r} is already registered')
  _WORKLOADS[name] = target


def names() -> list[str]:
  return sorted(_WORKLOADS)


def get_class(name: str) -> type[Workload]:
  """The workload class for `name`; KeyError naming the valid choices."""
  try:
    target = _WORKLOADS[name]
  except KeyError:
    raise KeyError(f'unknown workload {name!r}; valid workloads: '
                   f'{", ".join(names())}') from None
  module, cls = target.split(':')
  return getattr(importlib.import_module(module), cls)


def get(name: str, scale: str = 'mini', **kwargs) -> Workload:
  """Builds workload `name` at `scale` (kwargs: data_dir, synthetic)."""
  return get_class(name)(scale, **kwargs)
