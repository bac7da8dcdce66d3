# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Optimizers and learning-rate schedules of the MLPerf references, as optax
compositions (`lars`, `lamb`, `sgd`, `adam`, `schedules`).

Import the submodules directly; nothing is re-exported here. They import JAX
and optax; the hyperparameter registry (`mlperf_jax.hparams`) imports them
only when an optimizer is built.
"""
