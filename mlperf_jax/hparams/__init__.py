# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Hyperparameters by MLLOG key and the optimizer registry (`registry`), one
module per workload. JAX-free: only an entry's `build` imports JAX/optax."""
