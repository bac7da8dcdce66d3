# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""mlperf_jax: MLPerf Training and Inference benchmarks in JAX/XLA.

Python use, without the CLI::

  import jax, mlperf_jax
  wl = mlperf_jax.workloads.get('resnet', scale='reference', synthetic=True)
  hp = mlperf_jax.resolve_hparams(wl, {'global_batch_size': '256'})
  mesh = mlperf_jax.runtime.sharding.make_mesh('data=-1')
  model = wl.model()                       # a Flax Linen module
  tx, lr = wl.optimizer(hp).build(hp, mlperf_jax.optimizer_context(wl, hp))
  step = mlperf_jax.runtime.steps.make_train_step(wl, tx, hp)   # pure; jit it
  compiled = mlperf_jax.runtime.steps.build(wl, tx, hp, mesh)   # sharded, AOT
"""

from __future__ import annotations

from typing import Any, Mapping

from mlperf_jax.runtime import sharding
from mlperf_jax.runtime import steps
from mlperf_jax import workloads
from mlperf_jax.hparams import registry
from mlperf_jax.api import Workload

__version__ = '0.1.0'


def resolve_hparams(workload: Workload, overrides: Mapping[str, Any] = (),
                    division: str = 'closed') -> dict[str, Any]:
  """Defaults of the workload's scale + overrides, validated by the rules."""
  overrides = dict(overrides)
  opt_name = overrides.get('opt_name', workload.default_opt_name())
  return registry.resolve(workload.hparams(opt_name), workload.config.defaults,
                          overrides, division=division)


def optimizer_context(workload: Workload, hp: Mapping[str, Any]
                      ) -> registry.OptimizerContext:
  return registry.OptimizerContext(
      steps_per_epoch=workload.steps_per_epoch(hp),
      decay_mask=workload.decay_mask)
