# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The cost of one train step, from its lowered or its compiled HLO.

`plan` needs per-device FLOPs, the collectives and the memory of one step of
a reference-size model. Compiling that step for XLA:CPU costs 15-60 CPU
seconds (the HLO pipeline and LLVM code generation scale with the graph,
not with the batch), while lowering it (tracing to StableHLO) costs a few.
So:

- **FLOPs** come from XLA's cost analysis of the *lowered* module: the
  global (unpartitioned) step, divided by the devices of the compile mesh,
  except the optimizer update (lowered on its own), which every device of a
  data-parallel layout executes in full.
- **Collectives**: on a pure data-parallel step (every parameter and
  optimizer slot replicated, no `shard_map`) the one collective of
  consequence is the gradient all-reduce over the batch axes, one
  parameter-sized buffer in the parameters' dtype; it is written down from
  the abstract state rather than compiled for (per-channel BatchNorm
  statistics are all-reduced too, a few KiB). Any model-parallel layout
  (an fsdp or tensor axis, sharded parameters, a `shard_map`), or
  `compile=True`, compiles the step and reads the partitioned HLO instead
  (`collectives.py`), and then FLOPs and step temporaries come from the
  compiled executable as well.
- **Memory**: the train state's per-device bytes from the shardings; step
  temporaries only from a compile (XLA:CPU buffer assignment).

Only the first train bucket is lowered, and neither the initialiser nor
the evaluation step is compiled.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from mlperf_jax.planning import collectives as coll


def _cost_dict(cost) -> dict:
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return dict(cost or {})


def _has_model_parallelism(cm: Mapping[str, int], shardings, lowered_text: str
                           ) -> bool:
  if cm['fsdp'] > 1 or cm['tensor'] > 1:
    return True
  import jax  # pylint: disable=import-outside-toplevel
  for s in jax.tree.leaves(shardings):
    if not s.is_fully_replicated:  # a spec may name axes of size 1
      return True
  return 'manual_computation' in lowered_text or '{manual}' in lowered_text


def _update_flops(tx, abstract) -> float:
  """FLOPs of the optimizer update alone (every device does all of it)."""
  import jax  # pylint: disable=import-outside-toplevel
  import optax  # pylint: disable=import-outside-toplevel

  def update(params, opt_state):
    updates, _ = tx.update(params, opt_state, params)
    return optax.apply_updates(params, updates)
  cost = jax.jit(update).lower(abstract.params, abstract.opt_state)
  return float(_cost_dict(cost.cost_analysis()).get('flops', 0.0))


def measure(workload, hp: Mapping[str, Any], cm: Mapping[str, int], *,
            compile: bool = False) -> dict:  # pylint: disable=redefined-builtin
  """The per-device cost of `workload`'s train step on compile mesh `cm`
  (`hp` holds the compile mesh's global batch), as `StepCost` fields."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import loop  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import sharding as shd  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import steps as steps_lib  # pylint: disable=import-outside-toplevel

  n = math.prod(cm.values())
  if len(jax.devices()) < n:
    raise ValueError(f'plan needs {n} (fake) devices; it has '
                     f'{len(jax.devices())}')
  mesh = shd.make_mesh(cm, devices=jax.devices()[:n])
  tx, _ = workload.optimizer(hp).build(hp, loop.optimizer_context(workload, hp))
  with jax.set_mesh(mesh):
    init_fn = steps_lib.make_init_fn(workload, tx, hp)
    rng = jax.ShapeDtypeStruct((2,), jnp.uint32)
    boxed, _ = jax.eval_shape(lambda r: workload.init(r, hp), rng)
    abstract = jax.eval_shape(init_fn, rng)
    rep = shd.replicated(mesh)
    params_sh = shd.param_shardings(boxed, mesh, workload.logical_axis_rules())
    state_sh = steps_lib.TrainState(
        step=rep, params=params_sh,
        model_state=jax.tree.map(lambda _: rep, abstract.model_state),
        opt_state=shd.opt_state_shardings(tx, abstract.opt_state, params_sh,
                                          mesh),
        rng=rep)
    batch_sh = shd.batch_sharding(mesh)
    sharded = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
        abstract, state_sh)
    fn = jax.jit(steps_lib.make_train_step(workload, tx, hp,
                                           batch_sharding=batch_sh),
                 in_shardings=(state_sh, batch_sh), out_shardings=(state_sh, rep),
                 donate_argnums=(0,))
    bucket = next(iter(workload.buckets(hp, train=True)))
    spec = {k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=batch_sh)
            for k, v in workload.batch_spec(hp, train=True,
                                            bucket=bucket).items()}
    lowered = fn.lower(sharded, spec)
    compiled = compile or _has_model_parallelism(
        cm, (params_sh, state_sh.opt_state), lowered.as_text())
    state_bytes = 0
    for a, s in zip(jax.tree.leaves(abstract), jax.tree.leaves(state_sh)):
      state_bytes += (math.prod(s.shard_shape(a.shape))
                      * np.dtype(a.dtype).itemsize)
    params = jax.tree.leaves(abstract.params)
    out = dict(compile_mesh=dict(cm), state_bytes=int(state_bytes),
               param_count=int(sum(math.prod(p.shape) for p in params)),
               compiled=compiled)
    if not compiled:
      cost = _cost_dict(lowered.cost_analysis())
      update = _update_flops(tx, abstract)
      grad_bytes = sum(math.prod(p.shape) * np.dtype(p.dtype).itemsize
                       for p in params)
      groups = (tuple(range(n)),)
      out.update(
          flops=(float(cost.get('flops', 0.0)) - update) / n + update,
          bytes_accessed=float(cost.get('bytes accessed', 0.0)) / n,
          collectives=(coll.Collective('all-reduce', int(grad_bytes), groups,
                                       ('data',)),) if cm['data'] > 1 else (),
          temp_bytes=None)
      return out
    exe = lowered.compile()
    cost = _cost_dict(exe.cost_analysis())
    coords = {i: dict(zip(mesh.axis_names, idx))
              for i, idx in enumerate(np.ndindex(mesh.devices.shape))}
    mem = exe.memory_analysis()
    out.update(
        flops=float(cost.get('flops', 0.0)),
        bytes_accessed=float(cost.get('bytes accessed', 0.0)),
        collectives=tuple(coll.parse(exe.as_text(), coords, mesh.axis_names)),
        temp_bytes=int(getattr(mem, 'temp_size_in_bytes', 0)))
    return out
