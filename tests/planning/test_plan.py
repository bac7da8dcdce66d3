# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`plan`: systems, collectives from HLO, RCP convergence, the prediction."""

import functools
import json
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from mlperf_jax import workloads
from mlperf_jax.planning import collectives as coll
from mlperf_jax.planning import abstract_step
from mlperf_jax.planning import convergence
from mlperf_jax.planning import cost_cache
from mlperf_jax.planning import predict as pr
from mlperf_jax.planning import selfplay
from mlperf_jax.planning import systems


def test_system_names():
  s = systems.parse_system('tpu-v4-64')
  assert (s.chip.name, s.chips, s.nodes) == ('tpu-v4', 32, 1)
  s = systems.parse_system('tpu-v5e-16')
  assert s.chips == 16
  s = systems.parse_system('a100-64')
  assert (s.chips, s.nodes) == (64, 8)
  for bad in ('tpu-v4-3', 'v100-8', 'a100', 'h100-0'):
    with pytest.raises(systems.SystemNameError):
      systems.parse_system(bad)


def _mesh(shape):
  n = math.prod(shape)
  return Mesh(np.array(jax.devices()[:n]).reshape(shape), ('data', 'tensor'))


def _coords(mesh):
  return {i: dict(zip(mesh.axis_names, idx))
          for i, idx in enumerate(np.ndindex(mesh.devices.shape))}


def _grad_hlo(mesh, w_spec, x_spec):
  def f(w, x):
    return jax.grad(lambda w: jnp.sum(jnp.tanh(x @ w) ** 2))(w)
  w = jax.ShapeDtypeStruct((64, 32), jnp.float32,
                           sharding=NamedSharding(mesh, w_spec))
  x = jax.ShapeDtypeStruct((16, 64), jnp.float32,
                           sharding=NamedSharding(mesh, x_spec))
  return jax.jit(f, out_shardings=NamedSharding(mesh, w_spec)).lower(
      w, x).compile().as_text()


def test_gradient_all_reduce_is_found_on_the_data_axis():
  mesh = _mesh((4, 2))
  found = coll.parse(_grad_hlo(mesh, P(), P('data', None)), _coords(mesh),
                     mesh.axis_names)
  reduce = [c for c in found if c.kind == 'all-reduce']
  assert reduce, found
  # The replicated weight's gradient: 64 x 32 float32 summed over data.
  assert sum(c.bytes for c in reduce) == 64 * 32 * 4
  assert all(c.axes == ('data',) and c.group_size == 4 for c in reduce)


def test_no_collective_without_sharding():
  mesh = _mesh((1, 1))
  assert coll.parse(_grad_hlo(mesh, P(), P()), _coords(mesh),
                    mesh.axis_names) == []


def test_iota_replica_groups_and_ring_bytes():
  line = ('  %ar = bf16[8,128]{1,0} all-reduce(%x), channel_id=3, '
          'replica_groups=[2,4]<=[4,2]T(1,0), to_apply=%add')
  coords = {i: {'data': i // 2, 'tensor': i % 2} for i in range(8)}
  (c,) = coll.parse(line, coords, ('data', 'tensor'))
  assert c.groups == ((0, 2, 4, 6), (1, 3, 5, 7))
  assert c.axes == ('data',)
  assert c.bytes == 8 * 128 * 2
  assert c.wire_bytes() == pytest.approx(2 * 3 / 4 * c.bytes)
  assert c.wire_bytes(64) == pytest.approx(2 * 63 / 64 * c.bytes)
  gather = coll.Collective('all-gather', 1000, ((0, 1),), ('tensor',))
  scatter = coll.Collective('reduce-scatter', 1000, ((0, 1, 2, 3),), ('data',))
  assert gather.wire_bytes() == pytest.approx(500)
  assert scatter.wire_bytes() == pytest.approx(3000)  # input is 4 x result


def test_mesh_replica_groups():
  line = ("  %ar = f32[32,64]{1,0} all-reduce(%dot.1), channel_id=1, "
          "replica_groups=mesh['axis_0'=4,'axis_1'=1,'axis_2'=2] {'axis_0'}, "
          "use_global_device_ids=true, to_apply=%add")
  coords = {i: {'data': i // 2, 'tensor': i % 2} for i in range(8)}
  (c,) = coll.parse(line, coords, ('data', 'tensor'))
  assert c.groups == ((0, 2, 4, 6), (1, 3, 5, 7))
  assert c.axes == ('data',)


def _olympic(values):
  v = sorted(values)[1:-1]
  return sum(v) / len(v)


def test_convergence_means_follow_the_rcp_json():
  import mlperf_logging  # pylint: disable=import-outside-toplevel
  path = os.path.join(os.path.dirname(mlperf_logging.__file__), 'rcp_checker',
                      'training_1.1.0', 'rcps_resnet.json')
  with open(path) as f:
    recs = {r['BS']: r['Epochs to converge'] for r in json.load(f).values()}
  got = convergence.mean_to_converge('resnet', 3264)
  assert got.how == 'RCP'
  assert got.mean_epoch_num == pytest.approx(_olympic(recs[3264]))
  # Between RCPs: linear between the neighbours in the checker's pruned set
  # (points converging slower than their neighbours' line are left out).
  from mlperf_logging.rcp_checker import rcp_checker  # pylint: disable=import-outside-toplevel
  pruned = sorted(r['BS'] for r in rcp_checker.RCP_Checker(
      'training', '1.1.0', 'resnet', False).pruned_rcp_data.values())
  lo = max(b for b in pruned if b < 6000)
  hi = min(b for b in pruned if b > 6000)
  mid = convergence.mean_to_converge('resnet', 6000)
  assert mid.how == 'interpolated'
  assert mid.mean_epoch_num == pytest.approx(np.interp(
      6000, [lo, hi], [_olympic(recs[lo]), _olympic(recs[hi])]))
  assert 35 < mid.mean_epoch_num < 56
  assert convergence.mean_to_converge('resnet', 10**6).how == 'extrapolated'
  with pytest.raises(ValueError, match='no RCPs'):
    convergence.mean_to_converge('minigo', 1024)


@pytest.fixture(scope='module')
def mini_resnet():
  wl = workloads.get('resnet', 'mini', synthetic=True)
  return wl, wl.resolve_hparams({'global_batch_size': '32'})


_EIGHT = {'data': 8, 'fsdp': 1, 'tensor': 1}


@functools.lru_cache(maxsize=None)
def _compiled_eight_cached(wl, batch):
  hp = wl.resolve_hparams({'global_batch_size': str(batch)})
  return pr.step_cost(wl, hp, _EIGHT, batch, compile=True, cache=False)


def _compiled_eight(wl, hp):
  return _compiled_eight_cached(wl, int(hp['global_batch_size']))


def test_per_device_cost_does_not_depend_on_the_data_axis(mini_resnet):
  """The premise of compiling on 8 devices for any chip count: at the same
  per-device batch, per-device FLOPs and gradient-reduction bytes are the
  same on 4 and 8 data shards."""
  wl, hp = mini_resnet
  four = pr.step_cost(wl, dict(hp, global_batch_size=16),
                      {'data': 4, 'fsdp': 1, 'tensor': 1}, 16, compile=True,
                      cache=False)
  eight = _compiled_eight(wl, hp)
  assert four.per_device_batch == eight.per_device_batch == 4
  assert four.flops == pytest.approx(eight.flops, rel=1e-6)
  assert four.flops > 0
  data = lambda c: sum(x.bytes for x in c.collectives if x.axes == ('data',))
  assert data(four) == data(eight) > 0
  # The gradient all-reduce carries every parameter once (float32 grads).
  params = sum(math.prod(p.shape) for p in jax.tree.leaves(
      jax.eval_shape(lambda r: wl.init(r, hp), jax.random.PRNGKey(0))[0]))
  assert data(eight) >= 4 * params


def test_prediction_arithmetic(mini_resnet):
  wl, hp = mini_resnet
  hp = dict(hp, global_batch_size=32)
  ar = coll.Collective('all-reduce', 10**8, (tuple(range(8)),), ('data',))
  cost = pr.StepCost(flops=3e12, bytes_accessed=1e9, collectives=(ar,),
                     compile_mesh={'data': 8, 'fsdp': 1, 'tensor': 1},
                     per_device_batch=4, state_bytes=1, temp_bytes=1,
                     param_count=1)
  system = systems.parse_system('a100-8')
  p = pr.predict(wl, hp, system, efficiency=0.5, cost=cost,
                 ruleset='1.1.0')
  assert p.compute_s == pytest.approx(3e12 / 312e12 / 0.5)
  assert p.data_comm_s == pytest.approx(2 * 7 / 8 * 1e8 / 300e9)
  assert p.step_s == pytest.approx(max(p.compute_s, p.data_comm_s))
  spe = wl.steps_per_epoch(hp)
  assert p.steps % spe == 0 and p.steps / spe >= p.conv.mean_epoch_num
  assert p.time_to_train_s == pytest.approx(p.steps * p.step_s + p.eval_s)
  # Across nodes the all-reduce pays InfiniBand for the 1/8 shard.
  big = pr.predict(wl, dict(hp, global_batch_size=256),
                   systems.parse_system('a100-64'), efficiency=0.5,
                   cost=cost, ruleset='1.1.0')
  assert big.data_comm_s == pytest.approx(
      2 * 7 / 8 * 1e8 / 300e9 + 2 * 7 / 8 * 1e8 / 8 / 25e9)


def test_cli_rejects_bad_input_with_every_problem():
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.plan', '--workload', 'resnet',
       '--system', 'v100-8', '--sweep', '8,x', '--efficiency', '2'],
      capture_output=True, text=True, check=False)
  assert proc.returncode == 2
  for text in ('unknown system', '--sweep', '--efficiency'):
    assert text in proc.stderr
  assert 'Traceback' not in proc.stderr


def test_lowered_cost_matches_the_compiled_step(mini_resnet):
  """The fast path (FLOPs from the lowered step, the gradient all-reduce
  from the parameters) against the partitioned, compiled step. FLOPs agree
  to a few % on this tiny model (XLA:CPU's compiled step adds replicated
  scalar and per-channel work); 0.6 % on the reference ResNet-50."""
  wl, hp = mini_resnet
  fast = pr.step_cost(wl, hp, _EIGHT, 32, cache=False)
  full = _compiled_eight(wl, hp)
  assert not fast.compiled and full.compiled and fast.temp_bytes is None
  assert fast.flops == pytest.approx(full.flops, rel=0.05)
  data = lambda c: sum(x.bytes for x in c.collectives if x.axes == ('data',))
  # Compiled: the gradient all-reduce plus BatchNorm statistics (per channel).
  assert data(fast) <= data(full) <= 1.05 * data(fast)
  assert fast.state_bytes == full.state_bytes
  assert fast.param_count == full.param_count


def test_cost_cache_round_trip_and_key(mini_resnet, tmp_path, monkeypatch):
  wl, hp = mini_resnet
  monkeypatch.setenv('MLPERF_JAX_PLAN_CACHE', str(tmp_path))
  ar = coll.Collective('all-reduce', 123, ((0, 1), (2, 3)), ('data',))
  fields = dict(flops=1.5e9, bytes_accessed=2.0, collectives=(ar,),
                compile_mesh=dict(_EIGHT), state_bytes=7, temp_bytes=None,
                param_count=3, compiled=False)
  calls = []
  monkeypatch.setattr(abstract_step, 'measure',
                      lambda *a, **k: calls.append(1) or dict(fields))
  first = pr.step_cost(wl, hp, _EIGHT, 32)
  second = pr.step_cost(wl, hp, _EIGHT, 32)
  assert calls == [1] and first == second
  assert second.collectives == (ar,)
  k = cost_cache.key(wl, hp, _EIGHT, False)
  assert k != cost_cache.key(wl, dict(hp, global_batch_size=64), _EIGHT, False)
  assert k != cost_cache.key(wl, hp, _EIGHT, True)
  assert k != cost_cache.key(wl, hp, dict(_EIGHT, data=4), False)


def test_minigo_generations_arithmetic():
  wl = workloads.get('minigo', 'reference', synthetic=True)
  hp = wl.resolve_hparams({}, division='open')
  batch = int(hp['train_batch_size'])
  cost = pr.StepCost(flops=1e12, bytes_accessed=0.0, collectives=(),
                     compile_mesh=dict(_EIGHT), per_device_batch=batch // 8,
                     state_bytes=1, temp_bytes=None, param_count=1,
                     compiled=False, forward_flops=2e9)
  system = systems.parse_system('a100-8')
  p = pr.predict(wl, hp, system, efficiency=0.5, cost=cost, ruleset='1.1.0')
  c = wl.loop_config
  gens = round(selfplay.GENERATIONS['1.1.0'])
  assert p.evals == gens
  plies = 250.0                      # 19x19
  searches = 0.75 * 80 + 0.25 * 800 + 1
  per_gen = c.games_per_generation * plies * searches * 2e9
  assert p.selfplay_s == pytest.approx(gens * per_gen / (8 * 312e12 * 0.5))
  # Steps: 30 % of the last 5 generations' positions, in batches.
  want = sum(min(c.max_steps_per_generation,
                 int(round(0.3 * 8192 * plies * min(g, 5))) // batch)
             for g in range(1, gens + 1))
  assert p.steps == want
  assert p.time_to_train_s == pytest.approx(
      p.steps * p.step_s + p.eval_s + p.selfplay_s)
  with pytest.raises(ValueError, match='generations'):
    pr.predict(wl, hp, system, efficiency=0.5, cost=cost, ruleset='2.1.0')


def test_cli_plans_minigo(tmp_path):
  env = dict(os.environ, MLPERF_JAX_PLAN_CACHE=str(tmp_path))
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.plan', '--workload', 'minigo',
       '--system', 'a100-8'], capture_output=True, text=True, check=False,
      env=env)
  assert proc.returncode == 0, proc.stderr
  assert 'generations' in proc.stdout and 'self-play' in proc.stdout
  assert 'predicted time-to-train' in proc.stdout
  assert len(os.listdir(tmp_path)) == 1   # the cost entry


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(workloads.names()))
def test_cli_plans_every_reference_workload(name, tmp_path):
  env = dict(os.environ, MLPERF_JAX_PLAN_CACHE=str(tmp_path))
  # 3D U-Net's reference batch (2) does not split over 8 GPUs.
  extra = ['--set', 'global_batch_size=8'] if name == 'unet3d' else []
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.plan', '--workload', name,
       '--system', 'a100-8', *extra], capture_output=True, text=True,
      check=False, env=env)
  assert proc.returncode == 0, proc.stderr
  assert 'predicted time-to-train' in proc.stdout
