# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.plan`: predicted time-to-train at scale.

systems (the accelerator table), collectives (from compiled HLO),
convergence (RCP means), predict (roofline + communication + convergence),
report (text, sweep and plot).
"""
