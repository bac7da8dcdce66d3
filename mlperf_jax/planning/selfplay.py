# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MiniGo's time-to-train: generations of self-play, training and evaluation.

MiniGo has no RCPs (it converges by win rate against a target network, in
generations), so `plan` predicts one generation and multiplies:

- **Self-play**: `games_per_generation` games of ~250 plies at 19x19 (the
  measured average of MiniGo's self-play, `shared/reference/
  workloads-wave2.md` 5.4; scaled with the board area), each move one search
  of `readouts` network evaluations plus the root's (800 full, 80 fast at
  75 %: `ml_perf/flags/19/selfplay.flags`), at the FLOPs of one forward
  position from XLA's cost analysis of the lowered network.
- **Training**: the workload's own rule (`input_pipelines/minigo_replay.py`
  `start_generation`): `train_fraction` of the positions of the last
  `window` generations, in steps of `train_batch_size`, at most
  `max_steps_per_generation`; each step timed like any other benchmark's.
- **Evaluation**: `eval_games` games against the target, 100 readouts a
  move (`eval.flags`).
- **Generations to converge**: the olympic mean of the generation at which
  the published runs of MLPerf Training stopped (`GENERATIONS`, per ruleset,
  from `benchmarks/published_results.csv`: NVIDIA's 8x A100 MiniGo of that
  round, whose closed-division loop is the reference's). This is the one
  input taken from a published result rather than from a rule file; the
  validation says so on its MiniGo rows.

Self-play and evaluation searches run at the same fraction of peak as the
training step (the benchmark's one calibrated `efficiency`). Imports JAX only
inside `forward_flops`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

# Mean generation at convergence of the published runs (olympic mean over
# 10 runs; `python benchmarks/published_results.py`, column `epoch_num`):
# v1.0 NVIDIA dgxa100_ngc21.05_tensorflow, v1.1 dgxa100_ngc21.09_tensorflow.
GENERATIONS = {'1.0.0': 41.375, '1.1.0': 41.25}
GENERATIONS_SOURCE = ('published generations at convergence, NVIDIA 8x A100 '
                      'MiniGo (mlcommons/training_results_{round})')
PLIES_19X19 = 250


@dataclasses.dataclass(frozen=True)
class Generation:
  """What one generation costs, in network evaluations and train steps."""
  selfplay_evals: float     # forward positions of the generation's games
  eval_evals: float         # forward positions of the evaluation games
  forward_flops: float      # one position

  def steps(self, workload, hp: Mapping[str, Any], generation: int) -> int:
    c = workload.loop_config
    batch = int(workload.global_batch_size(hp))
    positions = c.games_per_generation * plies(c.board_size)
    pool = positions * min(generation, c.window)
    take = max(batch, int(round(c.train_fraction * pool)))
    return min(c.max_steps_per_generation, max(1, take // batch))


def plies(board_size: int) -> float:
  return PLIES_19X19 * board_size * board_size / 361


def generation(workload, forward_flops: float) -> Generation:
  c = workload.loop_config
  s, e = c.selfplay, c.evaluation
  moves = plies(c.board_size)
  readouts = (s.fastplay_frequency * s.fastplay_readouts
              + (1 - s.fastplay_frequency) * s.readouts)
  eval_readouts = (e.fastplay_frequency * e.fastplay_readouts
                   + (1 - e.fastplay_frequency) * e.readouts)
  return Generation(
      selfplay_evals=c.games_per_generation * moves * (readouts + 1),
      eval_evals=c.eval_games * moves * (eval_readouts + 1),
      forward_flops=forward_flops)


def forward_flops(workload, hp: Mapping[str, Any], batch: int = 1024) -> float:
  """FLOPs of one position through the network (inference mode), from the
  cost analysis of the lowered forward pass at `batch` positions."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  rng = jax.ShapeDtypeStruct((2,), jnp.uint32)
  params, state = jax.eval_shape(lambda r: workload.init(r, hp), rng)
  planes = workload.batch_spec(hp, train=True)['planes']
  x = jax.ShapeDtypeStruct((batch, *planes.shape[1:]), jnp.float32)
  variables = {'params': params, **state}
  cost = jax.jit(workload.network).lower(variables, x).cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return float((cost or {}).get('flops', 0.0)) / batch


def generations(ruleset: str) -> float:
  g = GENERATIONS.get(ruleset)
  if g is None:
    raise ValueError(f'no published MiniGo generations for ruleset {ruleset}; '
                     f'known: {", ".join(k for k, v in GENERATIONS.items() if v)}')
  return g
