# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Criteo 1TB in the MLPerf DLRM reference's preprocessed format.

The reference (facebookresearch/dlrm, branch `mlperf`, `data_utils.py`,
`dlrm_data_pytorch.py`, `data_loader_terabyte.py`, run with `--memory-map
--mlperf-bin-loader --mlperf-bin-shuffle`) turns the raw day files
`day_0 .. day_23` (TSV: label, 13 integer and 26 hex categorical features,
empty = missing) into:

* `day_fea_count.npz` (`counts`: unique values per categorical feature after
  `int(hex, 16) % max_ind_range`) and `day_day_count.npz` (`total_per_file`);
* `day_{i}_reordered.npz` (`X_int` [n, 13] with negatives set to 0, `X_cat`
  [n, 26] as dense indices in first-appearance order, `y` [n]); the training
  days 0-22 are shuffled across and within days, day 23 is not;
* `terabyte_processed_{train,test,val}.bin`: int32 records of 40 values
  (label, 13 ints, 26 cats); train = days 0-22, test = the first
  `ceil(n / 2)` samples of day 23, val = the rest.

The model input is `log(x_int + 1)` and `x_cat % max_ind_range`. Training
reads the train `.bin` memory-mapped. The reference's loader cuts the file
into `ceil(N / GBS)` contiguous batches, the last one short, and shuffles
their order every epoch (`RandomSampler` over batches); here each epoch is
the same blocks in an order seeded by (run seed, epoch), the epochs are
concatenated into one stream, and global batch `i` is stream positions
`[i * GBS, (i + 1) * GBS)`: every sample is seen exactly once per epoch and
the last batch of an epoch is a mixed batch (the short block's samples and
the first of the next epoch), which the rules allow ("Equivalence
exceptions", training_rules.adoc v1.1: remaining, padded or mixed, never
dropped). The workload evaluates each epoch after its mixed batch
(`DlrmWorkload.epoch_end_step`). Eval reads the test `.bin` in order,
padded and masked. Each host reads only its slice of every batch.

`convert` rebuilds all of these files from raw day TSVs. Its shuffle has the
reference's structure (uniform bucket assignment across training days
respecting their sizes, then a permutation within each day) but is seeded
with NumPy's `default_rng`, so the order is not bit-identical to a
reference-preprocessed copy; readers accept either.
"""

from __future__ import annotations

import math
import os
from typing import Iterator, Sequence

import numpy as np

from mlperf_jax.api import HostShard

NUM_DENSE = 13
NUM_SPARSE = 26
RECORD = 1 + NUM_DENSE + NUM_SPARSE
BIN_PREFIX = 'terabyte_processed'
COUNTS_FILE = 'day_fea_count.npz'
DAY_COUNT_FILE = 'day_day_count.npz'


def bin_path(data_dir: str, split: str) -> str:
  if split not in ('train', 'test', 'val'):
    raise ValueError(f"split must be 'train', 'test' or 'val', got {split!r}")
  return os.path.join(data_dir, f'{BIN_PREFIX}_{split}.bin')


def open_bin(data_dir: str, split: str) -> np.ndarray:
  """The split as a read-only [samples, 40] int32 memmap."""
  path = bin_path(data_dir, split)
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f'{path} not found: --data-dir must hold the reference\'s '
        f'{BIN_PREFIX}_{{train,test}}.bin; build them from the raw day_0 .. '
        'day_23 TSVs with `python -m mlperf_jax.input_pipelines.criteo '
        'RAW_DIR OUT_DIR`')
  size = os.path.getsize(path)
  if size % (4 * RECORD):
    raise ValueError(f'{path} has {size} bytes, not a multiple of the '
                     f'{4 * RECORD}-byte record; the file is truncated')
  return np.memmap(path, np.int32, 'r', shape=(size // (4 * RECORD), RECORD))


def table_counts(data_dir: str) -> np.ndarray:
  with np.load(os.path.join(data_dir, COUNTS_FILE)) as data:
    return np.asarray(data['counts'], np.int64)


def to_model_inputs(records: np.ndarray, max_ind_range: int
                    ) -> dict[str, np.ndarray]:
  """The reference's `_transform_features` on int32 records [n, 40]."""
  cats = records[:, 1 + NUM_DENSE:]
  if max_ind_range > 0:
    cats = cats % max_ind_range
  return {'dense': np.log(records[:, 1:1 + NUM_DENSE].astype(np.float32) + 1),
          'sparse': cats.astype(np.int32),
          'label': records[:, 0].astype(np.float32)}


def _host_slice(n: int, host: HostShard) -> slice:
  per = n // host.count
  return slice(host.index * per, (host.index + 1) * per)


class _BlockStream:
  """The training stream's record ranges: epochs of shuffled blocks.

  Epoch `e` is the `ceil(N / GBS)` blocks `[b * GBS, min((b + 1) * GBS, N))`
  of the file in the order `default_rng((seed, e)).permutation`; positions
  `[e * N, (e + 1) * N)` of the stream are that epoch's records in order.
  """

  def __init__(self, num_records: int, block: int, seed: int):
    self.n, self.block, self.seed = num_records, block, seed
    self._epochs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

  def _epoch(self, epoch: int):
    if epoch not in self._epochs:
      for old in [e for e in self._epochs if e < epoch - 1]:
        del self._epochs[old]
      count = -(-self.n // self.block)
      starts = np.random.default_rng((self.seed, epoch)).permutation(
          count).astype(np.int64) * self.block
      sizes = np.minimum(self.block, self.n - starts)
      self._epochs[epoch] = (starts, np.cumsum(sizes) - sizes, sizes)
    return self._epochs[epoch]

  def ranges(self, lo: int, hi: int) -> list[tuple[int, int]]:
    """Record ranges `[a, b)` of the file holding stream positions
    `[lo, hi)`, in stream order."""
    out = []
    pos = lo
    while pos < hi:
      epoch, p = divmod(pos, self.n)
      end = p + min(hi - pos, self.n - p)
      starts, offsets, sizes = self._epoch(epoch)
      j = int(np.searchsorted(offsets, p, side='right')) - 1
      q = p
      while q < end:
        take = min(end, int(offsets[j] + sizes[j])) - q
        a = int(starts[j] + q - offsets[j])
        out.append((a, a + take))
        q += take
        j += 1
      pos += end - p
    return out


def train_batches(data_dir: str, *, global_batch_size: int, seed: int,
                  host: HostShard, start_step: int = 0, max_ind_range: int = 40_000_000
                  ) -> Iterator[dict[str, np.ndarray]]:
  """Endless per-host training batches from the train `.bin`.

  Global batch `i` is positions `[i * GBS, (i + 1) * GBS)` of the stream of
  epochs of shuffled blocks (see the module docstring and `_BlockStream`):
  every record once per epoch, the last batch of an epoch mixed with the
  start of the next. Host `h` of `H` reads positions
  `[h * GBS / H, (h + 1) * GBS / H)` of each batch. A pure function of
  (seed, step): resuming at `start_step` reads what an uninterrupted run
  would.
  """
  data = open_bin(data_dir, 'train')
  if global_batch_size % host.count:
    raise ValueError(f'global_batch_size={global_batch_size} must be '
                     f'divisible by the {host.count} hosts')
  if data.shape[0] == 0:
    raise ValueError('the train split holds no samples')
  per = global_batch_size // host.count
  stream = _BlockStream(data.shape[0], global_batch_size, seed)
  step = start_step
  while True:
    lo = step * global_batch_size + host.index * per
    parts = [np.asarray(data[a:b]) for a, b in stream.ranges(lo, lo + per)]
    records = parts[0] if len(parts) == 1 else np.concatenate(parts)
    yield to_model_inputs(records, max_ind_range)
    step += 1


def eval_batches(data_dir: str, *, global_batch_size: int, host: HostShard,
                 max_ind_range: int = 40_000_000, split: str = 'test'
                 ) -> Iterator[dict[str, np.ndarray]]:
  """Per-host eval batches over the whole split, the last padded + masked."""
  data = open_bin(data_dir, split)
  n = data.shape[0]
  if global_batch_size % host.count:
    raise ValueError(f'global_batch_size={global_batch_size} must be '
                     f'divisible by the {host.count} hosts')
  for b in range(math.ceil(n / global_batch_size)):
    pos = np.arange(b * global_batch_size, (b + 1) * global_batch_size)
    pos = pos[_host_slice(global_batch_size, host)]
    real = pos < n
    out = to_model_inputs(np.asarray(data[np.where(real, pos, 0)]),
                          max_ind_range)
    out['mask'] = real.astype(np.float32)
    yield out


# ---- conversion from the raw TSVs ------------------------------------------


def parse_day(path: str, max_ind_range: int) -> tuple[np.ndarray, ...]:
  """(y [n], X_int [n, 13], X_cat_hashed [n, 26]) of one raw day TSV.

  Missing values are 0, negative integers become 0 (as `processCriteoAdData`)
  and categoricals are `int(hex, 16) % max_ind_range`.
  """
  ys, ints, cats = [], [], []
  with open(path) as f:
    for lineno, line in enumerate(f, 1):
      cols = line.rstrip('\n').split('\t')
      if len(cols) != RECORD:
        raise ValueError(f'{path}:{lineno}: {len(cols)} columns, expected '
                         f'{RECORD} (label, 13 ints, 26 hex categoricals)')
      cols = [c if c else '0' for c in cols]
      ys.append(int(cols[0]))
      ints.append([max(0, int(c)) for c in cols[1:1 + NUM_DENSE]])
      cat = [int(c, 16) for c in cols[1 + NUM_DENSE:]]
      if max_ind_range > 0:
        cat = [c % max_ind_range for c in cat]
      cats.append(cat)
  return (np.asarray(ys, np.int32).reshape(-1),
          np.asarray(ints, np.int64).reshape(-1, NUM_DENSE),
          np.asarray(cats, np.int64).reshape(-1, NUM_SPARSE))


def _first_appearance_index(dicts: list[dict], cats: np.ndarray) -> None:
  for j in range(NUM_SPARSE):
    col, d = cats[:, j], dicts[j]
    uniq, first = np.unique(col, return_index=True)
    for v in uniq[np.argsort(first, kind='stable')]:
      d.setdefault(int(v), len(d))


def convert(raw_dir: str, out_dir: str, *, days: int = 24,
            max_ind_range: int = 40_000_000, seed: int = 123,
            shuffle: bool = True) -> dict[str, int]:
  """Raw `day_0 .. day_{days-1}` TSVs -> the reference's processed files.

  Args:
    raw_dir: directory with the raw day files.
    out_dir: where the processed files go (created).
    days: number of days (24 for Criteo 1TB; the last is the eval day).
    max_ind_range: categorical hashing modulus (the reference's 40M).
    seed: shuffle seed.
    shuffle: shuffle the training days ('total'); False keeps file order.

  Returns:
    Sample counts: {'train': ..., 'test': ..., 'val': ...}.
  """
  if days < 2:
    raise ValueError('need at least one training day and the eval day')
  os.makedirs(out_dir, exist_ok=True)
  parsed = [parse_day(os.path.join(raw_dir, f'day_{i}'), max_ind_range)
            for i in range(days)]
  dicts: list[dict] = [{} for _ in range(NUM_SPARSE)]
  for _, _, cats in parsed:
    _first_appearance_index(dicts, cats)
  counts = np.array([len(d) for d in dicts], np.int32)
  sizes = [len(y) for y, _, _ in parsed]
  np.savez_compressed(os.path.join(out_dir, COUNTS_FILE), counts=counts)
  np.savez_compressed(os.path.join(out_dir, DAY_COUNT_FILE),
                      total_per_file=np.asarray(sizes))
  records = []
  for y, x_int, cats in parsed:
    idx = np.empty_like(cats)
    for j in range(NUM_SPARSE):
      lut = dicts[j]
      idx[:, j] = [lut[int(v)] for v in cats[:, j]]
    records.append(np.concatenate([y[:, None], x_int, idx], 1).astype(
        np.int32))
  train = records[:-1]
  if shuffle:
    train = _shuffle_days(train, np.random.default_rng(seed))
  for i, rec in enumerate(train + records[-1:]):
    np.savez_compressed(os.path.join(out_dir, f'day_{i}_reordered.npz'),
                        X_int=rec[:, 1:1 + NUM_DENSE],
                        X_cat=rec[:, 1 + NUM_DENSE:], y=rec[:, 0])
  with open(bin_path(out_dir, 'train'), 'wb') as f:
    for rec in train:
      f.write(np.ascontiguousarray(rec).tobytes())
  last = records[-1]
  mid = -(-len(last) // 2)
  with open(bin_path(out_dir, 'test'), 'wb') as f:
    f.write(last[:mid].tobytes())
  with open(bin_path(out_dir, 'val'), 'wb') as f:
    f.write(last[mid:].tobytes())
  return {'train': sum(sizes[:-1]), 'test': mid, 'val': len(last) - mid}


def _shuffle_days(days: Sequence[np.ndarray], rng: np.random.Generator
                  ) -> list[np.ndarray]:
  """Two-pass shuffle: uniform day buckets with fixed sizes, then per day."""
  sizes = np.array([len(d) for d in days])
  remaining = sizes.copy()
  buckets: list[list[np.ndarray]] = [[] for _ in days]
  for d in days:
    take = rng.multivariate_hypergeometric(remaining, len(d))
    remaining -= take
    labels = rng.permutation(np.repeat(np.arange(len(days)), take))
    for b in range(len(days)):
      buckets[b].append(d[labels == b])
  return [rng.permutation(np.concatenate(b)) for b in buckets]


def main(argv: list[str] | None = None) -> int:
  import argparse  # pylint: disable=import-outside-toplevel
  p = argparse.ArgumentParser(
      prog='python -m mlperf_jax.input_pipelines.criteo',
      description='Convert raw Criteo 1TB day TSVs to the reference format.')
  p.add_argument('raw_dir')
  p.add_argument('out_dir')
  p.add_argument('--days', type=int, default=24)
  p.add_argument('--max-ind-range', type=int, default=40_000_000)
  p.add_argument('--seed', type=int, default=123)
  args = p.parse_args(argv)
  for i in range(args.days):
    if not os.path.isfile(os.path.join(args.raw_dir, f'day_{i}')):
      p.error(f'missing raw file {os.path.join(args.raw_dir, f"day_{i}")} '
              '(decompress day_<i>.gz first)')
  print(convert(args.raw_dir, args.out_dir, days=args.days,
                max_ind_range=args.max_ind_range, seed=args.seed))
  return 0


if __name__ == '__main__':
  raise SystemExit(main())


# ---- validation before compute (`Workload.check_request`) ------------------

_BUILD_HINT = ('build them from the raw day_0 .. day_23 TSVs with `python -m '
               'mlperf_jax.input_pipelines.criteo RAW_DIR OUT_DIR`')


def check_dataset(data_dir: str, *, train_samples: int | None = None,
                  eval_samples: int | None = None) -> list[str]:
  """Problems with a prepared Criteo 1TB directory, found cheaply.

  Checks that the train and test `.bin` files exist, are whole records,
  hold the expected sample counts (when given), and that their first and
  last records look like the reference's (label 0 or 1, no negative
  value). Reads two records per file; imports no JAX.
  """
  problems = []
  for split, expected in (('train', train_samples), ('test', eval_samples)):
    path = bin_path(data_dir, split)
    if not os.path.isfile(path):
      problems.append(f'{path} not found: --data-dir must hold the '
                      f"reference's {BIN_PREFIX}_{{train,test}}.bin; "
                      + _BUILD_HINT)
      continue
    size = os.path.getsize(path)
    if size == 0 or size % (4 * RECORD):
      problems.append(f'{path} has {size} bytes, not a whole number of '
                      f'{4 * RECORD}-byte records: the file is truncated or '
                      f'is not a processed Criteo file; rebuild it ('
                      f'{_BUILD_HINT})')
      continue
    n = size // (4 * RECORD)
    if expected is not None and n != expected:
      problems.append(f'{path} holds {n} samples; the reference {split} '
                      f'split has {expected} (an incomplete or different '
                      f'build); rebuild it ({_BUILD_HINT})')
      continue
    data = np.memmap(path, np.int32, 'r', shape=(n, RECORD))
    for i in sorted({0, n - 1}):
      rec = np.asarray(data[i])
      if rec[0] not in (0, 1) or (rec < 0).any():
        problems.append(f'{path}: record {i} is {rec[:4].tolist()}...: not '
                        'a processed Criteo record (label 0/1, then 13 dense '
                        'and 26 categorical non-negative values); rebuild '
                        f'it ({_BUILD_HINT})')
        break
    del data
  return problems
