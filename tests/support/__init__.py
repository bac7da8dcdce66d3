# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Helpers shared by the tests.

Imported as `support`: pytest puts tests/ (no `__init__.py`) on sys.path, as
for `loadgen_harness`.
"""
