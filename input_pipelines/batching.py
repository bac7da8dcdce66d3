# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Deterministic, resumable, host-sharded batching shared by all workloads.

The data loader is reduced to one callable, `load(indices, rng)`, that turns a
vector of example indices into a dict of numpy arrays (decode + augment). This
module decides *which* indices form each batch, and *which* random stream
augments them, as pure functions of `(seed, step, host)`. Nothing depends on
how many threads run `load`, on the order batches finish, or on how many steps
were skipped at start-up, so a run resumed at step `k` sees exactly the batches
an uninterrupted run would have seen.

Training stream (MLPerf allows the epoch-crossing batch):

* epoch `e` is `np.random.default_rng((seed, e)).permutation(N)`;
* epochs are concatenated into one infinite stream of example indices;
* global batch `i` is stream positions `[i * GBS, (i + 1) * GBS)`;
* host `h` of `H` takes the contiguous slice `[h * GBS / H, (h + 1) * GBS / H)`
  of it, so the hosts' slices concatenate to the single-host batch;
* the augmentation generator of (global batch `i`, host `h`) is
  `np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i, h)))`.
  The spawn key keeps it disjoint from the permutation streams.

Eval stream: positions `0 .. N - 1` in order, cut the same way, with the last
global batch padded (with example 0) up to full size and a float32 `mask`
(1 real, 0 padding), so every host runs the same number of equally shaped
batches and the masked sums cover the split exactly once.
"""

from collections.abc import Callable, Iterator
import collections
import concurrent.futures
import math
from typing import Any

import numpy as np

from mlperf_jax.api import HostShard

Batch = dict[str, np.ndarray]
# `load(indices, rng)`: rng is a per-batch `np.random.Generator` for training
# and None for eval (eval preprocessing must be deterministic).
LoadFn = Callable[[np.ndarray, np.random.Generator | None], Batch]

MASK_KEY = 'mask'


def _check_sharding(num_examples: int, global_batch_size: int,
                    host: HostShard) -> int:
  """Validates the sharding arguments and returns the per-host batch size."""
  if num_examples <= 0:
    raise ValueError(f'num_examples must be positive, got {num_examples}.')
  if global_batch_size <= 0:
    raise ValueError(
        f'global_batch_size must be positive, got {global_batch_size}.')
  if host.count <= 0:
    raise ValueError(f'host_count must be positive, got {host.count}.')
  if not 0 <= host.index < host.count:
    raise ValueError(
        f'host_index must be in [0, {host.count}), got {host.index}.')
  if global_batch_size % host.count:
    raise ValueError(
        f'global_batch_size ({global_batch_size}) must be divisible by '
        f'host_count ({host.count}): every host feeds an equal slice of each '
        'global batch.')
  return global_batch_size // host.count


def host_batch_size(global_batch_size: int,
                    host: HostShard = HostShard()) -> int:
  """Per-host batch size, validating the sharding arguments."""
  return _check_sharding(1, global_batch_size, host)


def _check_seed(seed: int) -> None:
  # numpy's SeedSequence rejects negative entropy with an opaque message.
  if seed < 0:
    raise ValueError(f'seed must be a non-negative integer, got {seed}.')


def num_eval_batches(num_examples: int, global_batch_size: int) -> int:
  """Number of global eval batches needed to cover `num_examples` once."""
  if num_examples <= 0 or global_batch_size <= 0:
    raise ValueError('num_examples and global_batch_size must be positive, got '
                     f'{num_examples} and {global_batch_size}.')
  return math.ceil(num_examples / global_batch_size)


def epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  """The example order of training epoch `epoch` (0-based)."""
  _check_seed(seed)
  return np.random.default_rng((seed, epoch)).permutation(num_examples)


def augmentation_rng(seed: int, step: int,
                     host: HostShard) -> np.random.Generator:
  """The augmentation generator of global batch `step` on `host`."""
  _check_seed(seed)
  return np.random.default_rng(
      np.random.SeedSequence(seed, spawn_key=(step, host.index)))


class _EpochPermutations:
  """Lazily computed epoch permutations, keeping only the recent ones.

  A batch touches at most `ceil(GBS / N) + 1` consecutive epochs and steps only
  move forward, so older epochs can be dropped (ImageNet's permutation is
  10 MB).
  """

  def __init__(self, num_examples: int, seed: int):
    self._num_examples = num_examples
    self._seed = seed
    self._cache: dict[int, np.ndarray] = {}

  def take(self, start: int, stop: int) -> np.ndarray:
    """Example indices at stream positions [start, stop)."""
    n = self._num_examples
    first_epoch, last_epoch = start // n, (stop - 1) // n
    for epoch in [e for e in self._cache if e < first_epoch]:
      del self._cache[epoch]
    pieces = []
    for epoch in range(first_epoch, last_epoch + 1):
      if epoch not in self._cache:
        self._cache[epoch] = epoch_permutation(n, self._seed, epoch)
      lo = max(start, epoch * n) - epoch * n
      hi = min(stop, (epoch + 1) * n) - epoch * n
      pieces.append(self._cache[epoch][lo:hi])
    return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]


def train_batch_indices(num_examples: int, step: int, *,
                        global_batch_size: int, seed: int,
                        host: HostShard = HostShard()) -> np.ndarray:
  """Example indices of one host's slice of training batch `step`.

  A stateless version of what `train_batches` computes, for tests and tools.

  Args:
    num_examples: dataset size N.
    step: global batch index (0-based).
    global_batch_size: examples per global batch, over all hosts.
    seed: data seed (non-negative).
    host: this host's shard (index in [0, count), number of hosts).

  Returns:
    int64 array of length `global_batch_size // host.count`.
  """
  _check_seed(seed)
  per_host = _check_sharding(num_examples, global_batch_size, host)
  start = step * global_batch_size + host.index * per_host
  return _EpochPermutations(num_examples, seed).take(start, start + per_host)


def _ordered_map(fn: Callable[[Any], Batch], args: Iterator[Any],
                 num_threads: int, prefetch: int) -> Iterator[Batch]:
  """Maps `fn` over `args`, in order, optionally with a thread pool.

  With threads, up to `num_threads + prefetch` calls run ahead of the consumer.
  Results are yielded in submission order; since every call's inputs are fixed
  before it is submitted, the output does not depend on scheduling.
  """
  if num_threads <= 0:
    for a in args:
      yield fn(a)
    return
  pool = concurrent.futures.ThreadPoolExecutor(
      max_workers=num_threads, thread_name_prefix='mlperf_jax_input')
  pending: collections.deque[concurrent.futures.Future[Batch]] = (
      collections.deque())
  try:
    for a in args:
      pending.append(pool.submit(fn, a))
      if len(pending) >= num_threads + prefetch:
        yield pending.popleft().result()
    while pending:
      yield pending.popleft().result()
  finally:
    # Runs when the consumer drops the (infinite) generator: stop loading.
    for f in pending:
      f.cancel()
    try:
      pool.shutdown(wait=False, cancel_futures=True)
    except AttributeError:
      # A generator still alive at interpreter exit is finalised after the
      # concurrent.futures module globals are cleared; its threads are
      # joined by concurrent.futures' own exit hook anyway.
      pass


def train_batches(num_examples: int, load: LoadFn, *, global_batch_size: int,
                  seed: int, host: HostShard = HostShard(),
                  start_step: int = 0, num_threads: int = 0,
                  prefetch: int = 2) -> Iterator[Batch]:
  """Infinite stream of this host's slices of the training batches.

  See the module docstring for the exact order. Yields `load(indices, rng)` for
  steps `start_step, start_step + 1, ...`.

  Args:
    num_examples: dataset size N.
    load: `load(indices, rng) -> dict of arrays`, each with leading dimension
      `len(indices)`; `rng` is that batch's augmentation generator. Called from
      worker threads when `num_threads > 0`, so it must be thread-safe.
    global_batch_size: examples per global batch, over all hosts.
    seed: data seed (non-negative); fixes both order and augmentation.
    host: this host's shard; `host.count` must divide `global_batch_size`.
    start_step: first step to produce (resume); earlier steps cost nothing.
    num_threads: loader threads; 0 loads synchronously in the caller.
    prefetch: with threads, how many extra batches may be loaded ahead.

  Yields:
    The dicts returned by `load`, one per step.
  """
  _check_seed(seed)
  per_host = _check_sharding(num_examples, global_batch_size, host)
  if start_step < 0:
    raise ValueError(f'start_step must be non-negative, got {start_step}.')
  perms = _EpochPermutations(num_examples, seed)

  def plan() -> Iterator[tuple[np.ndarray, int]]:
    step = start_step
    while True:
      start = step * global_batch_size + host.index * per_host
      yield perms.take(start, start + per_host), step
      step += 1

  def run(item: tuple[np.ndarray, int]) -> Batch:
    indices, step = item
    return load(indices, augmentation_rng(seed, step, host))

  return _ordered_map(run, plan(), num_threads, prefetch)


def eval_batch_indices(num_examples: int, batch: int, *,
                       global_batch_size: int, host: HostShard = HostShard()
                       ) -> tuple[np.ndarray, np.ndarray]:
  """Indices and mask of one host's slice of eval batch `batch`.

  Returns:
    `(indices, mask)`: int64 indices (padding positions point at example 0)
    and float32 mask (1 real, 0 padding), both of length GBS / host.count.
  """
  per_host = _check_sharding(num_examples, global_batch_size, host)
  start = batch * global_batch_size + host.index * per_host
  positions = np.arange(start, start + per_host, dtype=np.int64)
  real = positions < num_examples
  return np.where(real, positions, 0), real.astype(np.float32)


def eval_batches(num_examples: int, load: LoadFn, *, global_batch_size: int,
                 host: HostShard = HostShard(), num_threads: int = 0,
                 prefetch: int = 2) -> Iterator[Batch]:
  """This host's slices of the eval batches: every example exactly once.

  Every host yields `num_eval_batches(num_examples, global_batch_size)` batches
  of `global_batch_size // host.count` examples. Padding positions load
  example 0 and carry `mask == 0`; real ones carry `mask == 1`, so the masks
  over all hosts and batches sum to `num_examples`.

  Args:
    num_examples: split size N.
    load: `load(indices, None) -> dict of arrays` (deterministic; no rng).
    global_batch_size: examples per global batch, over all hosts.
    host: this host's shard; `host.count` must divide `global_batch_size`.
    num_threads: loader threads; 0 loads synchronously in the caller.
    prefetch: with threads, how many extra batches may be loaded ahead.

  Yields:
    The dicts returned by `load`, each with an added float32 `mask`.
  """
  _check_sharding(num_examples, global_batch_size, host)
  count = num_eval_batches(num_examples, global_batch_size)

  def run(batch: int) -> Batch:
    indices, mask = eval_batch_indices(
        num_examples, batch, global_batch_size=global_batch_size,
        host=host)
    out = dict(load(indices, None))
    if MASK_KEY in out:
      raise ValueError(f'load() must not return a {MASK_KEY!r} entry.')
    out[MASK_KEY] = mask
    return out

  return _ordered_map(run, iter(range(count)), num_threads, prefetch)
