# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Flax Linen model definitions, installed as `mlperf_jax.models`.

Each module is a pure definition used through `init`/`apply`; parameters carry
logical axis names so a per-workload rule table can shard them.
"""
