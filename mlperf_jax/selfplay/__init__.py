# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MiniGo's reinforcement loop on the accelerator: Go rules (pgx), batched
tree search (mctx), self-play generations and evaluation matches."""
