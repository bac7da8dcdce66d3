# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MiniGo's 13 `mlperf07` input planes, computed from a pgx Go state in JAX.

Reference: mlcommons/training `reinforcement/tensorflow/minigo/features.py`
`MLPERF07_FEATURES = [stone_features_4, color_to_play_feature,
few_liberties_feature, would_capture_feature]` (`dual_net.py` selects it
with `--input_features=mlperf07`, `ml_perf/flags/19/architecture.flags`):

* planes 0-7 (`stone_features_4`): the last 4 boards, newest first; plane
  2i holds the stones of the player to move on board t-i, plane 2i+1 the
  opponent's (before the game had 4 boards, the oldest one, the empty
  board, repeats);
* plane 8 (`color_to_play_feature`): all ones when black is to move;
* planes 9-11 (`few_liberties_feature`): a stone whose chain has exactly
  1, 2 or 3 liberties (chains with more liberties, and empty points, are
  all zeros: the reference one-hot stops at 3);
* plane 12 (`would_capture_feature`): the liberty of every opponent chain
  in atari, i.e. the empty points where a move captures.
"""

from __future__ import annotations

import jax.numpy as jnp

from mlperf_jax.selfplay.go_rules import (GameState, GoRules, neighbours,
                                          point_liberties)

NUM_PLANES = 13
HISTORY = 4


def mlperf07_planes(rules: GoRules, state: GameState, libs=None):
  """bool [N, N, 13] for the player to move in `state` (unbatched; vmap
  over games). `libs`: `go_rules.chain_liberties(state)` when at hand."""
  n = rules.size
  me = rules.to_play(state)
  hist = state.board_history[:HISTORY]            # pgx: 2 before the game
  stones = jnp.stack([hist == me, hist == -me], axis=1).reshape(
      2 * HISTORY, n * n)
  black = jnp.broadcast_to(me == 1, (1, n * n))
  libs = point_liberties(state, n, libs)
  few = jnp.stack([libs == k for k in (1, 2, 3)])
  board = rules.stones(state)
  nbrs = neighbours(n)
  nb_opp_atari = ((nbrs >= 0) & (board[nbrs] == -me) & (libs[nbrs] == 1))
  capture = ((board == 0) & nb_opp_atari.any(-1))[None]
  planes = jnp.concatenate([stones, black, few, capture], axis=0)
  return planes.T.reshape(n, n, NUM_PLANES)
