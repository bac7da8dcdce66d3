# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""JAX serving for MLPerf Inference: a QSL over host arrays and a batching SUT.

The SUT works with either LoadGen: it is handed the LoadGen module (`lg`,
the official `mlperf_loadgen` or `mlperf_jax.loadgen.pyloadgen`) and only
uses the names both expose.

* One executable per batch bucket is compiled ahead of time and run once
  before the test starts (`warmup`); a batch is padded up to the nearest
  bucket.
* Offline feeds the largest buckets; Server batches dynamically, waiting at
  most `max_wait_ms` for a batch to fill; SingleStream runs batch 1 and
  MultiStream 8 (the queries' own sizes).
* Host-to-device transfer overlaps compute: the next batch is put on the
  device and dispatched before the previous batch's results are fetched.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import queue
import threading
import time
import traceback
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np


class SampleQSL:
  """A query sample library over an indexable data set.

  The rules want the performance set in host memory before timing starts:
  `load` materialises the requested samples (decoding/preprocessing happens
  here, untimed), `unload` drops them.

  Args:
    lg: the LoadGen module.
    count: total samples (the accuracy set).
    performance_count: samples that fit in host memory (the performance set).
    get_sample: index -> input array of one sample.
  """

  def __init__(self, lg, count: int, performance_count: int,
               get_sample: Callable[[int], np.ndarray]):
    self.count = count
    self.get_sample = get_sample
    self.loaded: dict[int, np.ndarray] = {}
    self.handle = lg.ConstructQSL(count, min(performance_count, count),
                                  self.load, self.unload)
    self._lg = lg

  def load(self, indices: Sequence[int]) -> None:
    for i in indices:
      self.loaded[int(i)] = np.ascontiguousarray(self.get_sample(int(i)))

  def unload(self, indices: Sequence[int]) -> None:
    for i in indices:
      self.loaded.pop(int(i), None)

  def destroy(self) -> None:
    self._lg.DestroyQSL(self.handle)


@dataclasses.dataclass
class ServingStats:
  """SUT-side latencies (issue to completion) and batch sizes, for plots."""
  latencies_s: list[float] = dataclasses.field(default_factory=list)
  batch_sizes: list[int] = dataclasses.field(default_factory=list)
  padded: int = 0


class BatchingSUT:
  """Serves `predict(inputs[B, ...]) -> outputs[B]` under a LoadGen scenario.

  Args:
    lg: the LoadGen module.
    predict: jitted function of a batch of inputs; returns per-sample outputs.
    qsl: the `SampleQSL` providing loaded samples.
    scenario: 'SingleStream' | 'MultiStream' | 'Server' | 'Offline'.
    buckets: batch sizes compiled ahead of time.
    max_wait_ms: Server only: the longest a sample waits for its batch.
    response_dtype: dtype of each sample's response bytes.
  """

  def __init__(self, lg, predict: Callable[[Any], jax.Array], qsl: SampleQSL,
               *, scenario: str, buckets: Sequence[int] = (1, 8, 32, 128),
               max_wait_ms: float = 2.0, response_dtype=np.int32):
    self.lg = lg
    self.qsl = qsl
    self.scenario = scenario
    self.buckets = sorted(set(int(b) for b in buckets))
    self.max_wait_s = max_wait_ms / 1e3
    self.response_dtype = np.dtype(response_dtype)
    self.stats = ServingStats()
    self.error: BaseException | None = None
    sample = np.asarray(qsl.get_sample(0))
    self._sample = sample
    self._compiled = {
        b: jax.jit(predict).lower(jax.ShapeDtypeStruct(
            (b, *sample.shape), sample.dtype)).compile()
        for b in self.buckets}
    self._queue: queue.Queue = queue.Queue()
    self._issue_time: dict[int, float] = {}
    self._worker = threading.Thread(target=self._serve, daemon=True)
    self._worker.start()
    self.handle = lg.ConstructSUT(self.issue_queries, self.flush_queries)

  # ---- LoadGen callbacks (run on LoadGen's issue thread: return fast) -----

  def issue_queries(self, samples) -> None:
    now = time.perf_counter()
    items = [(int(s.id), int(s.index), now) for s in samples]
    self._queue.put(items)

  def flush_queries(self) -> None:
    pass

  # ---- serving -------------------------------------------------------------

  def warmup(self) -> None:
    """Runs every bucket once so the first query pays no start-up cost."""
    sample = self._sample
    for b, f in self._compiled.items():
      jax.block_until_ready(f(np.broadcast_to(sample, (b, *sample.shape))))

  def _bucket(self, n: int) -> int:
    i = bisect.bisect_left(self.buckets, n)
    return self.buckets[min(i, len(self.buckets) - 1)]

  def _next_batch(self, pending: collections.deque) -> list:
    """Takes up to the largest bucket of pending samples (Server: waits up to
    `max_wait_s` from the oldest sample's issue for the batch to fill)."""
    largest = self.buckets[-1]
    if not pending:
      got = self._queue.get()
      if got is None:
        return None
      pending.extend(got)
    while len(pending) < largest:
      if self.scenario == 'Server':  # wait for the batch to fill, bounded
        timeout = pending[0][2] + self.max_wait_s - time.perf_counter()
        if timeout <= 0:
          break
      else:  # take what is there now
        timeout = None
      try:
        got = (self._queue.get(timeout=timeout) if timeout is not None
               else self._queue.get_nowait())
      except queue.Empty:
        break
      if got is None:  # stop: serve what we have, then stop next time
        self._queue.put(None)
        break
      pending.extend(got)
    return [pending.popleft() for _ in range(min(largest, len(pending)))]

  def _dispatch(self, items):
    n = len(items)
    b = self._bucket(n)
    x = np.stack([self.qsl.loaded[idx] for _, idx, _ in items])
    if b > n:  # pad to the bucket; padded rows are never completed
      x = np.concatenate([x, np.repeat(x[:1], b - n, axis=0)])
      self.stats.padded += b - n
    return items, self._compiled[b](jax.device_put(x))

  def _complete(self, items, out) -> None:
    values = np.asarray(jax.device_get(out))[:len(items)].astype(
        self.response_dtype)
    done = time.perf_counter()
    buffers, responses = [], []
    for (qid, _, t_issue), v in zip(items, values):
      buf = np.ascontiguousarray(np.atleast_1d(v))
      buffers.append(buf)  # must outlive QuerySamplesComplete
      responses.append(self.lg.QuerySampleResponse(qid, buf.ctypes.data,
                                                   buf.nbytes))
      self.stats.latencies_s.append(done - t_issue)
    self.stats.batch_sizes.append(len(items))
    self.lg.QuerySamplesComplete(responses)
    del buffers

  def _serve(self) -> None:
    pending: collections.deque = collections.deque()
    in_flight = None
    try:
      while True:
        if in_flight is not None and not pending and self._queue.empty():
          self._complete(*in_flight)  # nothing to overlap with: finish now
          in_flight = None
        items = self._next_batch(pending)
        if items is None:  # stop() was called
          if in_flight is not None:
            self._complete(*in_flight)
          return
        nxt = self._dispatch(items)   # transfer + launch the next batch ...
        if in_flight is not None:
          self._complete(*in_flight)  # ... while this one's results return
        in_flight = nxt
    except BaseException as e:  # pylint: disable=broad-except
      self.error = e
      traceback.print_exc()

  def destroy(self) -> None:
    self._queue.put(None)
    self._worker.join(timeout=10)
    self.lg.DestroySUT(self.handle)


def latency_histogram(stats: ServingStats, path: str, title: str) -> bool:
  """Writes a PNG histogram of SUT-side latencies; False without matplotlib."""
  try:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  except ImportError:
    return False
  lat_ms = np.asarray(stats.latencies_s) * 1e3
  fig, ax = plt.subplots(figsize=(6, 3.5))
  ax.hist(lat_ms, bins=60)
  for q, style in ((50, ':'), (90, '--'), (99, '-')):
    if len(lat_ms):
      ax.axvline(np.percentile(lat_ms, q), color='k', ls=style, label=f'p{q}')
  ax.set_xlabel('latency (ms, SUT side: issue to completion)')
  ax.set_ylabel('samples')
  ax.set_title(title)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return True
