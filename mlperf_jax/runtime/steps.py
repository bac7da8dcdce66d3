# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Train state, the pure train/eval steps, and their sharded compilation."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding

from mlperf_jax.runtime import sharding as shd
from mlperf_jax.api import Workload

PyTree = Any


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: PyTree
  model_state: PyTree
  opt_state: optax.OptState
  rng: jax.Array


def make_init_fn(workload: Workload, tx: optax.GradientTransformation,
                 hp: Mapping[str, Any]) -> Callable[[jax.Array], TrainState]:
  """rng -> TrainState with plain (unboxed) parameters."""
  def init(rng):
    init_rng, step_rng = jax.random.split(rng)
    params, model_state = workload.init(init_rng, hp)
    params = nn.meta.unbox(params)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      model_state=model_state, opt_state=tx.init(params),
                      rng=step_rng)
  return init


def make_train_step(workload: Workload, tx: optax.GradientTransformation,
                    hp: Mapping[str, Any]):
  """The one pure train step: (state, batch) -> (state, metrics)."""
  def train_step(state: TrainState, batch):
    rng = jax.random.fold_in(state.rng, state.step)

    def loss_fn(params):
      summed, n, (model_state, aux) = workload.loss(
          params, state.model_state, batch, rng, hp)
      n = jnp.maximum(n, 1)
      return summed / n, (model_state, aux)

    (loss, (model_state, aux)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {'loss': loss, **aux}
    return state.replace(step=state.step + 1, params=params,
                         model_state=model_state, opt_state=opt_state), metrics
  return train_step


def make_eval_step(workload: Workload, hp: Mapping[str, Any]):
  """(state, batch) -> dict of device outputs for the eval accumulator."""
  def eval_step(state: TrainState, batch):
    return workload.eval_step(state.params, state.model_state, batch, hp)
  return eval_step


def shape_key(batch: Mapping[str, Any]) -> tuple:
  """The bucket a batch belongs to: its feature names and shapes."""
  return tuple(sorted((k, tuple(v.shape)) for k, v in batch.items()))


class ByShape:
  """Executables compiled for several batch shapes (buckets), called with
  the one whose shapes the batch has."""

  def __init__(self, executables: Mapping[tuple, Any]):
    self.executables = dict(executables)

  def __call__(self, state, batch):
    try:
      exe = self.executables[shape_key(batch)]
    except KeyError:
      raise ValueError(
          f'a batch of shapes {dict(shape_key(batch))} matches none of the '
          f'{len(self.executables)} compiled buckets '
          f'{[dict(k) for k in self.executables]}; the workload\'s '
          '`buckets`/`batch_spec` and its input pipeline disagree') from None
    return exe(state, batch)

  @property
  def first(self):
    return next(iter(self.executables.values()))

  def cost_analysis(self):
    return self.first.cost_analysis()

  def memory_analysis(self):
    return self.first.memory_analysis()

  def as_text(self):
    return self.first.as_text()


@dataclasses.dataclass
class Compiled:
  """What `build` produces: abstract state, shardings and executables."""
  mesh: Mesh
  abstract_state: TrainState
  state_sharding: TrainState
  batch_sharding: NamedSharding
  init: Any
  train_step: ByShape       # one executable per train bucket
  eval_step: ByShape | None  # one per eval bucket (None: not compiled)
  boxed_params: PyTree


def _abstract_batch(spec, sharding):
  return {k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=sharding)
          for k, v in spec.items()}


def build(workload: Workload, tx: optax.GradientTransformation,
          hp: Mapping[str, Any], mesh: Mesh, *, compile_eval: bool = True,
          ) -> Compiled:
  """`_build` under `mesh` as the context mesh (for `jax.shard_map` inside
  a workload, e.g. DLRM's model-parallel embedding lookup)."""
  with jax.set_mesh(mesh):
    return _build(workload, tx, hp, mesh, compile_eval=compile_eval)


def _build(workload: Workload, tx: optax.GradientTransformation,
           hp: Mapping[str, Any], mesh: Mesh, *, compile_eval: bool = True,
           ) -> Compiled:
  """Abstract state, shardings, and ahead-of-time compiled init/train/eval.

  Nothing is allocated here: shapes come from `jax.eval_shape` and the
  executables are compiled from `ShapeDtypeStruct`s.
  """
  init_fn = make_init_fn(workload, tx, hp)
  rng_spec = jax.ShapeDtypeStruct((2,), jnp.uint32)
  boxed, _ = jax.eval_shape(lambda r: workload.init(r, hp), rng_spec)
  abstract_state = jax.eval_shape(init_fn, rng_spec)
  rep = shd.replicated(mesh)
  params_sh = shd.param_shardings(boxed, mesh, workload.logical_axis_rules())
  state_sh = TrainState(
      step=rep, params=params_sh,
      model_state=jax.tree.map(lambda _: rep, abstract_state.model_state),
      opt_state=shd.opt_state_shardings(tx, abstract_state.opt_state,
                                        params_sh, mesh),
      rng=rep)
  batch_sh = shd.batch_sharding(mesh)
  init = jax.jit(init_fn, in_shardings=rep, out_shardings=state_sh).lower(
      rng_spec).compile()
  abstract_sharded = jax.tree.map(
      lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
      abstract_state, state_sh)
  train_fn = jax.jit(
      make_train_step(workload, tx, hp),
      in_shardings=(state_sh, batch_sh), out_shardings=(state_sh, rep),
      donate_argnums=(0,))
  train = {}
  for bucket in workload.buckets(hp, train=True):
    spec = _abstract_batch(workload.batch_spec(hp, train=True, bucket=bucket),
                           batch_sh)
    train[shape_key(spec)] = train_fn.lower(abstract_sharded, spec).compile()
  evaluate = None
  if compile_eval:
    eval_fn = jax.jit(make_eval_step(workload, hp),
                      in_shardings=(state_sh, batch_sh), out_shardings=rep)
    evaluate = {}
    for bucket in workload.buckets(hp, train=False):
      spec = _abstract_batch(
          workload.batch_spec(hp, train=False, bucket=bucket), batch_sh)
      evaluate[shape_key(spec)] = eval_fn.lower(abstract_sharded,
                                                spec).compile()
    evaluate = ByShape(evaluate)
  return Compiled(mesh=mesh, abstract_state=abstract_state,
                  state_sharding=state_sh, batch_sharding=batch_sh, init=init,
                  train_step=ByShape(train), eval_step=evaluate,
                  boxed_params=boxed)
