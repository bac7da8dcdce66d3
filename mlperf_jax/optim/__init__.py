# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Optimizers, learning-rate schedules and the hyperparameter registry.

Import the submodules directly (`mlperf_jax.hparams.registry`, `.lars`,
`.sgd`, `.schedules`); nothing is re-exported here so that importing the
package stays cheap and does not pull in every workload's entries.
"""
