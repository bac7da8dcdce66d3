# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Placement of DLRM embedding tables on devices, and its memory cost.

The 26 Criteo tables range from 3 to 40 million rows, so no single placement
suits them all. The planner splits them into two groups, each stored as one
fused `[num_shards * rows_per_shard, dim]` array whose rows are sharded evenly
over every device of the mesh:

* **table-wise** (small tables): whole tables are packed onto devices by the
  longest-processing-time rule; a lookup sends ids to the owning device and
  the vectors back with two all-to-alls (the classic DLRM model parallelism);
* **row-wise** (large tables): tables are concatenated and the rows split
  evenly, so a 40M-row table spans devices; a lookup all-gathers the (small)
  ids, gathers locally with a mask and reduce-scatters the vectors.

Tables move from the table-wise to the row-wise group, largest first, until
the table-wise packing is balanced within `max_imbalance` or its padding is
below `max_waste` of all rows. On one device everything is table-wise, which
is a plain gather.

`estimate` gives the per-device bytes of a DLRM train step from abstract
shapes (parameters, the dense gradient XLA materialises for each table shard,
optimizer state, activations and lookup buffers); `check_fits` compares it
with the device memory and raises `MemoryBudgetError` with the numbers.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Sequence

# Fused arrays are padded so that each shard has a multiple of this many rows.
ROW_ALIGN = 8
MEMORY_ENV = 'MLPERF_JAX_DEVICE_MEMORY_GIB'


class MemoryBudgetError(ValueError):
  """The configuration does not fit the devices; the message has the numbers."""


@dataclasses.dataclass(frozen=True)
class EmbeddingPlan:
  """Where every table lives.

  Attributes:
    table_rows: rows of each table (after the `max_ind_range` cap).
    num_shards: devices the fused arrays are split over.
    row_tables: tables in the row-wise group, in storage order.
    row_offsets: first row of each row-wise table in the row-wise array.
    row_shard_rows: rows per shard of the row-wise array (0: no such group).
    slots: per shard, the table-wise tables it holds, padded with -1 to the
      same number of slots on every shard.
    table_offsets: table -> first row in the table-wise array (table-wise
      tables only).
    table_shard_rows: rows per shard of the table-wise array (0: no group).
  """
  table_rows: tuple[int, ...]
  num_shards: int
  row_tables: tuple[int, ...]
  row_offsets: tuple[int, ...]
  row_shard_rows: int
  slots: tuple[tuple[int, ...], ...]
  table_offsets: dict[int, int]
  table_shard_rows: int

  @property
  def num_tables(self) -> int:
    return len(self.table_rows)

  @property
  def table_tables(self) -> tuple[int, ...]:
    return tuple(sorted(self.table_offsets))

  @property
  def slots_per_shard(self) -> int:
    return len(self.slots[0]) if self.slots else 0

  @property
  def row_array_rows(self) -> int:
    return self.num_shards * self.row_shard_rows

  @property
  def table_array_rows(self) -> int:
    return self.num_shards * self.table_shard_rows

  @property
  def padded_rows(self) -> int:
    """Rows stored in both fused arrays, padding included."""
    return self.row_array_rows + self.table_array_rows

  def describe(self) -> str:
    n_row, n_tab = len(self.row_tables), len(self.table_offsets)
    real = sum(self.table_rows)
    return (f'embedding plan over {self.num_shards} shards: {n_row} tables '
            f'row-wise ({self.row_shard_rows:,} rows/shard), {n_tab} tables '
            f'table-wise ({self.slots_per_shard} slots, '
            f'{self.table_shard_rows:,} rows/shard); {real:,} rows stored as '
            f'{self.padded_rows:,} with padding')


def _align(n: int) -> int:
  return -(-n // ROW_ALIGN) * ROW_ALIGN


def _pack(tables: Sequence[int], rows: Sequence[int], num_shards: int
          ) -> list[list[int]]:
  """Longest-processing-time packing of whole tables onto shards."""
  bins: list[list[int]] = [[] for _ in range(num_shards)]
  load = [0] * num_shards
  for t in sorted(tables, key=lambda t: (-rows[t], t)):
    d = min(range(num_shards), key=lambda i: (load[i], len(bins[i]), i))
    bins[d].append(t)
    load[d] += rows[t]
  return bins


def plan_embeddings(table_rows: Sequence[int], num_shards: int, *,
                    max_imbalance: float = 1.25, max_waste: float = 0.01,
                    mode: str = 'auto') -> EmbeddingPlan:
  """Chooses row-wise or table-wise placement for every table.

  Args:
    table_rows: rows of each table.
    num_shards: number of devices the tables are spread over (>= 1).
    max_imbalance: largest allowed ratio of the fullest table-wise shard to
      the mean one; larger tables go row-wise until it holds, or until
    max_waste: the table-wise padding is at most this fraction of all rows.
    mode: 'auto' (the rule above), 'row' (all row-wise) or 'table' (all
      table-wise, whatever the imbalance).

  Returns:
    The `EmbeddingPlan`.
  """
  rows = [int(r) for r in table_rows]
  if not rows or min(rows) < 1:
    raise ValueError(f'every table needs at least one row, got {rows}')
  if num_shards < 1:
    raise ValueError(f'num_shards must be >= 1, got {num_shards}')
  if mode not in ('auto', 'row', 'table'):
    raise ValueError(f"mode must be 'auto', 'row' or 'table', got {mode!r}")
  tabled = list(range(len(rows))) if mode != 'row' else []
  while mode == 'auto' and num_shards > 1 and tabled:
    loads = [sum(rows[t] for t in b) for b in _pack(tabled, rows, num_shards)]
    mean = sum(loads) / num_shards
    waste = num_shards * max(loads) - sum(loads)
    if max(loads) <= max_imbalance * mean or waste <= max_waste * sum(rows):
      break
    tabled.remove(max(tabled, key=lambda t: (rows[t], -t)))
  row_tables = tuple(t for t in range(len(rows)) if t not in tabled)
  row_offsets, total = [], 0
  for t in row_tables:
    row_offsets.append(total)
    total += rows[t]
  row_shard_rows = _align(-(-total // num_shards)) if row_tables else 0
  slots: list[tuple[int, ...]] = []
  table_offsets: dict[int, int] = {}
  table_shard_rows = 0
  if tabled:
    bins = _pack(tabled, rows, num_shards)
    table_shard_rows = _align(max(sum(rows[t] for t in b) for b in bins))
    width = max(len(b) for b in bins)
    for d, b in enumerate(bins):
      pos = d * table_shard_rows
      for t in b:
        table_offsets[t] = pos
        pos += rows[t]
      slots.append(tuple(b) + (-1,) * (width - len(b)))
  return EmbeddingPlan(
      table_rows=tuple(rows), num_shards=num_shards, row_tables=row_tables,
      row_offsets=tuple(row_offsets), row_shard_rows=row_shard_rows,
      slots=tuple(slots), table_offsets=table_offsets,
      table_shard_rows=table_shard_rows)


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
  """Bytes per device of one DLRM train step."""
  embedding_params: int
  embedding_grads: int
  dense_params: int
  dense_grads: int
  optimizer_state: int
  activations: int
  lookup_buffers: int

  @property
  def total(self) -> int:
    return sum(dataclasses.astuple(self))

  def describe(self) -> str:
    g = lambda n: f'{n / 2**30:.2f} GiB'
    return (f'estimated memory per device: {g(self.total)} = embedding '
            f'shard {g(self.embedding_params)} + its gradient '
            f'{g(self.embedding_grads)} + dense params/grads '
            f'{g(self.dense_params + self.dense_grads)} + optimizer state '
            f'{g(self.optimizer_state)} + activations '
            f'{g(self.activations)} + lookup buffers '
            f'{g(self.lookup_buffers)}')


def estimate(plan: EmbeddingPlan, *, dim: int, dense_param_count: int,
             global_batch_size: int, batch_shards: int, mlp_widths: Sequence[int],
             bytes_per_value: int = 4) -> MemoryEstimate:
  """Per-device memory of a DLRM train step with plain SGD (no state).

  Args:
    plan: the table placement.
    dim: embedding dimension.
    dense_param_count: parameters of the (replicated) MLPs.
    global_batch_size: samples per step over all devices.
    batch_shards: devices the batch is split over (data x fsdp).
    mlp_widths: widths of every MLP/interaction activation of one sample.
    bytes_per_value: 4 for float32.

  Returns:
    The `MemoryEstimate`. The table gradient is counted at full shard size,
    as XLA materialises the scatter-add of the lookup's transpose.
  """
  b = bytes_per_value
  shard_rows = plan.row_shard_rows + plan.table_shard_rows
  emb = shard_rows * dim * b
  local = -(-global_batch_size // batch_shards)
  tables = plan.num_tables
  # Activations kept for the backward pass (x2 for their gradients).
  acts = 2 * local * (sum(mlp_widths) + (tables + 1) ** 2) * b
  # Lookup buffers: the row-wise path gathers for the global batch; the
  # table-wise one for its slots of the global batch; both forward and back.
  n_row = len(plan.row_tables)
  lookup = 2 * global_batch_size * (n_row + plan.slots_per_shard) * dim * b
  lookup += 2 * local * tables * dim * b
  return MemoryEstimate(
      embedding_params=emb, embedding_grads=emb,
      dense_params=dense_param_count * b, dense_grads=dense_param_count * b,
      optimizer_state=0, activations=acts, lookup_buffers=lookup)


def device_memory_bytes() -> tuple[int, str]:
  """Memory of one device and where the number comes from.

  `MLPERF_JAX_DEVICE_MEMORY_GIB` overrides (e.g. to plan for an H200, 141, on a
  CPU); otherwise the accelerator's `bytes_limit`, or for CPU devices the
  host's physical memory divided by the number of local devices.
  """
  env = os.environ.get(MEMORY_ENV)
  if env:
    try:
      return int(float(env) * 2**30), f'{MEMORY_ENV}={env}'
    except ValueError:
      raise MemoryBudgetError(f'{MEMORY_ENV}={env!r} is not a number of GiB'
                              ) from None
  import jax  # pylint: disable=import-outside-toplevel
  dev = jax.local_devices()[0]
  try:
    stats = dev.memory_stats() or {}
  except Exception:  # pylint: disable=broad-except
    stats = {}
  if stats.get('bytes_limit'):
    return int(stats['bytes_limit']), f'{dev.device_kind} bytes_limit'
  phys = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
  n = jax.local_device_count()
  return phys // n, f'host memory / {n} local CPU devices'


def check_fits(est: MemoryEstimate, capacity: int, source: str,
               context: str) -> None:
  """Raises `MemoryBudgetError` when `est` exceeds `capacity` bytes."""
  if est.total > capacity:
    need = math.ceil(est.total / 2**30 * 100) / 100
    raise MemoryBudgetError(
        f'{context} does not fit: {est.describe()}, but a device has '
        f'{capacity / 2**30:.2f} GiB ({source}); need {need:.2f} GiB. Use '
        'more devices (--mesh), a smaller global_batch_size, or set '
        f'{MEMORY_ENV} to plan for another device.')
