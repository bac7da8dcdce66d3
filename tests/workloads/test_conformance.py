# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""What every registered workload and variant must satisfy.

A new workload gets these checks by registering: the batch spec equals what
its pipelines yield, eval covers exactly `eval_samples`, parameters carry
labels the optimizers understand, sharded training equals one device, the
same seed gives the same losses, the mini target is reached by a real run
whose log passes the mini ruleset, and the mini YAML agrees with the
variant.
"""

import os
import re

import jax
import numpy as np
import pytest
import yaml

from mlperf_jax import compliance
from mlperf_jax import workloads
from mlperf_jax.api import HostShard
from mlperf_jax.hparams import registry
from mlperf_jax.runtime import loop
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps as steps_lib

CASES = [(name, scale) for name in workloads.names()
         for scale in sorted(workloads.get_class(name).variants)]
MINI = [name for name, scale in CASES if scale == 'mini']


def _training_params(slow=frozenset()):
  """MINI, with the workloads whose training cannot fit the CI budget on 2
  cores marked slow: those in `slow`, and any whose variant says so
  (extra['slow_mini']); their training tests run under -m slow."""
  out = []
  for name in MINI:
    heavy = name in slow or workloads.get_class(name).variants['mini'].extra.get(
        'slow_mini')
    out.append(pytest.param(name, marks=pytest.mark.slow) if heavy else name)
  return out


def _workload(name, scale):
  # The reference variants read no data here: synthetic batches of the
  # reference shapes stand in for the dataset.
  return workloads.get(name, scale, synthetic=(scale == 'reference'))


def _small_hp(wl):
  """The variant's hyperparameters; reference batches cut to 8 (a CPU).
  MiniGo names its batch `train_batch_size` (closed_minigo.yaml)."""
  if wl.scale == 'reference':
    keys = {h.key for h in wl.hparams(wl.default_opt_name())}
    key = 'global_batch_size' if 'global_batch_size' in keys else (
        'train_batch_size')
    return wl.resolve_hparams({key: '8'}, division='open')
  return wl.resolve_hparams()


@pytest.mark.parametrize('name,scale', CASES)
def test_variant_is_complete(name, scale):
  wl = workloads.get(name, scale)
  v = wl.variant
  assert v.scale == scale
  assert v.benchmark == (name if v.is_result else f'mini_{name}') or (
      not v.is_result and v.benchmark.startswith('mini_'))
  assert v.num_runs >= 2 * v.olympic_drop + 1
  assert v.rulesets, 'compliance and check need the rulesets'
  assert ('mini' in v.rulesets) == (not v.is_result)
  assert v.needs_data_dir == v.is_result
  assert v.eval_samples > 0 and v.max_epochs >= 1
  assert workloads.by_benchmark(v.benchmark) == (type(wl), v)
  assert wl.default_opt_name() in wl.optimizer_names()
  # The variant's defaults are legal in the closed division, and each names
  # a hyperparameter of one of the workload's optimizers.
  wl.resolve_hparams()
  known = {h.key for opt in wl.optimizer_names() for h in wl.hparams(opt)}
  assert set(v.defaults) <= known, set(v.defaults) - known


@pytest.mark.parametrize('name,scale', CASES)
def test_batch_spec_equals_what_the_pipelines_yield(name, scale):
  wl = _workload(name, scale)
  hp = _small_hp(wl)
  for train in (True, False):
    for bucket in wl.buckets(hp, train=train):
      spec = wl.batch_spec(hp, train=train, bucket=bucket)
      batches = (wl.train_batches(hp, seed=0, host=HostShard()) if train
                 else iter(wl.eval_batches(hp, host=HostShard())))
      batch = next(batches)
      assert set(batch) == set(spec), (train, sorted(batch), sorted(spec))
      for k, s in spec.items():
        assert batch[k].shape == s.shape, (train, k)
        assert np.dtype(batch[k].dtype) == np.dtype(s.dtype), (train, k)
      assert ('mask' in spec) == (not train)


@pytest.mark.parametrize('name', MINI)
def test_eval_covers_exactly_eval_samples(name):
  wl = workloads.get(name, 'mini')
  hp = wl.resolve_hparams()
  masks = [b['mask'] for b in wl.eval_batches(hp, host=HostShard())]
  assert sum(float(m.sum()) for m in masks) == wl.variant.eval_samples
  assert all(set(np.unique(m)) <= {0.0, 1.0} for m in masks)
  # Two hosts split every batch and together still see each sample once.
  halves = [sum(float(b['mask'].sum())
                for b in wl.eval_batches(hp, host=HostShard(i, 2)))
            for i in range(2)]
  assert sum(halves) == wl.variant.eval_samples


@pytest.mark.parametrize('name,scale', CASES)
def test_every_parameter_has_a_label(name, scale):
  wl = _workload(name, scale)
  hp = _small_hp(wl)
  boxed, _ = jax.eval_shape(lambda r: wl.init(r, hp),
                            jax.ShapeDtypeStruct((2,), np.uint32))
  import flax  # pylint: disable=import-outside-toplevel
  params = flax.linen.meta.unbox(boxed)
  labels = jax.tree.leaves(wl.param_labels(params))
  assert len(labels) == len(jax.tree.leaves(params))
  assert set(labels) <= set(registry.PARAM_LABELS)
  assert registry.KERNEL in labels
  if wl.variant.log_init_tensors:
    names = wl.init_tensor_names(boxed)
    assert names and len(names) == len(set(names))


def _losses(wl, hp, mesh, steps=3, seed=0):
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  c = steps_lib.build(wl, tx, hp, mesh, compile_eval=False)
  state = c.init(jax.random.PRNGKey(seed))
  it = wl.train_batches(hp, seed=seed, host=HostShard())
  losses = []
  for _ in range(steps):
    state, m = c.train_step(state, shd.host_to_global(next(it),
                                                      c.batch_sharding))
    losses.append(float(m['loss']))
  return losses, jax.device_get(state.params)


# The mini 3D U-Net's steps cost minutes of 2-core CPU on 8 fake devices
# (XLA:CPU 3D convolutions, even decomposed): its sharded check runs with
# -m slow; its model and eval pieces are tested fast elsewhere.
@pytest.mark.parametrize('name', _training_params(slow={'unet3d'}))
def test_sharded_equals_one_device_and_seeds_repeat(name):
  wl = workloads.get(name, 'mini')
  hp = wl.resolve_hparams()
  one = shd.make_mesh('data=1', devices=jax.devices()[:1])
  ref_losses, ref_params = _losses(wl, hp, one)
  again, _ = _losses(wl, hp, one)
  other_seed, _ = _losses(wl, hp, one, seed=1)
  assert again == ref_losses  # bit-identical on CPU
  assert other_seed != ref_losses
  # The loss must move, or equality would prove nothing.
  assert abs(ref_losses[-1] - ref_losses[0]) > 1e-4
  losses, params = _losses(wl, hp, shd.make_mesh('data=8'))
  np.testing.assert_allclose(losses, ref_losses, rtol=1e-4, atol=1e-5)
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(ref_params)):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


# MiniGo's mini run (self-play generations until it beats the shipped
# target) takes several minutes on 2 cores, and the mini 3D U-Net's (~250
# steps of 3D convolutions, ~40 CPU-s with a warm compilation cache) does
# not fit the default suite's headroom: they run with -m slow, and their
# components are tested fast in tests/workloads/test_{minigo,unet3d}_workload.py.
@pytest.mark.parametrize('name', _training_params(slow={'minigo', 'unet3d'}))
def test_mini_target_reached_and_log_passes_mini_ruleset(name, mini_run):
  run = mini_run(name)
  wl = workloads.get(name, 'mini')
  target = wl.variant.target
  assert run.proc.returncode == 0, run.output()
  assert 'run_stop status: success' in run.proc.stdout
  assert 'not an MLPerf result' in run.proc.stdout
  assert 'input pipeline: ' in run.proc.stdout  # input- or compute-bound
  recs = run.records()
  stop = [r for r in recs if r['key'] == 'run_stop']
  assert stop[0]['metadata']['status'] == 'success'
  accs = [r['value'] for r in recs if r['key'] == 'eval_accuracy']
  assert target.reached(accs[-1])
  assert not any(target.reached(a) for a in accs[:-1])
  assert any(r['key'] == 'mlperf_jax_notice' for r in recs)
  values = {r['key']: r['value'] for r in recs}
  assert values['submission_benchmark'] == wl.variant.benchmark
  assert values['eval_samples'] == wl.variant.eval_samples
  result = compliance.check(str(run.log))
  assert result.passed, result.output


def _yaml_constant(entries, key, field='CHECK'):
  for e in entries:
    k = e.get('KEY', {})
    if k.get('NAME') == key and field in k:
      return k[field]
  return None


@pytest.mark.parametrize('name', MINI)
def test_mini_yaml_constants_match_the_variant(name):
  v = workloads.get(name, 'mini').variant
  path = os.path.join(compliance.RULES_DIR, f'{v.benchmark}.yaml')
  entries = yaml.safe_load(open(path))
  target = _yaml_constant(entries, 'eval_accuracy', 'ATLEAST_ONE_CHECK')
  op = '>=' if v.target.higher_is_better else '<='
  if 'targets' in v.extra:   # a dict-valued eval_accuracy (Mask R-CNN)
    for key, value in v.extra['targets'].items():
      assert f"v['value']['{key}'] {op} {value} " in target
  else:
    assert f"v['value'] {op} {v.target.value} " in target
  for key in ('train_samples', 'eval_samples'):
    check = _yaml_constant(entries, key)
    if check is not None and '==' in check:
      assert int(re.search(r'==\s*(\d+)', check).group(1)) == getattr(v, key)
