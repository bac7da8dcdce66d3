# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""How to run (not what to train): options of one training run, JAX-free."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class RunOptions:
  """How to run (not what to train: that is the workload + hyperparameters)."""
  seed: int = 0
  division: str = 'closed'
  mesh: str | None = None
  max_epochs: int | None = None
  max_steps: int | None = None
  submission_org: str = 'mlperf_jax'
  submission_platform: str | None = None
  submission_status: str = 'research'
  progress: bool = True
  # Checkpoints (checkpoint.py): off unless a directory is given.
  checkpoint_dir: str | None = None
  checkpoint_every_steps: int | None = None  # None: after each evaluation
  resume: bool = False
  final_params_dir: str | None = None  # where the final parameters go
  # Start from these weights (e.g. BERT's reference TF checkpoint) instead of
  # a random init; loaded during the untimed init.
  init_checkpoint: str | None = None
