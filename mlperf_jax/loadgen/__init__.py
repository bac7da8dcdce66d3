# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MLPerf Inference LoadGen: a pure-Python port and the official adapter.

``pyloadgen`` mirrors the ``mlperf_loadgen`` API; ``official.get(name)``
returns either module so the same SUT/QSL code runs under both.
"""
