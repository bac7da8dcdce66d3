# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Makes the mini MiniGo target network (`selfplay/mini_target.npz`).

The shipped file was made by

    python -m mlperf_jax.selfplay.make_target --seed 1000 --generations 5

i.e. the mini loop itself (same rules, network, search, optimizer and
hyperparameters as `--workload minigo`), seed 1000, for a fixed number of
generations, evaluated against a uniformly random player instead of a
target; the network after the last generation is frozen into the file,
with the run's settings, its win rates against random and the baselines'
win rates against it (`baselines`) in its `meta`. Measured for the shipped
file (2026-12-02): against random 0.73, 0.41, 0.67, 0.63, 0.84 by
generation; random 0.16 and the untrained network with search 0.16
against it. Like
MLPerf's `ml_perf/target` ("intermediate amateur"), it is a network of
intermediate strength from the same kind of training the runs do. It
turned out weak: a run with seed 1 beat it (0.555) after one generation;
a longer run (more generations) would make a harder, better target.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile

import jax

from mlperf_jax.api import Target
from mlperf_jax.runtime import loop
from mlperf_jax.runtime.mllog import RunLog
from mlperf_jax.runtime.run_options import RunOptions
from mlperf_jax.selfplay import target_model
from mlperf_jax.workloads import minigo


class AgainstRandom(minigo.MiniGoWorkload):
  """The mini loop evaluated against random play, never 'reaching' it."""
  target_override = 'random'
  variants = {'mini': minigo.dataclasses.replace(
      minigo.VARIANTS['mini'], target=Target('win_rate', math.inf))}


def make(seed: int, generations: int, out: str) -> dict:
  wl = AgainstRandom('mini')
  hp = wl.resolve_hparams()
  with tempfile.TemporaryDirectory() as tmp:
    log = RunLog(os.path.join(tmp, 'mllog.txt'))
    result = loop.run(wl, hp, RunOptions(seed=seed, max_epochs=generations,
                                         progress=False), log)
    log.close()
  state = jax.device_get(result.state)
  meta = {'command': f'python -m mlperf_jax.selfplay.make_target --seed '
                     f'{seed} --generations {generations}',
          'seed': seed, 'generations': generations,
          'win_rate_vs_random': [e.metrics['win_rate'] for e in result.evals],
          'hparams': {k: v for k, v in hp.items()}}
  variables = {'params': state.params, **state.model_state}
  meta['baselines'] = baselines(variables)
  target_model.save_npz(out, variables, meta)
  return meta


def baselines(target, seed: int = 0) -> dict[str, float]:
  """Win rates against `target` over the mini evaluation games of a
  uniformly random player and of an untrained network with search."""
  wl = minigo.MiniGoWorkload('mini')
  c = wl.loop_config
  rules = wl.rules()
  games_idx = jax.numpy.arange(c.eval_games)
  key = jax.random.PRNGKey(minigo.EVAL_KEY)
  # Random as the candidate: the target plays the other colour of each
  # game, so random's wins are the target's losses.
  target_wins = minigo.games.play_match(rules, wl.network, target, None,
                                        games_idx, c.evaluation, key)
  params, state = wl.init(jax.random.PRNGKey(seed), wl.resolve_hparams())
  untrained = jax.device_get({'params': minigo.nn_unbox(params), **state})
  untrained_wins = jax.jit(lambda u, t: minigo.games.play_match(
      rules, wl.network, u, t, games_idx, c.evaluation, key))(untrained,
                                                              target)
  return {'random': 1.0 - float(target_wins.mean()),
          'untrained_net_with_search': float(untrained_wins.mean())}


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--seed', type=int, default=1000)
  p.add_argument('--generations', type=int, default=5)
  p.add_argument('--out', default=target_model.SHIPPED)
  args = p.parse_args(argv)
  meta = make(args.seed, args.generations, args.out)
  print(f'wrote {args.out}: win rate against random by generation '
        f'{meta["win_rate_vs_random"]}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
