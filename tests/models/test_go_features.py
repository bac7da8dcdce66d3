# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The 13 `mlperf07` planes against a NumPy transcription of MiniGo's
`features.py` (stone_features_4, color_to_play_feature,
few_liberties_feature, would_capture_feature), on random games whose
boards are kept by sgfmill."""

import jax
import jax.numpy as jnp
import numpy as np
from sgfmill import boards

from mlperf_jax.models.go_features import NUM_PLANES, mlperf07_planes
from mlperf_jax.selfplay.go_rules import GoRules


def _np_board(board, n):
  out = np.zeros((n, n), np.int8)
  for r in range(n):
    for c in range(n):
      v = board.get(r, c)
      out[r, c] = 0 if v is None else (1 if v == 'b' else -1)
  return out


def _np_groups(board):
  """(group id per point, liberties per group id) by flood fill."""
  n = board.shape[0]
  gid = -np.ones((n, n), int)
  libs = []
  for r in range(n):
    for c in range(n):
      if board[r, c] == 0 or gid[r, c] >= 0:
        continue
      todo, members, lib = [(r, c)], {(r, c)}, set()
      while todo:
        p = todo.pop()
        for q in ((p[0] - 1, p[1]), (p[0] + 1, p[1]), (p[0], p[1] - 1),
                  (p[0], p[1] + 1)):
          if not (0 <= q[0] < n and 0 <= q[1] < n):
            continue
          if board[q] == 0:
            lib.add(q)
          elif board[q] == board[r, c] and q not in members:
            members.add(q)
            todo.append(q)
      for p in members:
        gid[p] = len(libs)
      libs.append(lib)
  return gid, libs


def _np_mlperf07(history, to_play):
  """features.py, transcribed: `history` newest first (boards after each
  move, the empty board last), `to_play` +1 black / -1 white."""
  n = history[0].shape[0]
  last = [history[min(i, len(history) - 1)] for i in range(4)]
  stones = np.zeros((n, n, 8), np.uint8)
  for i, b in enumerate(last):
    stones[..., 2 * i] = b == to_play
    stones[..., 2 * i + 1] = b == -to_play
  color = np.full((n, n, 1), 1 if to_play == 1 else 0, np.uint8)
  board = history[0]
  gid, libs = _np_groups(board)
  liberties = np.where(gid >= 0, [[len(libs[g]) if g >= 0 else 0 for g in row]
                                  for row in gid], 0)
  few = np.zeros((n, n, 3), np.uint8)
  for k in (1, 2, 3):
    few[..., k - 1] = liberties == k
  capture = np.zeros((n, n, 1), np.uint8)
  for g, lib in enumerate(libs):
    owner = board[tuple(np.argwhere(gid == g)[0])]
    if owner != to_play and len(lib) == 1:
      capture[next(iter(lib)) + (0,)] = 1
  return np.concatenate([stones, color, few, capture], axis=-1)


def test_planes_match_features_py_on_random_games():
  n = 7
  rules = GoRules(size=n, komi=7.5, max_moves=120, no_pass_before=40)
  planes_fn = jax.jit(lambda s: mlperf07_planes(rules, s))
  step = jax.jit(rules.step)
  legal_fn = jax.jit(rules.legal_actions)
  rng = np.random.default_rng(0)
  seen_planes = np.zeros(NUM_PLANES, int)
  for _ in range(2):
    state = rules.init()
    board = boards.Board(n)
    history = [np.zeros((n, n), np.int8)]
    while not bool(rules.is_over(state)):
      to_play = int(rules.to_play(state))
      got = np.asarray(planes_fn(state))
      want = _np_mlperf07(history, to_play)
      np.testing.assert_array_equal(got.astype(np.uint8), want)
      seen_planes += want.reshape(-1, NUM_PLANES).any(0)
      legal = np.flatnonzero(np.asarray(legal_fn(state)))
      action = int(rng.choice(legal))
      state = step(state, jnp.int32(action))
      if action < n * n:
        board.play(action // n, action % n, 'b' if to_play == 1 else 'w')
      history.insert(0, _np_board(board, n))
  # Every plane was non-zero somewhere (atari, 2 and 3 liberties, captures).
  assert (seen_planes > 0).all(), seen_planes
