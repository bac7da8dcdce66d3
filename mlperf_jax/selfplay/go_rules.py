# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Go as MiniGo plays it, batched in JAX on top of pgx's Go engine.

MiniGo's rules (mlcommons/training `reinforcement/tensorflow/minigo`,
`go.py` and the C++ `cc/position.cc` its self-play and evaluation use):
* komi 7.5 at 19x19 (any komi here; the mini board uses 0.5);
* a move must be on an empty point, not on the simple-ko point and not
  suicide (`Position.is_move_legal`);
* positional superko: the C++ engine's MCTS refuses moves that recreate a
  board seen earlier in the game (`MctsNode` superko cache), so a repeated
  position is an illegal move here, not a game-ending one (pgx's own rule
  ends the game as a loss for the mover; with these masks it never fires);
* area (Tromp-Taylor) scoring: stones plus empty regions that reach only
  one colour (`Position.score`); black wins if black - white - komi > 0;
* the game ends after two passes in a row, or at `max_moves` plies (the
  reference caps games too, then scores them).

Besides the reference rules, two mini-board restrictions on passing (the
5x5 board: small AlphaZero loops from scratch collapse into early passing;
workloads-wave2.md 5.3), both off at the reference scale:
* `no_pass_before`: no pass in the first plies unless it is the only
  legal move;
* `pass_only_on_eyes`: no pass while a legal move exists that does not fill
  one of the mover's own eyes (an empty point whose on-board neighbours are
  all the mover's stones). Games then go on until the board is settled,
  so self-play positions and final scores keep their meaning; filling an
  eye stays legal (a choice the network must learn not to make).

pgx (`pgx._src.games.go`, the functional core that `pgx.go.Go` wraps)
supplies the board, captures, simple ko, suicide and the score; this
module adds the superko mask (incremental Zobrist hashes of every
candidate move), the pass restriction and liberties for the features.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from pgx._src.games import go as pgx_go

GameState = pgx_go.GameState


@dataclasses.dataclass(frozen=True)
class GoRules:
  """One board size and rule set.

  Attributes:
    size: board side N (actions 0..N*N-1 are points row-major, N*N passes).
    komi: points added to white's area.
    max_moves: plies after which the game is scored as it stands.
    no_pass_before: passing is illegal before this ply unless no other
      move is legal (0: passing is always legal, as in the reference).
    pass_only_on_eyes: passing is illegal while a legal move that does not
      fill the mover's own eye exists (False in the reference).
    history: board positions kept for the features (4 for `mlperf07`).
  """
  size: int = 19
  komi: float = 7.5
  max_moves: int = 722
  no_pass_before: int = 0
  pass_only_on_eyes: bool = False
  history: int = 4

  @property
  def num_points(self) -> int:
    return self.size * self.size

  @property
  def num_actions(self) -> int:
    return self.num_points + 1

  @property
  def game(self) -> pgx_go.Game:
    return pgx_go.Game(size=self.size, komi=self.komi,
                       history_length=self.history,
                       max_termination_steps=self.max_moves)

  # ---- state transitions ---------------------------------------------------

  def init(self) -> GameState:
    return self.game.init()

  def step(self, state: GameState, action) -> GameState:
    """Plays `action` (assumed legal) for the side to move."""
    return self.game.step(state, jnp.asarray(action, jnp.int32))

  def is_over(self, state: GameState):
    return (state.consecutive_pass_count >= 2) | (
        state.step_count >= self.max_moves)

  # ---- legality ------------------------------------------------------------

  def legal_actions(self, state: GameState, libs=None):
    """bool [N*N+1]: MiniGo's legal moves (empty, not the simple-ko point,
    not suicide, no positional superko) and pass (subject to
    `no_pass_before` and `pass_only_on_eyes`). `libs`:
    `chain_liberties(state)` when at hand."""
    if libs is None:
      libs = chain_liberties(state, self.size)
    board = self.stones(state)
    my = self.to_play(state)
    chain = jnp.abs(state.board)
    nbrs = neighbours(self.size)
    on = nbrs >= 0
    nb_board = jnp.where(on, board[nbrs], 2)
    nb_libs = libs[jnp.where(on, chain[nbrs], 0)]
    # Not suicide: an empty neighbour, a friendly chain keeping a liberty,
    # or an opponent chain captured (its last liberty is this point).
    breathes = ((nb_board == 0) | ((nb_board == my) & (nb_libs > 1))
                | ((nb_board == -my) & (nb_libs == 1))).any(-1)
    points = (board == 0) & breathes
    points = points.at[state.ko].set(
        jnp.where(state.ko >= 0, False, points[state.ko]))
    points = points & ~self.superko_moves(state, libs)
    early = state.step_count < self.no_pass_before
    pass_ok = ~early | ~points.any()
    if self.pass_only_on_eyes:
      own_eye = ((nb_board == my) | ~on).all(-1)
      pass_ok = pass_ok & ~(points & ~own_eye).any()
    return jnp.append(points, pass_ok)

  def superko_moves(self, state: GameState, libs=None):
    """bool [N*N]: moves whose resulting board appeared earlier in the game.

    The board hash pgx keeps after every ply (`hash_history`) is updated
    incrementally for each candidate: the new stone, and the opponent chains
    it captures (those in atari next to it) turned empty.
    """
    n2 = self.num_points
    zob = pgx_go.ZOBRIST_BOARD[:, :n2]          # [3, N*N, 2]: empty, b, w
    stone = jnp.clip(state.board, -1, 1)
    my = jnp.where(state.color == 0, 1, -1)
    cur = _xor_reduce(zob[stone, jnp.arange(n2)])  # [2]
    chain = jnp.abs(state.board)                  # chain id + 1, 0 empty
    if libs is None:
      libs = chain_liberties(state, self.size)     # per chain id + 1
    nbrs = neighbours(self.size)                   # [N*N, 4], -1 off board
    nb_chain = jnp.where(nbrs >= 0, chain[nbrs], 0)
    nb_opp = (nbrs >= 0) & (stone[nbrs] == -my)
    captured = nb_opp & (libs[nb_chain] == 1)
    captured = captured & _first_occurrence(nb_chain)
    # XOR delta of emptying each chain: its stones' (opponent -> empty).
    opp_index = jnp.where(my == 1, 2, 1)
    flip = zob[opp_index] ^ zob[0]                 # [N*N, 2]
    member = chain[None, :] == jnp.arange(1, n2 + 1)[:, None]
    chain_delta = _xor_reduce(jnp.where(member[..., None], flip[None], 0),
                              axis=1)               # [N*N, 2] by id - 1
    delta = jnp.where(captured[..., None], chain_delta[nb_chain - 1], 0)
    delta = _xor_reduce(delta, axis=1)              # [N*N, 2]
    my_index = jnp.where(my == 1, 1, 2)
    new = cur[None] ^ zob[0] ^ zob[my_index] ^ delta
    played = jnp.arange(self.game.max_termination_steps) < state.step_count
    same = (new[:, None, :] == state.hash_history[None]).all(-1)
    return (same & played[None]).any(-1) & (state.board == 0)

  # ---- scoring -------------------------------------------------------------

  def area(self, state: GameState):
    """int [2]: (black, white) area: stones plus empty regions reaching
    only that colour."""
    return pgx_go._count_scores(state, self.size)  # pylint: disable=protected-access

  def black_margin(self, state: GameState):
    """Black's area minus white's, minus komi."""
    a = self.area(state)
    return (a[0] - a[1]).astype(jnp.float32) - self.komi

  def black_wins(self, state: GameState):
    return self.black_margin(state) > 0

  # ---- board views ---------------------------------------------------------

  def stones(self, state: GameState):
    """int [N*N]: +1 black, -1 white, 0 empty."""
    return jnp.clip(state.board, -1, 1)

  def to_play(self, state: GameState):
    """+1 when black is to move, -1 for white."""
    return jnp.where(state.color == 0, 1, -1)


def neighbours(size: int):
  """int [N*N, 4]: the up/down/left/right neighbour of each point, -1 off
  the board."""
  idx = jnp.arange(size * size)
  r, c = idx // size, idx % size
  dr = jnp.array([-1, 1, 0, 0])
  dc = jnp.array([0, 0, -1, 1])
  rr, cc = r[:, None] + dr, c[:, None] + dc
  ok = (rr >= 0) & (rr < size) & (cc >= 0) & (cc < size)
  return jnp.where(ok, rr * size + cc, -1)


def _first_occurrence(ids):
  """bool [..., 4]: True where the id is non-zero and not repeated earlier
  in its row (one chain touching a point twice counts once)."""
  k = ids.shape[-1]
  earlier = jnp.tril(jnp.ones((k, k), bool), -1)  # [j, i]: i < j
  dup = ((ids[..., :, None] == ids[..., None, :]) & earlier).any(-1)
  return (ids != 0) & ~dup


def chain_liberties(state: GameState, size: int):
  """int [N*N+1]: distinct liberties of each chain, indexed by chain id + 1
  as pgx stores it (|board|); entry 0 (empty points) is 0."""
  n2 = size * size
  chain = jnp.abs(state.board)
  nbrs = neighbours(size)
  nb_chain = jnp.where(nbrs >= 0, chain[nbrs], 0)     # [N*N, 4]
  counted = _first_occurrence(nb_chain) & (chain == 0)[:, None]
  libs = jnp.zeros(n2 + 1, jnp.int32).at[nb_chain].add(counted.astype(jnp.int32))
  return libs.at[0].set(0)


def point_liberties(state: GameState, size: int, libs=None):
  """int [N*N]: liberties of the chain on each point (0 on empty points),
  what MiniGo's `Position.get_liberties()` returns."""
  if libs is None:
    libs = chain_liberties(state, size)
  return libs[jnp.abs(state.board)]


def _xor_reduce(x, axis: int = 0):
  return jax.lax.reduce(x, jnp.uint32(0), jax.lax.bitwise_xor, (axis,))
