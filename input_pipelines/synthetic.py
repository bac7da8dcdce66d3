# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Random batches of given shapes, for smoke tests and throughput runs.

A spec maps each feature name to `(shape, dtype, maxval)`; `shape` includes the
(per-host) batch dimension. Values:

* integer dtypes: uniform in `[0, maxval)` (maxval required: class ids, token
  ids, embedding rows all need an upper bound);
* bool: fair coin flips (maxval ignored);
* floating dtypes: standard normal when `maxval` is None, whole numbers in
  `[0, maxval)` for an integer `maxval` (e.g. 2 for 0/1 labels), else uniform
  in `[0, maxval)`.

Training cycles through a small pool of pre-generated batches so that
generation does not dominate a throughput measurement. The pooled arrays are
shared between yields and therefore read-only.
"""

from collections.abc import Iterator, Mapping, Sequence
import itertools

import numpy as np

Spec = Mapping[str, tuple[Sequence[int], np.dtype | type | str, float | None]]

MASK_KEY = 'mask'


def _check_feature(name: str, dtype, maxval: float | None) -> np.dtype:
  dtype = np.dtype(dtype)
  if name == MASK_KEY:
    raise ValueError(f'{MASK_KEY!r} is reserved for the eval mask.')
  if np.issubdtype(dtype, np.integer) and maxval is None:
    raise ValueError(f'Synthetic feature {name!r} has integer dtype {dtype} '
                     'but no maxval; give the exclusive upper bound.')
  if not (dtype == np.bool_ or np.issubdtype(dtype, np.integer) or
          np.issubdtype(dtype, np.floating)):
    raise ValueError(
        f'Unsupported dtype {dtype} for synthetic feature {name!r}.')
  return dtype


def _random_array(rng: np.random.Generator, name: str, shape: Sequence[int],
                  dtype, maxval: float | None) -> np.ndarray:
  dtype = _check_feature(name, dtype, maxval)
  shape = tuple(int(d) for d in shape)
  if dtype == np.bool_:
    return rng.random(shape) < 0.5
  if np.issubdtype(dtype, np.integer):
    # A per-feature-column bound (e.g. one table size per column) broadcasts.
    high = np.asarray(maxval, np.int64)
    return rng.integers(0, high, size=shape).astype(dtype)
  if maxval is None:
    return rng.standard_normal(shape, dtype=np.float32).astype(dtype)
  if isinstance(maxval, (int, np.integer)):  # integer values, float dtype
    return rng.integers(0, int(maxval), size=shape).astype(dtype)
  return (rng.random(shape, dtype=np.float32) * maxval).astype(dtype)


def _check_spec(spec: Spec) -> int:
  """Validates the spec and returns its batch size."""
  for name, (_, dtype, maxval) in spec.items():
    _check_feature(name, dtype, maxval)
  sizes = {name: tuple(shape)[0] for name, (shape, _, _) in spec.items()
           if len(tuple(shape))}
  if not sizes:
    raise ValueError('Synthetic spec needs at least one batched feature.')
  if len(set(sizes.values())) != 1:
    raise ValueError(f'Synthetic features disagree on the batch size: {sizes}.')
  return next(iter(sizes.values()))


def _make_batch(spec: Spec, rng: np.random.Generator) -> dict[str, np.ndarray]:
  return {name: _random_array(rng, name, shape, dtype, maxval)
          for name, (shape, dtype, maxval) in spec.items()}


def synthetic_train_batches(spec: Spec, *, seed: int,
                            pool: int = 4) -> Iterator[dict[str, np.ndarray]]:
  """Infinite stream cycling through `pool` random batches.

  Args:
    spec: feature name -> (shape with batch dim, dtype, maxval or None).
    seed: generator seed.
    pool: number of distinct batches to pre-generate.

  Returns:
    Iterator of dicts of read-only arrays (the same objects recur every
    `pool` steps).
  """
  if pool <= 0:
    raise ValueError(f'pool must be positive, got {pool}.')
  _check_spec(spec)
  rng = np.random.default_rng(seed)
  batches = [_make_batch(spec, rng) for _ in range(pool)]
  for b in batches:
    for v in b.values():
      v.flags.writeable = False
  return itertools.cycle(batches)


def synthetic_eval_batches(spec: Spec, *, num_batches: int,
                           seed: int) -> Iterator[dict[str, np.ndarray]]:
  """`num_batches` random batches with a `mask`; the last is half padding.

  The mask is float32, 1 for real examples, 0 for padding; the last batch has
  its second half (`B // 2` examples) masked out, to exercise masked metrics.

  Args:
    spec: feature name -> (shape with batch dim, dtype, maxval or None).
    num_batches: number of batches.
    seed: generator seed.

  Returns:
    Iterator of dicts with the spec's features and 'mask' [B].
  """
  # Validate now rather than at the first next().
  if num_batches <= 0:
    raise ValueError(f'num_batches must be positive, got {num_batches}.')
  size = _check_spec(spec)

  def generate() -> Iterator[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    for i in range(num_batches):
      batch = _make_batch(spec, rng)
      mask = np.ones(size, np.float32)
      if i == num_batches - 1:
        mask[size - size // 2:] = 0.0
      batch[MASK_KEY] = mask
      yield batch

  return generate()


def _spec_from_batch_spec(batch_spec: Mapping, bounds: Mapping[str, float]
                          ) -> Spec:
  """A workload's batch spec (`ShapeDtypeStruct`s) as a synthetic `Spec`;
  integer features without a bound draw from {0, 1}."""
  spec = {}
  for name, s in batch_spec.items():
    if name == MASK_KEY:
      continue
    dtype = np.dtype(s.dtype)
    bound = bounds.get(name)
    if bound is None and np.issubdtype(dtype, np.integer):
      bound = 2
    spec[name] = (tuple(s.shape), dtype, bound)
  return spec


def host_slices(batches: Iterator[Mapping[str, np.ndarray]], host
                ) -> Iterator[dict[str, np.ndarray]]:
  """This host's contiguous slice of each global batch (`host`: a
  `HostShard`), so several processes see exactly what one process would."""
  for b in batches:
    n = len(next(iter(b.values())))
    per = n // host.count
    yield {k: v[host.index * per:(host.index + 1) * per] for k, v in b.items()}


def train_batches_from_spec(batch_spec: Mapping, bounds: Mapping[str, float],
                            *, seed: int, host, start_step: int = 0
                            ) -> Iterator[dict[str, np.ndarray]]:
  """Synthetic training batches for any workload, from its global batch
  spec; every host generates the global batch and keeps its slice."""
  del start_step  # the pool is cyclic: every position looks alike
  return host_slices(synthetic_train_batches(
      _spec_from_batch_spec(batch_spec, bounds), seed=seed), host)


def eval_batches_from_spec(batch_spec: Mapping, bounds: Mapping[str, float],
                           *, host, num_batches: int = 2
                           ) -> Iterator[dict[str, np.ndarray]]:
  """Two synthetic eval batches (the last half padding) for any workload."""
  return host_slices(synthetic_eval_batches(
      _spec_from_batch_spec(batch_spec, bounds), num_batches=num_batches,
      seed=0), host)
