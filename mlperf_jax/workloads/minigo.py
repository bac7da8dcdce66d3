# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MiniGo: reinforcement learning of Go by self-play (`minigo`).

Reference: mlcommons/training `reinforcement/tensorflow/minigo` (v1.1):
each generation ("epoch") plays at least 8,192 self-play games with the
newest network, trains on 30 % of the positions of the last 5 generations,
and is then evaluated against a fixed target network; the first generation
winning at least half of the evaluation games ends the run
(`ml_perf/train_loop.py`, `eval_models.py`; 10 runs, no RCPs). The network,
features, loss and optimizer follow `dual_net.py` and `flags/19/*.flags`
(see `models/minigo.py`, `models/go_features.py`, `hparams/minigo.py`); the
rules and search are in `mlperf_jax/selfplay/`.

Mini (`mini_minigo`, not an MLPerf result): 5x5 Go with komi 0.5 and no
pass in the first 10 plies, a 32-wide 4-block network, 128 games of 16
readouts per generation, judged the MLPerf way: win rate >= 0.5 over 128
games against a frozen target network shipped with the package
(`selfplay/mini_target.npz`, made by `python -m
mlperf_jax.selfplay.make_target`, see that module).

How it maps onto the runtime: a `Block` is a generation; `run_block` plays
the generation's games with the current parameters, stores them in the
replay window and trains `Replay.start_generation`'s number of steps (at
most `Block.steps`); an evaluation batch is a batch of match games, played
on the device by `eval_step`, and `eval_accuracy` is the win rate with
`epoch_num` the generation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from mlperf_jax.api import Block, LazyModule, Target, Variant, Workload
from mlperf_jax.hparams import minigo as minigo_hparams
from mlperf_jax.hparams import registry

jax = LazyModule('jax')
jnp = LazyModule('jax.numpy')
optax = LazyModule('optax')
traverse_util = LazyModule('flax.traverse_util')
minigo_model = LazyModule('mlperf_jax.models.minigo')
go_rules = LazyModule('mlperf_jax.selfplay.go_rules')
games = LazyModule('mlperf_jax.selfplay.games')
target_model = LazyModule('mlperf_jax.selfplay.target_model')
replay_lib = LazyModule('mlperf_jax.input_pipelines.minigo_replay')
sums = LazyModule('mlperf_jax.metrics.sums')

VALUE_COST_WEIGHT = 0.5   # dual_net.py `value_cost_weight`
L2_STRENGTH = minigo_hparams.L2_STRENGTH


@dataclasses.dataclass(frozen=True)
class LoopConfig:
  """The RL loop of a scale (reference: `ml_perf/flags/19/*.flags`).

  Attributes:
    board_size, komi, max_moves, no_pass_before, pass_only_on_eyes: the
      rules (`GoRules`).
    games_per_generation: self-play games per generation.
    selfplay_chunk: games per compiled self-play call.
    window: generations whose positions train (`window_size`).
    train_fraction: share of the window's positions sampled (`train_filter`).
    max_steps_per_generation: cap on a generation's steps (`Block.steps`).
    selfplay / evaluation: search parameters of self-play and eval games.
    eval_games: games against the target per evaluation.
    target: where the target network comes from: 'shipped' (the package's
      mini target), 'data_dir' (the reference target checkpoint under
      --data-dir) or 'random' (a uniformly random player).
  """
  board_size: int
  komi: float
  max_moves: int
  no_pass_before: int
  pass_only_on_eyes: bool
  games_per_generation: int
  selfplay_chunk: int
  window: int
  train_fraction: float
  max_steps_per_generation: int
  selfplay: Any
  evaluation: Any
  eval_games: int
  target: str


def _mini_loop() -> LoopConfig:
  from mlperf_jax.selfplay.search import SearchConfig  # pylint: disable=import-outside-toplevel
  return LoopConfig(
      # No pass while a move that does not fill one's own eye is legal: the
      # earlier rule (no pass in the first 10 plies) still let self-play
      # collapse into passing (selfplay/make_target.py).
      board_size=5, komi=0.5, max_moves=50, no_pass_before=0,
      pass_only_on_eyes=True,
      games_per_generation=128, selfplay_chunk=128, window=5,
      # Half of the window's positions per generation (the reference's 30 %
      # of 8192-game generations gives far more steps than 30 % of 128).
      train_fraction=0.5, max_steps_per_generation=256,
      # Dirichlet alpha ~ 10 / legal moves (the AlphaZero scaling the
      # reference's 0.03 at 19x19 follows); softpick over the first 6 plies.
      selfplay=SearchConfig(readouts=16, fastplay_frequency=0.0,
                            dirichlet_alpha=0.5, noise_mix=0.25,
                            softpick_plies=6),
      evaluation=SearchConfig(readouts=16, fastplay_frequency=0.0,
                              softpick_plies=4),
      eval_games=128, target='shipped')


def _reference_loop() -> LoopConfig:
  from mlperf_jax.selfplay.search import SearchConfig  # pylint: disable=import-outside-toplevel
  return LoopConfig(
      board_size=19, komi=7.5, max_moves=2 * 19 * 19, no_pass_before=0,
      pass_only_on_eyes=False,
      games_per_generation=8192, selfplay_chunk=1024, window=5,
      train_fraction=0.3, max_steps_per_generation=10_000,
      selfplay=SearchConfig(),  # 800 readouts, fastplay 80 at 75 %
      # eval.flags: 100 readouts, no resignation; softpick as in self-play.
      evaluation=SearchConfig(readouts=100, fastplay_frequency=0.0),
      eval_games=256, target='data_dir')


def _dtype(name: str):
  return jnp.bfloat16 if name == 'bfloat16' else jnp.float32


# ---- data sources (see mlperf_jax.api.TrainData / EvalData) ----------------

def _replay_train(wl, data_dir, hp, *, seed, host, start_step):
  del data_dir, start_step
  return wl.replay_stream(hp, seed=seed, host=host)


def _match_eval(wl, data_dir, hp, *, global_batch_size, host):
  del data_dir, hp
  n = wl.variant.eval_samples
  per = global_batch_size // host.count
  for start in range(0, n, global_batch_size):
    game = np.arange(start, start + global_batch_size, dtype=np.int32)
    mask = (game < n).astype(np.float32)
    sl = slice(host.index * per, (host.index + 1) * per)
    yield {'game': game[sl], 'mask': mask[sl]}


VARIANTS = {
    'reference': Variant(
        scale='reference', benchmark='minigo',
        target=Target('win_rate', 0.5), train_samples=8192, eval_samples=256,
        num_runs=10, rulesets=('1.1.0', '2.1.0'),
        model=lambda dtype: minigo_model.reference_config(dtype=_dtype(dtype)),
        train_data=_replay_train, eval_data=_match_eval, needs_data_dir=True,
        eval_batch_size=256, max_epochs=100, log_init_tensors=True,
        extra={'loop': _reference_loop}),
    'mini': Variant(
        scale='mini', benchmark='mini_minigo',
        target=Target('win_rate', 0.5), train_samples=128, eval_samples=128,
        num_runs=10, rulesets=('mini',),
        defaults={'train_batch_size': 256, 'lr_boundaries': [16, 2000],
                  'lr_rates': [0.01, 0.05, 0.01],
                  'min_selfplay_games_per_generation': 128},
        model=lambda dtype: minigo_model.mini_config(dtype=_dtype(dtype)),
        train_data=_replay_train, eval_data=_match_eval,
        # At most 12 generations (~15-30 s each on 2 cores): a run that has
        # not beaten the target (generation 8 of seed 1000's run) by then
        # ends aborted; see selfplay/make_target.py for how fresh runs fare.
        eval_batch_size=128, max_epochs=12,
        # MLPerf MiniGo has no RCPs: the training rules exempt it from the
        # RCP check and the official package checker skips it.
        extra={'loop': _mini_loop, 'no_rcps': True}),
}


class MiniGoWorkload(Workload):
  """MLPerf reinforcement learning (`minigo`)."""

  name = 'minigo'
  variants = VARIANTS
  progress_unit = 'generation'

  # Replaces the loop's `target` kind (make_target trains against random).
  target_override: str | None = None

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self._replay = None
    self._self_play_fns = {}

  @functools.cached_property
  def loop_config(self) -> LoopConfig:
    c = self.variant.extra['loop']()
    if self.synthetic:
      # Synthetic smoke runs (random training batches, no self-play): the
      # evaluation is a few plies of 2-readout search against a random
      # player, so that the timeline and the log are exercised in seconds.
      c = dataclasses.replace(
          c, max_moves=8, target='random',
          evaluation=dataclasses.replace(c.evaluation, readouts=2))
    return c

  # ---- hyperparameters -----------------------------------------------------

  def hparams(self, opt_name):
    return minigo_hparams.hparams(
        opt_name, games_per_generation=self._games_per_generation())

  def _games_per_generation(self) -> int:
    return int(self.variant.defaults.get(
        'min_selfplay_games_per_generation',
        minigo_hparams.REFERENCE_GAMES_PER_GENERATION))

  def global_batch_size(self, hp):
    return int(hp['train_batch_size'])

  def extra_mllog_items(self, hp):
    # Every generation plays exactly this many games (the loop never stops
    # a generation early), logged once with the other run constants.
    return [('actual_selfplay_games_per_generation',
             int(hp['min_selfplay_games_per_generation']))]

  # ---- model ---------------------------------------------------------------

  def model_config(self):
    return self.variant.model(self.compute_dtype)

  def model(self):
    return minigo_model.MiniGoNet(self.model_config())

  def rules(self):
    c = self.loop_config
    return go_rules.GoRules(size=c.board_size, komi=c.komi,
                            max_moves=c.max_moves,
                            no_pass_before=c.no_pass_before,
                            pass_only_on_eyes=c.pass_only_on_eyes)

  def network(self, variables, planes):
    """(variables, planes) -> (logits, value) in inference mode."""
    return self.model().apply(variables, planes, train=False)

  def init(self, rng, hp):
    n = self.model_config().board_size
    x = jnp.zeros((1, n, n, minigo_model.NUM_PLANES), jnp.float32)
    variables = self.model().init(rng, x, train=False)
    return variables['params'], {'batch_stats': variables['batch_stats']}

  def loss(self, params, model_state, batch, rng, hp):
    """`dual_net.py`: softmax CE against the visit distribution + 0.5 x
    value MSE (the L2 term, 1e-4 x sum(l2_loss) over variables named
    neither bias nor beta, is the optimizer's weight decay with
    `hparams.minigo.l2_mask`; reported here as the 'l2' metric)."""
    del rng, hp
    (logits, value), updates = self.model().apply(
        {'params': params, **model_state}, batch['planes'], train=True,
        mutable=['batch_stats'])
    n = logits.shape[0]
    policy_ce = optax.softmax_cross_entropy(logits, batch['policy'])
    value_se = jnp.square(batch['value'] - value)
    l2 = l2_penalty(params)
    summed = jnp.sum(policy_ce + VALUE_COST_WEIGHT * value_se)
    return summed, jnp.asarray(n, jnp.float32), (
        {'batch_stats': updates['batch_stats']},
        {'policy_loss': jnp.mean(policy_ce), 'value_loss': jnp.mean(value_se),
         'l2': l2})

  def _opponent(self):
    kind = self.target_override or self.loop_config.target
    if kind == 'random':
      return None
    if kind == 'shipped':
      return target_model.load_shipped()
    return target_model.load_reference_target(self.data_dir,
                                              self.model_config())

  def eval_step(self, params, model_state, batch, hp):
    del hp
    variables = {'params': params, **model_state}
    wins = games.play_match(
        self.rules(), self.network, variables, self._opponent(),
        batch['game'], self.loop_config.evaluation,
        jax.random.PRNGKey(EVAL_KEY))
    mask = batch['mask']
    return {'wins': jnp.sum(wins * mask), 'games': jnp.sum(mask)}

  def eval_accumulator(self):
    return sums.SumAccumulator('games', {'win_rate': 'wins'})

  def param_labels(self, params):
    flat = traverse_util.flatten_dict(dict(params))

    def label(path):
      if path[-1] == 'kernel':
        return registry.KERNEL
      return registry.NORM if path[0].startswith('batch_norm') else registry.BIAS
    return traverse_util.unflatten_dict({p: label(p) for p in flat})

  def logical_axis_rules(self):
    return minigo_model.LOGICAL_AXIS_RULES

  def init_tensor_names(self, params):
    import flax  # pylint: disable=import-outside-toplevel
    flat = traverse_util.flatten_dict(dict(flax.linen.meta.unbox(params)))
    return sorted(minigo_model.tf_name(p) for p in flat) + ['global_step']

  def load_init_checkpoint(self, path, abstract_params, hp):
    """The reference's bootstrap model, a TF checkpoint (`--init-checkpoint
    PREFIX`): `conv2d/kernel`, `batch_normalization/gamma`, ... ."""
    del hp
    return target_model.params_from_tf_checkpoint(path, abstract_params)

  # ---- data ----------------------------------------------------------------

  def batch_spec(self, hp, *, train, bucket=None):
    del bucket
    n = self.model_config().board_size
    if train:
      b = self.global_batch_size(hp)
      return {'planes': jax.ShapeDtypeStruct((b, n, n, minigo_model.NUM_PLANES),
                                             jnp.bool_),
              'policy': jax.ShapeDtypeStruct((b, n * n + 1), jnp.float32),
              'value': jax.ShapeDtypeStruct((b,), jnp.float32)}
    b = self.eval_batch_size(hp)
    return {'game': jax.ShapeDtypeStruct((b,), jnp.int32),
            'mask': jax.ShapeDtypeStruct((b,), jnp.float32)}

  def synthetic_bounds(self, hp):
    return {'game': self.variant.eval_samples}

  def replay_stream(self, hp, *, seed, host):
    """The training stream: batches of the replay window (a stream read
    before any generation was played starts from one generation of random
    play, e.g. for throughput and conformance checks)."""
    c = self.loop_config
    self._replay = replay_lib.Replay(
        window=c.window, train_fraction=c.train_fraction,
        batch_size=self.global_batch_size(hp), seed=seed)

    def fill():
      self._replay.add(0, self._random_generation(seed))
      self._replay.start_generation(0)
    return replay_lib.replay_batches(self._replay, host, fill)

  # ---- the RL loop ---------------------------------------------------------

  def steps_per_epoch(self, hp):
    return self.loop_config.max_steps_per_generation

  def blocks(self, hp, max_epochs):
    for g in range(1, max_epochs + 1):
      yield Block(first_epoch_num=g, epoch_count=1,
                  steps=self.loop_config.max_steps_per_generation,
                  eval_epoch_num=g)

  def epoch_num_after(self, block, steps_done, hp):
    del steps_done, hp
    return block.eval_epoch_num

  def block_label(self, block):
    return f'generation {int(block.first_epoch_num)}'

  def run_block(self, ctx, block):
    """Self-play a generation with the current network, then train."""
    if self.synthetic:
      return ctx.train()
    g = int(block.first_epoch_num)
    state = ctx.state
    # Self-play runs on the mesh the parameters live on.
    mesh = jax.tree.leaves(state.params)[0].sharding.mesh
    variables = jax.device_get({'params': state.params, **state.model_state})
    self._replay.add(g, self.self_play_generation(
        variables, self._replay.seed, g, mesh=mesh))
    steps = self._replay.start_generation(g)
    return ctx.train(steps)

  def self_play_generation(self, variables, seed: int, generation: int,
                           mesh=None) -> dict[str, np.ndarray]:
    """The examples of one generation's games: a pure function of the
    network, the run seed, the generation number and the number of batch
    shards of `mesh` (default: one device)."""
    c = self.loop_config
    play = self.compiled_self_play(mesh)
    parts = []
    key = jax.random.fold_in(jax.random.PRNGKey(seed), generation)
    for chunk in range(math.ceil(c.games_per_generation / c.selfplay_chunk)):
      out = jax.device_get(play(variables, jax.random.fold_in(key, chunk)))
      parts.append(replay_lib.examples_from_games(
          out.planes, out.policy, out.value, out.valid))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

  def compiled_self_play(self, mesh=None):
    """(variables, key) -> `SelfPlayGames` of one chunk, batched over the
    mesh's batch axes (data x fsdp): each of the S shards plays
    chunk / S games with its own key, `fold_in(key, shard)` (the key
    itself when S = 1), independently of the others (`jax.shard_map`;
    no communication until the records are gathered)."""
    from jax.sharding import PartitionSpec as P  # pylint: disable=import-outside-toplevel
    from mlperf_jax.runtime import sharding as shd  # pylint: disable=import-outside-toplevel
    if mesh is None:
      mesh = shd.make_mesh('data=1', devices=jax.devices()[:1])
    if mesh not in self._self_play_fns:
      c = self.loop_config
      rules = self.rules()
      shards = math.prod(mesh.shape[a] for a in shd.BATCH_AXES)
      if c.selfplay_chunk % shards:
        raise ValueError(
            f'{c.selfplay_chunk} self-play games per chunk do not split over '
            f'the {shards} batch shards of the mesh; use a mesh whose data x '
            'fsdp size divides it')
      local = c.selfplay_chunk // shards

      def shard_games(v, shard_keys):
        return games.self_play(rules, self.network, v, shard_keys[0], local,
                               c.selfplay)

      batch = P(None, shd.BATCH_AXES)
      sharded = jax.shard_map(
          # check_vma off: pgx's and mctx's loops start from unvarying
          # constants; each shard's games are independent by construction.
          shard_games, mesh=mesh, in_specs=(P(), P(shd.BATCH_AXES)),
          check_vma=False,
          out_specs=games.SelfPlayGames(
              planes=batch, policy=batch, value=batch, valid=batch,
              black_wins=P(shd.BATCH_AXES), length=P(shd.BATCH_AXES)))

      def play(v, key):
        if shards == 1:
          keys = key[None]
        else:
          keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(
              jnp.arange(shards))
        return sharded(v, keys)
      self._self_play_fns[mesh] = jax.jit(play)
    return self._self_play_fns[mesh]

  def _random_generation(self, seed: int) -> dict[str, np.ndarray]:
    c = self.loop_config
    out = jax.jit(lambda k: games.random_play(
        self.rules(), k, c.selfplay_chunk))(jax.random.PRNGKey(seed))
    return replay_lib.examples_from_games(out.planes, out.policy, out.value,
                                          out.valid)

  # ---- estimates -----------------------------------------------------------

  def memory_report(self, hp, mesh_shape):
    """`--dry-run`: the self-play cost of one generation."""
    del hp, mesh_shape
    return selfplay_cost_text(self)


# Evaluation games are the same each generation (only the candidate
# changes): game i draws its softpick moves from fold_in(key(EVAL_KEY), i).
EVAL_KEY = 20_211_101


def l2_penalty(params):
  """The reference's L2 loss term, 1e-4 * sum(v**2) / 2 over the variables
  of `hparams.minigo.l2_mask` (`tf.nn.l2_loss`)."""
  mask = minigo_hparams.l2_mask(params)
  return L2_STRENGTH * sum(
      0.5 * jnp.sum(jnp.square(v.astype(jnp.float32)))
      for v, m in zip(jax.tree.leaves(params), jax.tree.leaves(mask)) if m)


def selfplay_cost_text(wl: MiniGoWorkload) -> str:
  """Positions, network evaluations and FLOPs of one generation's games,
  from the search settings and an XLA cost analysis of one forward pass."""
  c = wl.loop_config
  s = c.selfplay
  n = c.board_size
  cfg = wl.model_config()
  net = minigo_model.MiniGoNet(cfg)
  x = jax.ShapeDtypeStruct((1, n, n, minigo_model.NUM_PLANES), jnp.float32)
  v = jax.eval_shape(lambda r: net.init(r, jnp.zeros(x.shape), train=False),
                     jax.random.PRNGKey(0))
  cost = jax.jit(lambda vv, xx: net.apply(vv, xx, train=False)).lower(
      v, x).compile().cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  flops = float((cost or {}).get('flops', float('nan')))
  # Game length: MiniGo's 19x19 games average about 250 plies (a measured
  # figure for its self-play, workloads-wave2.md 5.4); smaller boards scale
  # with the area.
  plies = 250 * (n * n) / 361
  readouts = (s.fastplay_frequency * s.fastplay_readouts
              + (1 - s.fastplay_frequency) * s.readouts)
  positions = c.games_per_generation * plies
  evals = positions * (readouts + 1)
  return '\n'.join([
      f'self-play per generation: {c.games_per_generation:,} games x ~'
      f'{plies:.0f} plies = {positions:.3g} positions; {readouts:.0f} '
      f'readouts per move on average ({s.readouts} full, '
      f'{s.fastplay_readouts} fast at {s.fastplay_frequency:.0%})',
      f'self-play network evaluations per generation: {evals:.3g}; '
      f'{flops:.4g} FLOPs per evaluation (XLA cost analysis) -> '
      f'{evals * flops:.3g} FLOPs per generation',
      f'evaluation per generation: {c.eval_games} games x 2 searches x '
      f'{c.evaluation.readouts} readouts',
  ])


def nn_unbox(params):
  """Plain arrays of (possibly logically boxed) parameters."""
  import flax  # pylint: disable=import-outside-toplevel
  return flax.linen.meta.unbox(params)
