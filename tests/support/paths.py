# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Where the repository and the test fixtures are, for tests in any folder."""

import pathlib

TESTS = pathlib.Path(__file__).resolve().parents[1]
REPO_ROOT = TESTS.parent
FIXTURES = TESTS / 'fixtures'
