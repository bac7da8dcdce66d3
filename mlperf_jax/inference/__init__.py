# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
