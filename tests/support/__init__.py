# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Helpers shared by the tests.

Imported as `support` from any test folder: tests/conftest.py puts tests/ on
sys.path.
"""
