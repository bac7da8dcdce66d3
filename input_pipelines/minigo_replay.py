# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MiniGo's training data: a window of self-play generations, sampled.

Reference (`ml_perf/train_loop.py`, `flags/19/train.flags`): each
generation trains on a random `train_filter` share (30 %) of the positions
of the last `window_size` (5) generations, shuffled, with a random one of
the 8 board symmetries per example (`preprocessing.py`
`_random_rotation`). A position's example is its 13 planes, the visit
distribution over the N*N+1 moves and the game's result from the side to
move.

`Replay.add` stores a generation (host arrays of the positions that count:
full-readout moves of live games), `Replay.start_generation` draws that
generation's sample, and `batches` yields global batches from it; every
host holds the same window and keeps its slice of each batch, so the run
does not depend on the number of hosts.
"""

from __future__ import annotations

import collections
from typing import Iterator

import numpy as np

from mlperf_jax.input_pipelines import synthetic


def _symmetry(planes: np.ndarray, policy: np.ndarray, k: int
              ) -> tuple[np.ndarray, np.ndarray]:
  """Applies dihedral symmetry k (0..7) to [N, N, C] planes and the N*N+1
  policy (pass unchanged)."""
  n = planes.shape[0]
  grid = policy[:-1].reshape(n, n)

  def t(x):
    if k & 4:
      x = np.swapaxes(x, 0, 1)
    return np.rot90(x, k & 3, axes=(0, 1))
  return (np.ascontiguousarray(t(planes)),
          np.concatenate([t(grid).reshape(-1), policy[-1:]]))


class Replay:
  """The window of generations and the current training sample."""

  def __init__(self, *, window: int, train_fraction: float, batch_size: int,
               seed: int, augment: bool = True):
    self.window = window
    self.train_fraction = train_fraction
    self.batch_size = batch_size
    self.seed = seed
    self.augment = augment
    self.generations: collections.OrderedDict[int, dict[str, np.ndarray]] = (
        collections.OrderedDict())
    self._order = np.zeros(0, np.int64)
    self._pool: dict[str, np.ndarray] = {}
    self._cursor = 0
    self._draws = 0

  def add(self, generation: int, examples: dict[str, np.ndarray]) -> None:
    """Stores one generation's examples ('planes', 'policy', 'value')."""
    self.generations[generation] = examples
    while len(self.generations) > self.window:
      self.generations.popitem(last=False)

  @property
  def num_positions(self) -> int:
    return sum(len(g['value']) for g in self.generations.values())

  def start_generation(self, generation: int) -> int:
    """Draws the generation's training sample; returns its step count
    (at least 1)."""
    pool = {k: np.concatenate([g[k] for g in self.generations.values()])
            for k in ('planes', 'policy', 'value')}
    rng = np.random.default_rng([self.seed, generation, 1])
    n = len(pool['value'])
    take = max(self.batch_size, int(round(self.train_fraction * n)))
    self._order = rng.choice(n, size=take, replace=take > n)
    self._pool, self._cursor = pool, 0
    self._rng = np.random.default_rng([self.seed, generation, 2])
    return max(1, take // self.batch_size)

  def next_batch(self) -> dict[str, np.ndarray]:
    """The next global batch of the current sample (cycling over it)."""
    if self._cursor + self.batch_size > len(self._order):
      self._rng.shuffle(self._order)
      self._cursor = 0
    idx = self._order[self._cursor:self._cursor + self.batch_size]
    self._cursor += self.batch_size
    planes = self._pool['planes'][idx]
    policy = self._pool['policy'][idx]
    if self.augment:
      ks = self._rng.integers(0, 8, size=len(idx))
      pairs = [_symmetry(p, q, int(k)) for p, q, k in zip(planes, policy, ks)]
      planes = np.stack([p for p, _ in pairs])
      policy = np.stack([q for _, q in pairs])
    return {'planes': planes.astype(np.bool_),
            'policy': policy.astype(np.float32),
            'value': self._pool['value'][idx].astype(np.float32)}


def replay_batches(replay: Replay, host, fill) -> Iterator[dict[str, np.ndarray]]:
  """This host's slices of the replay's batches; `fill()` stores a first
  generation when the window is empty (a stream read before any
  self-play)."""
  def global_batches():
    while True:
      if not replay.generations:
        fill()
      yield replay.next_batch()
  return synthetic.host_slices(global_batches(), host)


def examples_from_games(planes, policy, value, valid) -> dict[str, np.ndarray]:
  """Host arrays of the positions that count, from ply-major game records
  ([T, B, ...] arrays, `valid` [T, B])."""
  valid = np.asarray(valid)
  return {'planes': np.asarray(planes)[valid],
          'policy': np.asarray(policy)[valid],
          'value': np.asarray(value)[valid]}

