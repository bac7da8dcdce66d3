# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MiniGo's Go rules (pgx + superko + scoring) against sgfmill on random
games: legality of every point at every ply (empty, no suicide, positional
superko), the board after every move (captures), and the final area score
and winner under komi."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from sgfmill import boards

from mlperf_jax.selfplay.go_rules import GoRules, point_liberties


def _colour(to_play):
  return 'b' if to_play == 1 else 'w'


def _grid(board, size):
  out = np.zeros(size * size, np.int32)
  for r in range(size):
    for c in range(size):
      v = board.get(r, c)
      out[r * size + c] = 0 if v is None else (1 if v == 'b' else -1)
  return out


def _independent_legal(board, size, colour, seen):
  """Each point's legality by sgfmill plus a set of earlier boards:
  empty, not suicide (sgfmill allows self-capture: the stone vanishes),
  and the resulting board not seen before (positional superko)."""
  legal = np.zeros(size * size, bool)
  repeats = np.zeros(size * size, bool)
  for r in range(size):
    for c in range(size):
      if board.get(r, c) is not None:
        continue
      b = board.copy()
      b.play(r, c, colour)
      if b.get(r, c) is None:
        continue
      key = tuple(_grid(b, size))
      repeats[r * size + c] = key in seen
      legal[r * size + c] = key not in seen
  return legal, repeats


@functools.lru_cache(maxsize=None)
def _jitted(rules):
  @jax.jit
  def ply(state, key):
    legal = rules.legal_actions(state)
    superko = rules.superko_moves(state)
    libs = point_liberties(state, rules.size)
    logits = jnp.where(legal, 0.0, -jnp.inf)
    # Pass rarely, so that boards fill up, capture and fight kos.
    logits = logits.at[-1].add(-3.0)
    action = jax.random.categorical(key, logits)
    return rules.step(state, action), action, legal, superko, libs

  return ply


def test_random_games_match_sgfmill():
  captures = repeats_seen = 0
  for size, komi, games in ((5, 0.5, 4), (7, 7.5, 2), (9, 7.5, 1)):
    c, r = _play_and_compare(size, komi, games, seed=size)
    captures += c
    repeats_seen += r
  # The games exercised captures and repeated positions (kos).
  assert captures > 0
  assert repeats_seen > 0


def _play_and_compare(size, komi, games, seed):
  rules = GoRules(size=size, komi=komi, max_moves=3 * size * size)
  ply = _jitted(rules)
  key = jax.random.PRNGKey(seed)
  captures = repeats_seen = 0
  for _ in range(games):
    state = rules.init()
    board = boards.Board(size)
    seen = set()
    passes = 0
    while not bool(rules.is_over(state)):
      key, sub = jax.random.split(key)
      to_play = int(rules.to_play(state))
      colour = _colour(to_play)
      legal_ref, repeats = _independent_legal(board, size, colour, seen)
      state, action, legal, superko, libs = ply(state, sub)
      legal, superko = np.asarray(legal), np.asarray(superko)
      np.testing.assert_array_equal(legal[:-1], legal_ref, err_msg=str(board))
      assert legal[-1]  # passing is always legal in the reference rules
      np.testing.assert_array_equal(superko, repeats)
      repeats_seen += int(repeats.sum())
      # Liberties of every chain before the move (flood fill in sgfmill).
      for r in range(size):
        for c in range(size):
          if board.get(r, c) is not None:
            group = _group(board, r, c)
            libs_ref = len({q for p in group for q in _adj(p, size)
                            if board.get(*q) is None})
            assert libs[r * size + c] == libs_ref
      action = int(action)
      if action == size * size:
        passes += 1
      else:
        passes = 0
        before = sum(board.get(r, c) is not None for r in range(size)
                     for c in range(size))
        board.play(action // size, action % size, colour)
        after = sum(board.get(r, c) is not None for r in range(size)
                    for c in range(size))
        captures += before + 1 - after
      grid = _grid(board, size)
      seen.add(tuple(grid))
      np.testing.assert_array_equal(np.asarray(rules.stones(state)), grid)
    assert passes >= 2 or int(state.step_count) == rules.max_moves
    margin = board.area_score() - komi
    assert float(rules.black_margin(state)) == margin
    assert bool(rules.black_wins(state)) == (margin > 0)
  return captures, repeats_seen


def _adj(p, size):
  r, c = p
  for q in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
    if 0 <= q[0] < size and 0 <= q[1] < size:
      yield q


def _group(board, r, c):
  colour = board.get(r, c)
  todo, group = [(r, c)], {(r, c)}
  while todo:
    p = todo.pop()
    for q in _adj(p, board.side):
      if q not in group and board.get(*q) == colour:
        group.add(q)
        todo.append(q)
  return group


def test_early_pass_is_illegal_unless_forced():
  rules = GoRules(size=5, komi=0.5, max_moves=50, no_pass_before=10)
  state = rules.init()
  assert not bool(rules.legal_actions(state)[-1])
  for a in range(10):
    state = rules.step(state, a)
  assert bool(rules.legal_actions(state)[-1])


def test_pass_only_on_eyes_matches_sgfmill_eyes():
  """The mini rule: pass is legal exactly when every legal point (by
  sgfmill, with superko) is one of the mover's own eyes (all on-board
  neighbours the mover's stones); random games under it reach the settled
  end where passing opens up, and only then end by two passes."""
  size = 5
  rules = GoRules(size=size, komi=0.5, max_moves=80, pass_only_on_eyes=True)
  ply = _jitted(rules)
  key = jax.random.PRNGKey(7)
  pass_open = pass_closed = 0
  for _ in range(3):
    state = rules.init()
    board = boards.Board(size)
    seen = set()
    while not bool(rules.is_over(state)):
      key, sub = jax.random.split(key)
      colour = _colour(int(rules.to_play(state)))
      legal_ref, _ = _independent_legal(board, size, colour, seen)
      eyes = np.array([board.get(r, c) is None and all(
          board.get(*q) == colour for q in _adj((r, c), size))
                       for r in range(size) for c in range(size)])
      state, action, legal, _, _ = ply(state, sub)
      legal = np.asarray(legal)
      np.testing.assert_array_equal(legal[:-1], legal_ref)
      expect_pass = not (legal_ref & ~eyes).any()
      assert bool(legal[-1]) == expect_pass, str(board)
      pass_open += expect_pass
      pass_closed += not expect_pass
      action = int(action)
      if action != size * size:
        board.play(action // size, action % size, colour)
      seen.add(tuple(_grid(board, size)))
  assert pass_open > 0 and pass_closed > 0
