# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""DLRM served from the reference `DLRM_Net` state dict, in the form of
MLPerf Inference's `tb00_40M.pt` (a `torch.save` checkpoint dict holding
'state_dict'), written here without torch (`support/torch_checkpoint_writer`).

Numerics: the mini DLRM's click probabilities against a NumPy transcription
of `DLRM_Net.forward` computed from the state dict itself (torch layouts).
Full scale: the reference's names and shapes checked through
`jax.eval_shape`.
"""

import collections
import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import torch_checkpoint_writer as tw

from mlperf_jax.inference import run as inference_run
from mlperf_jax.models import dlrm as dlrm_model
from mlperf_jax.models import dlrm_reference_weights as refw
from mlperf_jax.workloads import dlrm as dlrm_workload


def _reference_shapes(rows, dim, bottom, top, num_dense=13):
  """DLRM_Net's state-dict shapes, spelled out as `create_emb` /
  `create_mlp` make them (Linears at even Sequential indices)."""
  shapes = {f'emb_l.{t}.weight': (n, dim) for t, n in enumerate(rows)}
  n = len(rows) + 1
  for name, widths in (('bot_l', [num_dense, *bottom]),
                       ('top_l', [dim + n * (n - 1) // 2, *top])):
    for k in range(len(widths) - 1):
      shapes[f'{name}.{2 * k}.weight'] = (widths[k + 1], widths[k])
      shapes[f'{name}.{2 * k}.bias'] = (widths[k + 1],)
  return shapes


def _random_state(shapes, rng):
  return collections.OrderedDict(
      (k, rng.normal(0, 0.3, s).astype(np.float32)) for k, s in shapes.items())


def _numpy_dlrm_net(state, dense, sparse):
  """`DLRM_Net.forward` (dot interaction, no self-interaction, sigmoid on
  the last top layer) over a state dict."""
  def mlp(x, prefix, sigmoid_last):
    ks = sorted({int(k.split('.')[1]) for k in state if k.startswith(prefix)})
    for i, k in enumerate(ks):
      x = x @ state[f'{prefix}.{k}.weight'].T + state[f'{prefix}.{k}.bias']
      last = i == len(ks) - 1
      x = 1 / (1 + np.exp(-x)) if sigmoid_last and last else np.maximum(x, 0)
    return x
  x = mlp(dense.astype(np.float64), 'bot_l', False)
  ly = [state[f'emb_l.{t}.weight'][sparse[:, t]] for t in range(sparse.shape[1])]
  t = np.stack([x] + ly, axis=1)
  z = t @ t.transpose(0, 2, 1)
  flat = [z[:, i, j] for i in range(t.shape[1]) for j in range(i)]
  return mlp(np.concatenate([x, np.stack(flat, 1)], 1), 'top_l', True)[:, 0]


def _mini_cfg(wl):
  return wl.model_config(wl.resolve_hparams())


def test_mini_dlrm_serves_the_reference_state_dict(tmp_path):
  wl = dlrm_workload.DlrmWorkload('mini')
  cfg = _mini_cfg(wl)
  rng = np.random.default_rng(0)
  state = _random_state(_reference_shapes(
      cfg.table_rows, cfg.embedding_dim, cfg.bottom_mlp, cfg.top_mlp), rng)
  path = tmp_path / 'tb00_40M.pt'
  tw.save_legacy({'state_dict': state, 'epoch': 0, 'iter': 7, 'nepochs': 1,
                  'nbatches': 7, 'test_acc': 0.79}, str(path))
  params, model_state = wl.load_serving_checkpoint(str(path))
  assert model_state == {}
  b = 64
  dense = rng.normal(0, 1, (b, 13)).astype(np.float32)
  sparse = np.stack([rng.integers(0, n, b) for n in cfg.table_rows],
                    1).astype(np.int32)
  got = jax.jit(lambda p, d, s: wl.predict(
      p, {}, {'dense': d, 'sparse': s, 'offsets': jnp.zeros(2, jnp.int32)},
      wl.resolve_hparams())['score'])(params, dense, sparse)
  want = _numpy_dlrm_net(state, dense, sparse)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
  assert want.std() > 0.05  # the scores are not saturated


def test_tables_land_at_the_plans_offsets_on_four_shards():
  # One table far larger than the rest goes row-wise, the others table-wise.
  rows = (20_000,) + _mini_cfg(dlrm_workload.DlrmWorkload('mini')).table_rows[1:]
  cfg = dataclasses.replace(_mini_cfg(dlrm_workload.DlrmWorkload('mini')),
                            table_rows=rows, num_shards=4, plan_mode='auto')
  plan = cfg.plan
  assert plan.row_tables and plan.table_offsets  # both groups used
  state = _random_state(_reference_shapes(
      cfg.table_rows, cfg.embedding_dim, cfg.bottom_mlp, cfg.top_mlp),
      np.random.default_rng(1))
  shapes = jax.eval_shape(lambda d, s: dlrm_model.Dlrm(cfg).init(
      jax.random.PRNGKey(0), d, s),
      jax.ShapeDtypeStruct((4, 13), jnp.float32),
      jax.ShapeDtypeStruct((4, cfg.num_tables), jnp.int32))['params']
  params = refw.import_state_dict(state, cfg, shapes)
  emb = params['embeddings']
  for t, o in zip(plan.row_tables, plan.row_offsets):
    np.testing.assert_array_equal(
        emb['embedding_row'][o:o + cfg.table_rows[t]], state[f'emb_l.{t}.weight'])
  for t, o in plan.table_offsets.items():
    np.testing.assert_array_equal(
        emb['embedding_table'][o:o + cfg.table_rows[t]],
        state[f'emb_l.{t}.weight'])
  stored = sum(cfg.table_rows) * cfg.embedding_dim
  assert np.count_nonzero(emb['embedding_row']) + np.count_nonzero(
      emb['embedding_table']) == stored  # padding rows stay zero
  np.testing.assert_array_equal(params['top_mlp']['top_mlp_dense3']['kernel'],
                                state['top_l.4.weight'].T)


def test_full_scale_names_and_shapes_through_eval_shape():
  wl = dlrm_workload.DlrmWorkload('reference')
  cfg = wl.model_config(wl.resolve_hparams(), num_shards=1)
  want = _reference_shapes(
      tuple(min(r, 40_000_000) for r in dlrm_model.CRITEO_1TB_ROWS), 128,
      (512, 256, 128), (1024, 1024, 512, 256, 1))
  assert refw.reference_keys(cfg) == want
  assert len(want) == 26 + 2 * (3 + 5)
  assert sum(int(np.prod(s)) for s in want.values()) == (
      cfg.reference_param_count())
  refw.check_state_dict(
      {k: jax.ShapeDtypeStruct(s, jnp.float32) for k, s in want.items()}, cfg)
  shapes = jax.eval_shape(lambda d, s: dlrm_model.Dlrm(cfg).init(
      jax.random.PRNGKey(0), d, s),
      jax.ShapeDtypeStruct((1, 13), jnp.float32),
      jax.ShapeDtypeStruct((1, 26), jnp.int32))['params']
  mlp = refw._mlp_keys(cfg, shapes)  # pylint: disable=protected-access
  assert mlp[('bottom_mlp', 'bottom_mlp_dense3', 'kernel')] == 'bot_l.4.weight'
  assert mlp[('top_mlp', 'top_mlp_dense5', 'bias')] == 'top_l.8.bias'
  for path, key in mlp.items():
    leaf = shapes[path[0]][path[1]][path[2]]
    shape = tuple(leaf.value.shape if hasattr(leaf, 'value') else leaf.shape)
    assert shape == (want[key][::-1] if path[-1] == 'kernel' else want[key])


def test_mismatches_are_named(tmp_path):
  wl = dlrm_workload.DlrmWorkload('mini')
  cfg = _mini_cfg(wl)
  shapes = _reference_shapes(cfg.table_rows, cfg.embedding_dim,
                             cfg.bottom_mlp, cfg.top_mlp)
  state = _random_state(shapes, np.random.default_rng(2))
  state['emb_l.0.weight'] = state['emb_l.0.weight'][:10]
  del state['top_l.2.bias']
  state['emb_l.26.weight'] = np.zeros((3, cfg.embedding_dim), np.float32)
  path = tmp_path / 'bad.pt'
  tw.save_zip({'state_dict': state}, str(path))
  with pytest.raises(inference_run.InferenceInputError) as e:
    inference_run.trained_params(wl, str(path))
  msg = str(e.value)
  assert 'missing top_l.2.bias [32]' in msg
  assert 'unexpected emb_l.26.weight [3, 16]' in msg
  assert 'emb_l.0.weight: shape [10, 16], this DLRM needs [1000, 16]' in msg
  assert 'max_ind_range' in msg


def test_tensor_parallel_serving_splits_the_tables_and_matches_one_device(
    tmp_path):
  """`infer --tensor-parallel N` for DLRM: the reference weights' tables
  split by rows over all (here 8 fake CPU) devices, the model's shard_map
  lookup traced under the mesh; the same scores as unsharded."""
  from mlperf_jax.api import InferenceSpec  # pylint: disable=import-outside-toplevel
  from mlperf_jax.inference import tensor_parallel  # pylint: disable=import-outside-toplevel
  wl = dlrm_workload.DlrmWorkload('mini')
  n = jax.device_count()
  assert n > 1
  cfg = _mini_cfg(wl)
  assert cfg.plan.num_shards == n
  rng = np.random.default_rng(3)
  state = _random_state(_reference_shapes(
      cfg.table_rows, cfg.embedding_dim, cfg.bottom_mlp, cfg.top_mlp), rng)
  path = tmp_path / 'tb00_40M.pt'
  tw.save_zip({'state_dict': state}, str(path))
  params, model_state = wl.load_serving_checkpoint(str(path))
  hp = wl.resolve_hparams()
  predict = lambda p, s, b: wl.predict(p, s, b, hp)
  b = 32
  batch = {'dense': rng.normal(0, 1, (b, 13)).astype(np.float32),
           'sparse': np.stack([rng.integers(0, r, b) for r in cfg.table_rows],
                              1).astype(np.int32),
           'offsets': np.array([0, b], np.int32)}
  want = np.asarray(jax.jit(predict)(params, model_state, batch)['score'])
  spec = InferenceSpec(count=1, performance_count=1, load_sample=None,
                       buckets=None, predict=predict, encode=None,
                       accuracy=None, metric='auc')
  spec, sharded, state_on_mesh, note = tensor_parallel.for_workload(
      wl, spec, params, model_state, n)
  assert f'over {n} devices' in note
  for table in jax.tree.leaves(sharded['embeddings']):
    assert len(table.sharding.device_set) == n
    assert {s.data.shape[0] for s in table.addressable_shards} == {
        table.shape[0] // n}
  # The lookup runs on each device's rows and adds the placed vectors (an
  # all-reduce over 'tensor'); no table is gathered whole.
  lowered = jax.jit(spec.predict).lower(sharded, state_on_mesh, batch)
  assert 'sdy.manual_computation' in lowered.as_text()  # the shard_map
  hlo = lowered.compile().as_text()
  assert re.search(r' all-reduce(-start)?\(', hlo)
  rows = {t.shape[0] for t in jax.tree.leaves(sharded['embeddings'])}
  for line in hlo.splitlines():
    if 'all-gather(' in line:
      shape = re.search(r'\[([\d,]+)\]', line.split('=')[1])
      assert not shape or int(shape.group(1).split(',')[0]) not in rows, line
  got = np.asarray(spec.predict(sharded, state_on_mesh, batch)['score'])
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(got, _numpy_dlrm_net(
      state, batch['dense'], batch['sparse']), rtol=1e-4, atol=1e-6)
  with pytest.raises(ValueError, match=f'use --tensor-parallel {n}'):
    tensor_parallel.for_workload(wl, spec, params, model_state, 2)
