# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Train state, the pure train/eval steps, and their sharded compilation.

Gradient accumulation (`gradient_accumulation_steps` = k, a hyperparameter
of every workload): the train step receives the whole global batch of
`global_batch_size` samples, splits it into k micro-batches of
`global_batch_size / k` (micro-batch i holds rows i, i + k, i + 2k, ...,
so that each device's rows stay on that device), scans the workload's loss
and its gradient over them (`jax.lax.scan`: one micro-batch's activations
live at a time), and applies one optimizer update to

  grad = (sum_i d(summed loss_i)) / (sum_i n_i)

which is the gradient of one batch of k micro-batches: the same update as
k = 1 for a model without batch statistics (tested). A workload whose loss
is already a mean (n = 1, BERT) gets the mean of the micro-batch gradients,
as the BERT reference's `GradientAggregationOptimizer` (`g / steps_per_update`,
mlcommons/training `language_model/tensorflow/bert/deferred_grad_optimizer.py`);
its global-norm clip then acts on the accumulated gradient, the
clip-after-reduce order the v1.1 rules ask of future rounds. Model state
(BatchNorm's running statistics) is threaded through the micro-batches in
order: each micro-batch normalises with its own statistics, synchronised
over all devices, and updates the running averages once, as the ResNet
reference's accumulation path does (`resnet_runnable.py` runs the model in
training mode once per micro-batch). The BatchNorm span is therefore the
micro-batch, `model_bn_span = global_batch_size / k` (hparams/registry.py).
Dropout and other randomness draw `fold_in(step_rng, i)` in micro-batch i.
With k = 1 the step is the plain one, unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

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


def accumulation_steps(hp: Mapping[str, Any]) -> int:
  """`gradient_accumulation_steps`, validated against the batch size."""
  k = int(hp.get('gradient_accumulation_steps', 1))
  if k == 1:
    return 1  # every workload, whatever its batch key (MiniGo's differs)
  gbs = int(hp['global_batch_size'])
  if k < 1 or gbs % k:
    raise ValueError(f'gradient_accumulation_steps={k} must be >= 1 and '
                     f'divide global_batch_size={gbs}')
  return k


def split_micro_batches(batch, k: int,
                        sharding: NamedSharding | None = None):
  """[B, ...] leaves -> [k, B / k, ...]: micro-batch i is rows i, i + k, ...

  Row r goes to (r % k, r // k): a device holding a contiguous block of
  rows holds its share of every micro-batch, so the split moves no data
  (given `sharding`, the batch's, the result is constrained to it on the
  micro-batch axis).
  """
  def split(x):
    b = x.shape[0] // k
    x = jnp.swapaxes(x.reshape((b, k) + x.shape[1:]), 0, 1)
    if sharding is not None:
      x = jax.lax.with_sharding_constraint(x, NamedSharding(
          sharding.mesh, PartitionSpec(None, *sharding.spec)))
    return x
  return jax.tree.map(split, batch)


def make_train_step(workload: Workload, tx: optax.GradientTransformation,
                    hp: Mapping[str, Any], *,
                    batch_sharding: NamedSharding | None = None):
  """The one pure train step: (state, batch) -> (state, metrics).

  With `gradient_accumulation_steps` k > 1 the global batch is split into k
  micro-batches whose gradients are accumulated before the one update (see
  the module docstring); `batch_sharding` keeps the micro-batches sharded
  like the batch.
  """
  k = accumulation_steps(hp)

  def update(state, grads, loss, model_state, aux):
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {'loss': loss, **aux}
    return state.replace(step=state.step + 1, params=params,
                         model_state=model_state, opt_state=opt_state), metrics

  def train_step(state: TrainState, batch):
    rng = jax.random.fold_in(state.rng, state.step)

    def loss_fn(params):
      summed, n, (model_state, aux) = workload.loss(
          params, state.model_state, batch, rng, hp)
      n = jnp.maximum(n, 1)
      return summed / n, (model_state, aux)

    (loss, (model_state, aux)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params)
    return update(state, grads, loss, model_state, aux)

  def accumulating_train_step(state: TrainState, batch):
    rng = jax.random.fold_in(state.rng, state.step)
    micro = split_micro_batches(batch, k, batch_sharding)

    def summed_fn(params, model_state, micro_batch, micro_rng):
      summed, n, (model_state, aux) = workload.loss(
          params, model_state, micro_batch, micro_rng, hp)
      return summed, (jnp.asarray(n, jnp.float32), model_state, aux)

    def body(carry, xs):
      acc, total, count, model_state = carry
      micro_batch, i = xs
      (summed, (n, model_state, aux)), grads = jax.value_and_grad(
          summed_fn, has_aux=True)(state.params, model_state, micro_batch,
                                   jax.random.fold_in(rng, i))
      acc = jax.tree.map(jnp.add, acc, grads)
      return (acc, total + summed.astype(jnp.float32), count + n,
              model_state), aux

    zeros = jax.tree.map(jnp.zeros_like, state.params)
    init = (zeros, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32),
            state.model_state)
    (acc, total, count, model_state), auxs = jax.lax.scan(
        body, init, (micro, jnp.arange(k)))
    count = jnp.maximum(count, 1)
    grads = jax.tree.map(lambda g: (g / count).astype(g.dtype), acc)
    aux = jax.tree.map(lambda a: jnp.mean(a, axis=0), auxs)
    return update(state, grads, total / count, model_state, aux)

  return train_step if k == 1 else accumulating_train_step


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
  k = accumulation_steps(hp)
  shards = 1
  for axis in shd.BATCH_AXES:
    shards *= mesh.shape[axis]
  micro = workload.global_batch_size(hp) // k
  if k > 1 and micro % shards:
    raise ValueError(
        f'the micro-batch of {micro} samples (global_batch_size / '
        f'gradient_accumulation_steps = {workload.global_batch_size(hp)} / '
        f'{k}) does not split over the {shards} batch shards of the mesh; '
        'choose gradient_accumulation_steps so that it does')
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
      make_train_step(workload, tx, hp, batch_sharding=batch_sh),
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
