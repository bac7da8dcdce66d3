# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Batched games on the accelerator: self-play generations and matches.

A self-play batch plays `num_games` games of one network against itself
(MiniGo `selfplay`): every ply runs one batched search over the live games,
records the position (its 13 planes), the visit distribution and the side
to move, and plays the picked move; when every game is over (two passes or
the move cap), each position's value target is the final result from its
side to move (+1 won, -1 lost), as in MiniGo's training examples. The
games are a pure function of the network and the key, so a generation is
reproducible from its seed.

A match (MiniGo `eval_models.py`, evaluation of each generation against
the target) plays candidate against opponent with alternating colours: the
candidate has black in even-numbered games. Each ply both sides' searches
run over the batch and every game takes the move of the side to play.
The opponent is a network, or None for a uniformly random legal player.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mlperf_jax.selfplay.go_rules import GoRules
from mlperf_jax.selfplay.search import (Network, SearchConfig, analyse,
                                        pick_moves, run_search)


class SelfPlayGames(NamedTuple):
  """Ply-major records of a batch of self-play games ([T, B, ...])."""
  planes: jax.Array      # bool [T, B, N, N, 13]
  policy: jax.Array      # float [T, B, A]: the visit distribution
  value: jax.Array       # float [T, B]: result for the side to move
  valid: jax.Array       # bool [T, B]: a full-readout move of a live game
  black_wins: jax.Array  # bool [B]
  length: jax.Array      # int [B]: plies played


def _where_tree(pred, a, b):
  return jax.tree.map(
      lambda x, y: jnp.where(pred.reshape((-1,) + (1,) * (x.ndim - 1)), x, y),
      a, b)


def self_play(rules: GoRules, network: Network, variables, key,
              num_games: int, cfg: SearchConfig) -> SelfPlayGames:
  """Plays `num_games` games of `network` against itself (jit this)."""
  n, a, t_max = rules.size, rules.num_actions, rules.max_moves
  states = jax.vmap(lambda _: rules.init())(jnp.arange(num_games))
  buf = (jnp.zeros((t_max, num_games, n, n, 13), bool),
         jnp.zeros((t_max, num_games, a), jnp.float32),
         jnp.zeros((t_max, num_games), jnp.int32),
         jnp.zeros((t_max, num_games), bool))

  def search(states, key, readouts, noise):
    return run_search(rules, network, variables, states, key, cfg,
                      readouts=readouts, noise=noise)

  def body(carry):
    ply, states, key, (planes_b, pol_b, side_b, valid_b) = carry
    key, k_fast, k_search, k_pick = jax.random.split(key, 4)
    live = ~jax.vmap(rules.is_over)(states)
    if cfg.fastplay_frequency > 0:
      fast = jax.random.uniform(k_fast) < cfg.fastplay_frequency
      weights, _, planes, legal = jax.lax.cond(
          fast, lambda: search(states, k_search, cfg.fastplay_readouts, False),
          lambda: search(states, k_search, cfg.readouts, True))
    else:
      fast = jnp.bool_(False)
      weights, _, planes, legal = search(states, k_search, cfg.readouts, True)
    action = pick_moves(weights, legal, k_pick, ply, cfg.softpick_plies)
    nxt = jax.vmap(rules.step)(states, action)
    states = _where_tree(live, nxt, states)
    side = jax.vmap(rules.to_play)(nxt)  # after the move: flip back
    bufs = (planes_b.at[ply].set(planes), pol_b.at[ply].set(weights),
            side_b.at[ply].set(-side), valid_b.at[ply].set(live & ~fast))
    return ply + 1, states, key, bufs

  def cond(carry):
    ply, states = carry[0], carry[1]
    return (ply < t_max) & ~jax.vmap(rules.is_over)(states).all()

  _, states, _, (planes, policy, side, valid) = jax.lax.while_loop(
      cond, body, (jnp.int32(0), states, key, buf))
  black_wins = jax.vmap(rules.black_wins)(states)
  result_black = jnp.where(black_wins, 1.0, -1.0)
  value = jnp.where(valid, side * result_black[None], 0.0).astype(jnp.float32)
  return SelfPlayGames(planes=planes, policy=policy, value=value, valid=valid,
                       black_wins=black_wins, length=states.step_count)


def _random_moves(legal, keys):
  """A uniformly random legal move per game (`keys`: one per game)."""
  logits = jnp.where(legal, 0.0, -jnp.inf)
  return jax.vmap(jax.random.categorical)(keys, logits).astype(jnp.int32)


def play_match(rules: GoRules, network: Network, candidate, opponent,
               game_index, cfg: SearchConfig, key):
  """Candidate against opponent (a network's variables, or None for random
  play); game `i` gives the candidate black when `i` is even.

  Every game of a batch is at the same ply, so the side to move is the
  same in all of them: each ply the candidate searches only the games
  where it moves and the opponent only the others, half the batch each
  (MiniGo's evaluation: each player thinks on its own turn). That needs
  as many even as odd `game_index` entries (colour pairs, as the eval
  batches hold); a game's moves depend only on its own index and `key`
  (up to mctx's 1e-7 tie-break noise, drawn per search batch).

  Returns:
    float [B]: 1 where the candidate won, else 0 (jit this).
  """
  b = game_index.shape[0]
  if b % 2:
    raise ValueError(f'a match batch holds colour pairs; got {b} games')
  half = b // 2
  cand_black = game_index % 2 == 0
  # Games where the candidate has black first, then those where it has
  # white (stable: each half keeps the batch order).
  order = jnp.argsort(~cand_black, stable=True)
  black_half, white_half = order[:half], order[half:]
  keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(game_index)
  states = jax.vmap(lambda _: rules.init())(jnp.arange(b))

  def take(tree, idx):
    return jax.tree.map(lambda x: x[idx], tree)

  def moves(variables, sub, sub_keys, k, ply, side):
    # No noise: the search is deterministic; softpick draws from per-game
    # keys, so a game's moves do not depend on the other games.
    weights, _, _, legal = run_search(rules, network, variables, sub, k,
                                      cfg, readouts=cfg.readouts, noise=False)
    ks = jax.vmap(lambda kk: jax.random.fold_in(
        jax.random.fold_in(kk, ply), side))(sub_keys)
    return jax.vmap(lambda w, l, kk: pick_moves(
        w[None], l[None], kk, ply, cfg.softpick_plies)[0])(weights, legal, ks)

  def body(carry):
    ply, states, k = carry
    k, k1, k2 = jax.random.split(k, 3)
    live = ~jax.vmap(rules.is_over)(states)
    black_to_play = ply % 2 == 0  # one move per ply, passes included
    cand_idx = jnp.where(black_to_play, black_half, white_half)
    opp_idx = jnp.where(black_to_play, white_half, black_half)
    cand_moves = moves(candidate, take(states, cand_idx), keys[cand_idx], k1,
                       ply, 0)
    opp_states = take(states, opp_idx)
    if opponent is None:
      legal, _ = jax.vmap(lambda s: analyse(rules, s))(opp_states)
      opp_moves = _random_moves(legal, jax.vmap(
          lambda kk: jax.random.fold_in(kk, ply))(keys[opp_idx]))
    else:
      opp_moves = moves(opponent, opp_states, keys[opp_idx], k2, ply, 1)
    action = jnp.zeros((b,), jnp.int32).at[cand_idx].set(cand_moves).at[
        opp_idx].set(opp_moves)
    nxt = jax.vmap(rules.step)(states, action)
    return ply + 1, _where_tree(live, nxt, states), k

  def cond(carry):
    ply, states = carry[0], carry[1]
    return (ply < rules.max_moves) & ~jax.vmap(rules.is_over)(states).all()

  _, states, _ = jax.lax.while_loop(cond, body, (jnp.int32(0), states, key))
  black_wins = jax.vmap(rules.black_wins)(states)
  return (black_wins == cand_black).astype(jnp.float32)


def random_play(rules: GoRules, key, num_games: int) -> SelfPlayGames:
  """Games of uniformly random legal moves, recorded like self-play (the
  policy target is uniform over the legal moves): a first generation for a
  training stream read before any self-play."""
  t_max = rules.max_moves
  states = jax.vmap(lambda _: rules.init())(jnp.arange(num_games))

  def body(carry, k):
    states = carry
    live = ~jax.vmap(rules.is_over)(states)
    legal, planes = jax.vmap(lambda s: analyse(rules, s))(states)
    action = _random_moves(legal, jax.random.split(k, num_games))
    policy = legal / legal.sum(-1, keepdims=True)
    side = jax.vmap(rules.to_play)(states)
    nxt = jax.vmap(rules.step)(states, action)
    return _where_tree(live, nxt, states), (planes, policy, side, live)

  states, (planes, policy, side, valid) = jax.lax.scan(
      body, states, jax.random.split(key, t_max))
  black_wins = jax.vmap(rules.black_wins)(states)
  result_black = jnp.where(black_wins, 1.0, -1.0)
  value = jnp.where(valid, side * result_black[None], 0.0).astype(jnp.float32)
  return SelfPlayGames(planes=planes, policy=policy.astype(jnp.float32),
                       value=value, valid=valid, black_wins=black_wins,
                       length=states.step_count)
