# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Batched MCTS for Go with mctx, parameterised like MiniGo's search.

MiniGo's search (mlcommons/training `reinforcement/tensorflow/minigo`,
`cc/mcts_tree.cc`, `cc/dual_net`, flags in `ml_perf/flags/19/selfplay.flags`
and `eval.flags`) is PUCT with the AlphaZero exploration schedule
`c = c_init + log((1 + N + c_base) / c_base)` (c_init 1.25, c_base 19652),
Dirichlet noise on the root priors, and unvisited children valued at the
parent's Q minus `value_init_penalty`. This module runs that search with
`mctx.muzero_policy`, with these choices and differences:

* selection: mctx's PUCT `Q + c * P * sqrt(N) / (1 + n)` with the same
  `c_init`/`c_base`; MiniGo uses `sqrt(max(1, N - 1))` (a one-visit shift);
* Q of unvisited children: `minigo_qtransform` gives them the parent's value
  minus `value_init_penalty` and leaves Q unnormalised in [-1, 1], as MiniGo
  does (mctx's default normalises Q by the min/max of the siblings);
* virtual loss (MiniGo: 4, to batch leaves of one tree on a GPU) does not
  apply: mctx runs the simulations of a tree one after another and batches
  across games instead, i.e. the search MiniGo's virtual loss approximates;
* fastplay (`--fastplay_frequency=0.75`, `--fastplay_readouts=80`): decided
  per ply for the whole batch of games (MiniGo: per move of each game); fast
  moves play without noise and give no training example, as in MiniGo;
* target pruning and resignation are not implemented (self-play games run
  to two passes or the move cap; evaluation does not resign in the
  reference either).

Terminal and illegal moves inside the tree: a move the rules forbid ends the
simulated game as a loss for the mover (its prior is masked out, so search
reaches it only when every legal child looks lost); a node after the game
ended has value 0 and discount 0.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import mctx

from mlperf_jax.models.go_features import mlperf07_planes
from mlperf_jax.selfplay.go_rules import GoRules, chain_liberties


@dataclasses.dataclass(frozen=True)
class SearchConfig:
  """Search parameters (reference values: `ml_perf/flags/19/selfplay.flags`).

  Attributes:
    readouts: simulations per full move (reference 800; eval 100).
    fastplay_readouts: simulations per fast move (reference 80).
    fastplay_frequency: share of fast moves (reference 0.75; 0 disables).
    dirichlet_alpha: root noise concentration (reference 0.03 at 19x19).
    noise_mix: share of noise in the root priors (reference 0.3).
    value_init_penalty: unvisited child Q = parent Q - this (reference
      0.2).
    softpick_plies: plies whose move is sampled proportionally to visits
      (MiniGo `softpick_move_cutoff`, 2 * (N*N // 12) // 2 = 30 at 19x19);
      later moves take the most visited child.
    c_puct_init, c_puct_base: the PUCT schedule constants.
    virtual_loss: MiniGo's value (4); recorded, not used (see module doc).
    resign_threshold: MiniGo's (-0.9 .. -1); recorded, not implemented.
  """
  readouts: int = 800
  fastplay_readouts: int = 80
  fastplay_frequency: float = 0.75
  dirichlet_alpha: float = 0.03
  noise_mix: float = 0.3
  value_init_penalty: float = 0.2
  softpick_plies: int = 30
  c_puct_init: float = 1.25
  c_puct_base: float = 19652.0
  virtual_loss: int = 4
  resign_threshold: float = -0.9


def minigo_qtransform(tree, node_index, *, value_init_penalty: float):
  """Children's Q from the parent's view; unvisited: parent value minus
  `value_init_penalty` (MiniGo's first-play urgency), not normalised."""
  qvalues = tree.qvalues(node_index)
  visits = tree.children_visits[node_index]
  parent = tree.node_values[node_index]
  return jnp.where(visits > 0, qvalues, parent - value_init_penalty)


# A network: (variables, planes bool [B, N, N, 13]) -> (logits [B, A],
# value [B] for the player to move).
Network = Callable[[Any, jax.Array], tuple[jax.Array, jax.Array]]


def analyse(rules: GoRules, state):
  """(legal mask, planes) of one state, sharing the liberty count."""
  libs = chain_liberties(state, rules.size)
  return rules.legal_actions(state, libs), mlperf07_planes(rules, state, libs)


def evaluate_states(rules: GoRules, network: Network, variables, states):
  """(masked logits, value, legal mask, planes) of a batch of states."""
  legal, planes = jax.vmap(lambda s: analyse(rules, s))(states)
  logits, value = network(variables, planes)
  logits = jnp.where(legal, logits, jnp.finfo(logits.dtype).min)
  return logits, value, legal, planes


def _recurrent_fn(rules: GoRules, network: Network):
  def recurrent_fn(variables, rng, action, embedding):
    del rng
    states, legal = embedding
    over_before = jax.vmap(rules.is_over)(states)
    ok = jnp.take_along_axis(legal, action[:, None], axis=1)[:, 0]
    mover_black = jax.vmap(rules.to_play)(states) == 1
    stepped = jax.vmap(rules.step)(states, action)
    nxt = jax.tree.map(
        lambda a, b: jnp.where(
            (over_before | ~ok).reshape((-1,) + (1,) * (a.ndim - 1)), a, b),
        states, stepped)
    over_after = jax.vmap(rules.is_over)(nxt)
    black_won = jax.vmap(rules.black_wins)(nxt)
    mover_won = black_won == mover_black
    ended = over_after & ~over_before
    reward = jnp.where(ended, jnp.where(mover_won, 1.0, -1.0), 0.0)
    reward = jnp.where(~ok & ~over_before, -1.0, reward)
    terminal = over_before | over_after | ~ok
    logits, value, legal, _ = evaluate_states(rules, network, variables, nxt)
    value = jnp.where(terminal, 0.0, value)
    discount = jnp.where(terminal, 0.0, -1.0)
    return mctx.RecurrentFnOutput(reward=reward, discount=discount,
                                  prior_logits=logits, value=value), (nxt,
                                                                      legal)
  return recurrent_fn


def run_search(rules: GoRules, network: Network, variables, states, key,
               cfg: SearchConfig, *, readouts: int, noise: bool):
  """One batched search from `states`.

  Returns:
    (visit distribution [B, A] (the training target), root value [B],
    planes of the roots [B, N, N, 13], legal mask [B, A]).
  """
  logits, value, legal, planes = evaluate_states(rules, network, variables,
                                                 states)
  root = mctx.RootFnOutput(prior_logits=logits, value=value,
                          embedding=(states, legal))
  out = mctx.muzero_policy(
      variables, key, root, _recurrent_fn(rules, network),
      num_simulations=readouts, invalid_actions=~legal,
      qtransform=lambda tree, node: minigo_qtransform(
          tree, node, value_init_penalty=cfg.value_init_penalty),
      dirichlet_fraction=cfg.noise_mix if noise else 0.0,
      dirichlet_alpha=cfg.dirichlet_alpha, pb_c_init=cfg.c_puct_init,
      pb_c_base=cfg.c_puct_base)
  return out.action_weights, value, planes, legal


def pick_moves(weights, legal, key, ply, softpick_plies: int):
  """Sample proportionally to visits for the first `softpick_plies` plies,
  then the most visited legal move."""
  w = jnp.where(legal, weights, 0.0)
  sampled = jax.random.categorical(key, jnp.log(w + 1e-30))
  best = jnp.argmax(jnp.where(legal, weights + 1e-6, -1.0), axis=-1)
  return jnp.where(ply < softpick_plies, sampled, best).astype(jnp.int32)
