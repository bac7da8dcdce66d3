# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""DLRM model: reference shapes and parameter count, init, forward against
NumPy, and sharded (model-parallel) equivalence with one device."""

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.models import dlrm_embedding as ep
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.models import dlrm

# facebookresearch/dlrm (mlperf) ln_emb for --max-ind-range=40000000.
REF_ROWS = [39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951,
            2953546, 403346, 10, 2208, 11938, 155, 4, 976, 14, 39979771,
            25641295, 39664984, 585935, 12972, 108, 36]


def _dense_count():
  n = 0
  for widths in ([13, 512, 256, 128], [128 + 27 * 26 // 2, 1024, 1024, 512,
                                       256, 1]):
    n += sum(a * b + b for a, b in zip(widths, widths[1:]))
  return n


def _abstract(cfg, batch=2):
  return nn.meta.unbox(jax.eval_shape(
      lambda r: dlrm.Dlrm(cfg).init(r, jnp.zeros((batch, 13)),
                                    jnp.zeros((batch, 26), jnp.int32)),
      jax.random.PRNGKey(0)))['params']


def test_reference_parameter_count_and_shapes():
  cfg = dlrm.reference_config()
  assert list(cfg.table_rows) == REF_ROWS
  assert cfg.interaction_width == 479
  p = _abstract(cfg)
  assert p['bottom_mlp']['bottom_mlp_dense1']['kernel'].shape == (13, 512)
  assert p['bottom_mlp']['bottom_mlp_dense3']['kernel'].shape == (256, 128)
  assert p['top_mlp']['top_mlp_dense1']['kernel'].shape == (479, 1024)
  assert p['top_mlp']['top_mlp_dense5']['kernel'].shape == (256, 1)
  dense = sum(np.prod(a.shape) for k, v in p.items() if k != 'embeddings'
              for a in jax.tree.leaves(v))
  assert dense == _dense_count() == 2_368_897
  # One device: one fused array holding every table (+ alignment padding).
  emb = p['embeddings']['embedding_table'].shape
  assert emb == (ep._align(sum(REF_ROWS)), 128)
  assert sum(REF_ROWS) * 128 + dense == 24_036_595_969
  assert cfg.reference_param_count() == 24_036_595_969
  # Per-table segments of the plan: the reference's (rows, 128) tables.
  plan = cfg.plan
  segs = sorted((plan.table_offsets[t], plan.table_rows[t]) for t in range(26))
  assert [r for _, r in sorted(zip(
      [plan.table_offsets[t] for t in range(26)], REF_ROWS))] == [
          r for _, r in segs]
  for (o1, r1), (o2, _) in zip(segs, segs[1:]):
    assert o1 + r1 <= o2


def test_reference_plan_on_8_shards_splits_big_tables_rowwise():
  plan = dlrm.reference_config(num_shards=8).plan
  big = {t for t, r in enumerate(REF_ROWS) if r > 1_000_000}
  assert big <= set(plan.row_tables)
  assert set(plan.row_tables) | set(plan.table_offsets) == set(range(26))
  assert plan.row_shard_rows * 8 >= sum(REF_ROWS[t] for t in plan.row_tables)
  assert plan.padded_rows < 1.01 * sum(REF_ROWS)


def test_planner_modes():
  rows = [100] * 8
  assert ep.plan_embeddings(rows, 8).row_tables == ()  # balanced: table-wise
  assert len(ep.plan_embeddings([10**6] + rows, 8).row_tables) == 1
  assert ep.plan_embeddings(rows, 8, mode='row').table_offsets == {}
  with pytest.raises(ValueError, match='mode'):
    ep.plan_embeddings(rows, 8, mode='x')


def test_interaction_pairs_reference_order():
  li, lj = dlrm.interaction_pairs(4)
  assert list(zip(li, lj)) == [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]


SMALL_ROWS = (1000, 37, 5000, 3, 200, 800, 12, 4000) + (50,) * 18


def _small(mode='auto', shards=8):
  return dlrm.DlrmConfig(table_rows=SMALL_ROWS, embedding_dim=8,
                         bottom_mlp=(16, 8), top_mlp=(16, 1),
                         num_shards=shards, plan_mode=mode)


def _inputs(b=32, seed=0):
  rng = np.random.default_rng(seed)
  dense = rng.random((b, 13)).astype(np.float32)
  sparse = np.stack([rng.integers(0, r, b) for r in SMALL_ROWS], 1)
  return dense, sparse.astype(np.int32), rng.integers(0, 2, b).astype(
      np.float32)


def _tables(cfg, params):
  """Per-table [rows, dim] arrays cut out of the fused ones."""
  plan, emb = cfg.plan, params['embeddings']
  out = {}
  for i, t in enumerate(plan.row_tables):
    o = plan.row_offsets[i]
    out[t] = np.asarray(emb['embedding_row'])[o:o + plan.table_rows[t]]
  for t, o in plan.table_offsets.items():
    out[t] = np.asarray(emb['embedding_table'])[o:o + plan.table_rows[t]]
  return out


def test_init_distributions_and_forward_against_numpy():
  cfg = _small()
  dense, sparse, _ = _inputs()
  params = nn.meta.unbox(dlrm.Dlrm(cfg).init(jax.random.PRNGKey(1), dense,
                                             sparse))
  tables = _tables(cfg, params['params'])
  for t, w in tables.items():
    bound = np.sqrt(1.0 / SMALL_ROWS[t])
    assert np.abs(w).max() <= bound + 1e-7
    if w.size > 2000:
      assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
  k = np.asarray(params['params']['top_mlp']['top_mlp_dense1']['kernel'])
  assert abs(k.std() - np.sqrt(2 / sum(k.shape))) < 0.1 * np.sqrt(
      2 / sum(k.shape))
  # NumPy forward of the reference equations.
  p = jax.tree.map(np.asarray, params['params'])
  x = dense
  for name in ('bottom_mlp_dense1', 'bottom_mlp_dense2'):
    x = np.maximum(x @ p['bottom_mlp'][name]['kernel'] +
                   p['bottom_mlp'][name]['bias'], 0)
  ly = [tables[t][sparse[:, t]] for t in range(len(SMALL_ROWS))]
  tt = np.stack([x] + ly, 1)
  z = tt @ tt.transpose(0, 2, 1)
  li, lj = dlrm.interaction_pairs(len(SMALL_ROWS) + 1)
  r = np.concatenate([x, z[:, li, lj]], 1)
  h = np.maximum(r @ p['top_mlp']['top_mlp_dense1']['kernel'] +
                 p['top_mlp']['top_mlp_dense1']['bias'], 0)
  logit = (h @ p['top_mlp']['top_mlp_dense2']['kernel'] +
           p['top_mlp']['top_mlp_dense2']['bias'])[:, 0]
  got = dlrm.Dlrm(cfg).apply(params, dense, sparse)
  np.testing.assert_allclose(got, logit, rtol=2e-5, atol=2e-5)


def _loss_fn(cfg):
  def loss(p, d, s, y):
    lg = dlrm.Dlrm(cfg).apply(p, d, s)
    return jnp.mean(jnp.maximum(lg, 0) - lg * y + jnp.log1p(
        jnp.exp(-jnp.abs(lg))))
  return loss


@pytest.mark.parametrize('mode,mesh_spec', [
    ('auto', 'data=8'), ('row', 'data=8'), ('table', 'data=4,tensor=2')])
def test_sharded_matches_one_device_and_uses_no_table_allgather(
    mode, mesh_spec):
  cfg = _small(mode)
  dense, sparse, y = _inputs()
  boxed = dlrm.Dlrm(cfg).init(jax.random.PRNGKey(1), dense, sparse)
  params = nn.meta.unbox(boxed)
  loss = _loss_fn(cfg)
  l1, g1 = jax.jit(jax.value_and_grad(loss))(params, dense, sparse, y)
  mesh = shd.make_mesh(mesh_spec)
  psh = shd.param_shardings(boxed, mesh, dlrm.LOGICAL_AXIS_RULES)
  bs = shd.batch_sharding(mesh)
  with jax.set_mesh(mesh):
    f = jax.jit(jax.value_and_grad(loss), in_shardings=(psh, bs, bs, bs))
    lowered = f.lower(params, dense, sparse, y)
    l8, g8 = f(jax.device_put(params, psh), dense, sparse, y)
  np.testing.assert_allclose(l8, l1, rtol=1e-6)
  for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g8)):
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
  # The tables stay sharded: every table-sized value lives as one shard.
  emb = params['params']['embeddings']
  for v in jax.tree.leaves(psh['params']['embeddings']):
    assert v.spec[0] == dlrm.ALL_AXES
  hlo = lowered.compile().as_text()
  ops = set(re.findall(r' (all-to-all|all-gather|reduce-scatter|'
                       r'all-reduce)(?:-start)?\(', hlo))
  print(mode, sorted(ops))  # which collectives a step uses
  if cfg.plan.table_offsets:
    assert 'all-to-all' in ops
  if cfg.plan.row_tables:
    assert 'reduce-scatter' in ops
  for line in hlo.splitlines():
    if 'all-gather(' in line:
      shape = re.search(r'\[([\d,]+)\]', line.split('=')[1])
      dims = [int(d) for d in shape.group(1).split(',')] if shape else []
      for arr in emb.values():
        assert dims[:1] != [arr.shape[0]], line

