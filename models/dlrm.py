# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""DLRM as in the MLPerf Training v1.x reference, with sharded embeddings.

The reference is `dlrm_s_pytorch.py` of facebookresearch/dlrm (branch
`mlperf`, run by `bench/run_and_time.sh`): 13 dense features through the
bottom MLP 13-512-256-128 (ReLU after every layer); 26 categorical features
through sum-pooled one-hot embedding tables of dimension 128 whose row counts
are the Criteo-1TB unique counts after hashing with `max_ind_range`
40,000,000; a dot interaction of the 27 vectors without self-interaction
(the 351 pairs `(i, j)`, `i > j`, in the reference's order) concatenated
after the bottom-MLP output (479 values); the top MLP 479-1024-1024-512-256-1
(ReLU, then a sigmoid on the last layer); binary cross-entropy.

Initialisation as `create_mlp` / `create_emb`: dense weights
`N(0, sqrt(2 / (fan_in + fan_out)))`, biases `N(0, sqrt(1 / fan_out))`,
table `t` rows `U(-sqrt(1 / n_t), sqrt(1 / n_t))` with `n_t` its row count.

The tables are stored in the two fused arrays of an
`mlperf_jax.models.dlrm_embedding.EmbeddingPlan` (`embedding_row` and
`embedding_table`), whose rows are sharded over every device of the mesh
(logical axis `emb_rows`). Inside a mesh context the lookup is a
`jax.shard_map`: all-to-alls for the table-wise group, an id all-gather plus
a reduce-scatter of the vectors for the row-wise group; the tables are never
gathered whole. Outside one (or on one device) it is a plain gather. The MLPs
are replicated (data parallel).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from mlperf_jax.models import dlrm_embedding as ep

# Rows of the 26 Criteo-1TB tables as the reference computes them (the
# `day_fea_count.npz` of its preprocessing, `--max-ind-range=40000000`).
CRITEO_1TB_ROWS: tuple[int, ...] = (
    39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951,
    2953546, 403346, 10, 2208, 11938, 155, 4, 976, 14, 39979771, 25641295,
    39664984, 585935, 12972, 108, 36)
MAX_IND_RANGE = 40_000_000

BATCH_AXES = ('data', 'fsdp')
ALL_AXES = ('data', 'fsdp', 'tensor')
LOGICAL_AXIS_RULES = (('emb_rows', ALL_AXES), ('emb_dim', None),
                      ('mlp_in', None), ('mlp_out', None))

# The 9 `weights_initialization` tensors of the 1.1.0 ruleset.
BOTTOM_NAMES = ('bottom_mlp_dense1', 'bottom_mlp_dense2', 'bottom_mlp_dense3')
TOP_NAMES = ('top_mlp_dense1', 'top_mlp_dense2', 'top_mlp_dense3',
             'top_mlp_dense4', 'top_mlp_dense5')
EMBEDDINGS_NAME = 'embeddings'


@dataclasses.dataclass(frozen=True)
class DlrmConfig:
  """Architecture of one DLRM.

  Attributes:
    table_rows: rows of each embedding table.
    embedding_dim: width of every embedding vector (= bottom MLP output).
    bottom_mlp: widths of the bottom MLP layers (input: `num_dense`).
    top_mlp: widths of the top MLP layers (last: 1 logit).
    num_dense: dense features.
    num_shards: devices the tables are planned for.
    plan_mode: 'auto', 'row' or 'table' (see `plan_embeddings`).
    dtype: compute dtype of the MLPs and the interaction.
  """
  table_rows: tuple[int, ...] = CRITEO_1TB_ROWS
  embedding_dim: int = 128
  bottom_mlp: tuple[int, ...] = (512, 256, 128)
  top_mlp: tuple[int, ...] = (1024, 1024, 512, 256, 1)
  num_dense: int = 13
  num_shards: int = 1
  plan_mode: str = 'auto'
  dtype: Any = jnp.float32

  def __post_init__(self):
    if self.bottom_mlp[-1] != self.embedding_dim:
      raise ValueError(f'bottom MLP output {self.bottom_mlp[-1]} must equal '
                       f'the embedding dimension {self.embedding_dim}')
    if self.top_mlp[-1] != 1:
      raise ValueError('the top MLP must end in one logit')

  @property
  def num_tables(self) -> int:
    return len(self.table_rows)

  @property
  def interaction_width(self) -> int:
    n = self.num_tables + 1
    return self.embedding_dim + n * (n - 1) // 2

  @functools.cached_property
  def plan(self) -> ep.EmbeddingPlan:
    return ep.plan_embeddings(self.table_rows, self.num_shards,
                              mode=self.plan_mode)

  def dense_param_count(self) -> int:
    n, widths = 0, [self.num_dense, *self.bottom_mlp]
    for a, b in zip(widths, widths[1:]):
      n += a * b + b
    widths = [self.interaction_width, *self.top_mlp]
    for a, b in zip(widths, widths[1:]):
      n += a * b + b
    return n

  def reference_param_count(self) -> int:
    """Parameters of the unpadded model (what the reference allocates)."""
    return sum(self.table_rows) * self.embedding_dim + self.dense_param_count()


def reference_config(max_ind_range: int = MAX_IND_RANGE, num_shards: int = 1,
                     **kwargs) -> DlrmConfig:
  """The MLPerf DLRM, tables capped at `max_ind_range` rows."""
  rows = tuple(min(r, max_ind_range) for r in CRITEO_1TB_ROWS)
  return DlrmConfig(table_rows=rows, num_shards=num_shards, **kwargs)


def interaction_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
  """The reference's `li, lj`: pairs (i, j), i > j, row by row."""
  li = np.array([i for i in range(n) for _ in range(i)], np.int32)
  lj = np.array([j for i in range(n) for j in range(i)], np.int32)
  return li, lj


def _mlp_kernel_init(key, shape, dtype=jnp.float32):
  fan_in, fan_out = shape
  std = np.sqrt(2.0 / (fan_in + fan_out))
  return std * jax.random.normal(key, shape, dtype)


def _mlp_bias_init(key, shape, dtype=jnp.float32):
  return np.sqrt(1.0 / shape[0]) * jax.random.normal(key, shape, dtype)


def _fused_init(starts: Sequence[int], sizes: Sequence[int]):
  """Uniform(+-sqrt(1/n_t)) per table segment of a fused array; 0 padding."""
  order = np.argsort(starts, kind='stable')
  starts = np.asarray(starts, np.int64)[order]
  sizes = np.asarray(sizes, np.int64)[order]

  def init(key, shape, dtype=jnp.float32):
    rows = jnp.arange(shape[0], dtype=jnp.int32)
    seg = jnp.searchsorted(jnp.asarray(starts, jnp.int32), rows,
                           side='right') - 1
    seg = jnp.clip(seg, 0, len(starts) - 1)
    inside = rows < jnp.asarray(starts + sizes, jnp.int32)[seg]
    scale = jnp.asarray(np.sqrt(1.0 / sizes), jnp.float32)[seg]
    scale = jnp.where(inside, scale, 0.0)
    u = jax.random.uniform(key, shape, dtype, -1.0, 1.0)
    return u * scale[:, None].astype(dtype)
  return init


class Embeddings(nn.Module):
  """The 26 tables as the two fused, row-sharded arrays of the plan."""
  config: DlrmConfig

  @nn.compact
  def __call__(self, ids: jax.Array) -> jax.Array:
    cfg, plan = self.config, self.config.plan
    dim, axes = cfg.embedding_dim, ('emb_rows', 'emb_dim')
    row_arr = tab_arr = None
    if plan.row_tables:
      init = _fused_init(plan.row_offsets,
                         [plan.table_rows[t] for t in plan.row_tables])
      row_arr = self.param('embedding_row', nn.with_logical_partitioning(
          init, axes), (plan.row_array_rows, dim))
    if plan.table_offsets:
      tabs = plan.table_tables
      init = _fused_init([plan.table_offsets[t] for t in tabs],
                         [plan.table_rows[t] for t in tabs])
      tab_arr = self.param('embedding_table', nn.with_logical_partitioning(
          init, axes), (plan.table_array_rows, dim))
    return lookup(plan, row_arr, tab_arr, ids)


def _row_ids(plan: ep.EmbeddingPlan, ids: jax.Array) -> jax.Array:
  cols = np.asarray(plan.row_tables, np.int32)
  return ids[:, cols] + jnp.asarray(plan.row_offsets, ids.dtype)


def _slot_ids(plan: ep.EmbeddingPlan, ids: jax.Array) -> jax.Array:
  """[B, shards, slots] rows in the table-wise array; empty slots -> 0."""
  slots = np.asarray(plan.slots, np.int32)
  offsets = np.array([[plan.table_offsets.get(t, 0) for t in s]
                      for s in plan.slots], np.int32)
  gathered = ids[:, np.maximum(slots, 0)]
  return jnp.where(slots >= 0, gathered + offsets, 0)


def _assemble(plan: ep.EmbeddingPlan, row_vecs, slot_vecs) -> jax.Array:
  """[B, tables, dim] in table order from the two groups' outputs."""
  pieces, position = [], {}
  n = 0
  if row_vecs is not None:
    pieces.append(row_vecs)
    for i, t in enumerate(plan.row_tables):
      position[t] = i
    n = len(plan.row_tables)
  if slot_vecs is not None:
    b, shards, k, d = slot_vecs.shape
    pieces.append(slot_vecs.reshape(b, shards * k, d))
    for s, slot in enumerate(plan.slots):
      for j, t in enumerate(slot):
        if t >= 0:
          position[t] = n + s * k + j
  cat = jnp.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0]
  order = np.array([position[t] for t in range(plan.num_tables)], np.int32)
  return cat[:, order]


def _mesh_for_lookup():
  mesh = jax.sharding.get_abstract_mesh()
  if mesh is None or mesh.empty or mesh.size == 1:
    return None
  return mesh


def lookup(plan: ep.EmbeddingPlan, row_arr, tab_arr, ids: jax.Array
           ) -> jax.Array:
  """Embedding vectors [B, tables, dim] of categorical ids [B, tables].

  Ids must lie in [0, rows of their table). Inside a mesh context of more
  than one device (as `steps.build` sets) the lookup is model parallel and
  the mesh must have `plan.num_shards` devices.
  """
  ids = ids.astype(jnp.int32)
  mesh = _mesh_for_lookup()
  if mesh is None:
    row_vecs = slot_vecs = None
    if row_arr is not None:
      row_vecs = jnp.take(row_arr, _row_ids(plan, ids), axis=0)
    if tab_arr is not None:
      slot_vecs = jnp.take(tab_arr, _slot_ids(plan, ids), axis=0)
    return _assemble(plan, row_vecs, slot_vecs)
  if mesh.size != plan.num_shards:
    raise ValueError(f'the embedding plan is for {plan.num_shards} shards '
                     f'but the mesh has {mesh.size} devices')
  return _sharded_lookup(plan, mesh, row_arr, tab_arr, ids)


def _sharded_lookup(plan, mesh, row_arr, tab_arr, ids):
  sizes = dict(mesh.shape)
  n_b = sizes['data'] * sizes['fsdp']
  n_t = sizes['tensor']

  def row_part(shard, ids_local):
    s = shard.shape[0]
    gids = jax.lax.all_gather(_row_ids(plan, ids_local), BATCH_AXES, axis=0,
                              tiled=True)
    local = gids - jax.lax.axis_index(ALL_AXES) * s
    ok = (local >= 0) & (local < s)
    vecs = jnp.take(shard, jnp.where(ok, local, 0), axis=0)
    vecs = jnp.where(ok[..., None], vecs, jnp.zeros((), vecs.dtype))
    out = jax.lax.psum_scatter(vecs, BATCH_AXES, scatter_dimension=0,
                               tiled=True)
    return jax.lax.psum(out, 'tensor')

  def table_part(shard, ids_local):
    s = shard.shape[0]
    b = ids_local.shape[0]
    k = plan.slots_per_shard
    gids = _slot_ids(plan, ids_local).reshape(b, n_b, n_t, k)
    gids = jax.lax.dynamic_index_in_dim(
        gids, jax.lax.axis_index('tensor'), axis=2, keepdims=False)
    # Ids of my tables for the whole global batch: [n_b * b, 1, k].
    gids = jax.lax.all_to_all(gids, BATCH_AXES, 1, 0, tiled=True)
    local = gids - jax.lax.axis_index(ALL_AXES) * s
    vecs = jnp.take(shard, local, axis=0)
    # Back to the owners of the samples: [b, n_b, k, dim].
    vecs = jax.lax.all_to_all(vecs, BATCH_AXES, 0, 1, tiled=True)
    # Every tensor-axis device owns other tables for the same samples; a psum
    # of one-hot placed blocks (exact: it adds zeros) leaves the result
    # replicated over 'tensor', as the out_specs say.
    mine = jnp.arange(n_t) == jax.lax.axis_index('tensor')
    vecs = jnp.where(mine[None, None, :, None, None], vecs[:, :, None],
                     jnp.zeros((), vecs.dtype))
    vecs = jax.lax.psum(vecs, 'tensor')
    return vecs.reshape(b, n_b * n_t, k, vecs.shape[-1])

  def body(row_shard, tab_shard, ids_local):
    row_vecs = slot_vecs = None
    if row_shard is not None:
      row_vecs = row_part(row_shard, ids_local)
    if tab_shard is not None:
      slot_vecs = table_part(tab_shard, ids_local)
    return _assemble(plan, row_vecs, slot_vecs)

  table_spec = P(ALL_AXES, None)
  return jax.shard_map(
      body, mesh=mesh,
      in_specs=(table_spec if row_arr is not None else None,
                table_spec if tab_arr is not None else None,
                P(BATCH_AXES, None)),
      out_specs=P(BATCH_AXES, None, None))(row_arr, tab_arr, ids)


class Mlp(nn.Module):
  """Dense layers with the reference init; ReLU except a final logit."""
  widths: tuple[int, ...]
  names: tuple[str, ...]
  last_linear: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    for i, (w, name) in enumerate(zip(self.widths, self.names)):
      x = nn.Dense(
          w, dtype=self.dtype, name=name,
          kernel_init=nn.with_logical_partitioning(_mlp_kernel_init,
                                                   ('mlp_in', 'mlp_out')),
          bias_init=nn.with_logical_partitioning(_mlp_bias_init,
                                                 ('mlp_out',)))(x)
      if not (self.last_linear and i == len(self.widths) - 1):
        x = nn.relu(x)
    return x


class Dlrm(nn.Module):
  """DLRM; `__call__` returns the click logit [B] (sigmoid gives p)."""
  config: DlrmConfig

  @nn.compact
  def __call__(self, dense: jax.Array, sparse: jax.Array) -> jax.Array:
    cfg = self.config
    if len(cfg.bottom_mlp) != len(BOTTOM_NAMES) or len(cfg.top_mlp) != len(
        TOP_NAMES):
      names_b = tuple(f'bottom_mlp_dense{i + 1}'
                      for i in range(len(cfg.bottom_mlp)))
      names_t = tuple(f'top_mlp_dense{i + 1}' for i in range(len(cfg.top_mlp)))
    else:
      names_b, names_t = BOTTOM_NAMES, TOP_NAMES
    x = Mlp(cfg.bottom_mlp, names_b, last_linear=False, dtype=cfg.dtype,
            name='bottom_mlp')(dense.astype(cfg.dtype))
    ly = Embeddings(cfg, name='embeddings')(sparse)
    t = jnp.concatenate([x[:, None, :], ly.astype(cfg.dtype)], axis=1)
    z = jnp.einsum('bid,bjd->bij', t, t)
    li, lj = interaction_pairs(cfg.num_tables + 1)
    r = jnp.concatenate([x, z[:, li, lj]], axis=1)
    logit = Mlp(cfg.top_mlp, names_t, last_linear=True, dtype=cfg.dtype,
                name='top_mlp')(r)
    return logit[:, 0].astype(jnp.float32)


def init_tensor_names(params: Any) -> list[str]:
  """The 1.1.0 `weights_initialization` names of a DLRM's parameters."""
  names = set()
  for path in flat_paths(params):
    if path[0] == 'embeddings':
      names.add(EMBEDDINGS_NAME)
    else:
      names.add(path[1])
  return sorted(names)


def flat_paths(params: Any) -> list[tuple[str, ...]]:
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  return [tuple(getattr(k, 'key', str(k)) for k in path) for path, _ in flat]
