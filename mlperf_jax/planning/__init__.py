# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.plan`: predicted time-to-train at scale.

systems (the accelerator table), abstract_step (a step's cost from its
lowered or compiled HLO), cost_cache (those costs on disk), collectives
(from compiled HLO), convergence (RCP means), selfplay (MiniGo's
generations), predict (roofline + communication + convergence), report
(text, sweep and plot).
"""
