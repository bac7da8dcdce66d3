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
from typing import Any, Callable, Sequence

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
  """SUT-side measurements, for plots and tests.

  Attributes:
    latencies_s: per sample, issue to completion (SUT clock).
    batch_sizes: per executed batch, the number of real samples.
    buckets: per executed batch, the compiled batch size it ran at.
    batch_waits_s: per batch, dispatch time minus the issue time of its
      oldest sample (Server: bounded by `max_wait_ms` plus scheduling).
    padded: padding rows executed in total (never completed).
  """
  latencies_s: list[float] = dataclasses.field(default_factory=list)
  batch_sizes: list[int] = dataclasses.field(default_factory=list)
  padded: int = 0
  buckets: list[int] = dataclasses.field(default_factory=list)
  batch_waits_s: list[float] = dataclasses.field(default_factory=list)


class BatchingSUT:
  """Serves `predict(inputs[B, ...]) -> outputs[B]` under a LoadGen scenario.

  Samples are queued by `issue_queries` (LoadGen's thread returns at once)
  and served by one worker thread. If `predict` raises, the error is kept in
  `error` (with the traceback printed), every affected and later sample is
  completed with an empty response so that no LoadGen waits forever, and,
  under the project's Python LoadGen, the next `issue_queries` raises so the
  test stops with the traceback in its detail log. Callers must check
  `error` after the test (`inference_run.run` raises it).

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
    if not self.buckets or self.buckets[0] < 1:
      raise ValueError(f'buckets must be positive batch sizes, got {buckets}')
    self.max_wait_s = max_wait_ms / 1e3
    self.response_dtype = np.dtype(response_dtype)
    self.stats = ServingStats()
    self.error: BaseException | None = None
    # Only our LoadGen turns an exception in issue_queries into a stopped
    # test; the official binding would abort the process.
    self._raise_in_issue = hasattr(lg, 'SUTError')
    sample = np.asarray(qsl.get_sample(0))
    self._sample = sample
    self._compiled = {
        b: jax.jit(predict).lower(jax.ShapeDtypeStruct(
            (b, *sample.shape), sample.dtype)).compile()
        for b in self.buckets}
    self._queue: queue.Queue = queue.Queue()
    self._in_flight = None
    self._worker = threading.Thread(target=self._serve, daemon=True)
    self._worker.start()
    self.handle = lg.ConstructSUT(self.issue_queries, self.flush_queries)

  # ---- LoadGen callbacks (run on LoadGen's issue thread: return fast) -----

  def issue_queries(self, samples) -> None:
    if self.error is not None and self._raise_in_issue:
      raise RuntimeError(f'predict failed: {self.error!r}') from self.error
    now = time.perf_counter()
    self._queue.put([(s.id, s.index, now) for s in samples])

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

  def _next_batch(self, pending: collections.deque) -> list | None:
    """Takes up to the largest bucket of pending samples.

    Offline/streams take what is queued now; Server waits up to
    `max_wait_s` from the oldest sample's issue for the batch to fill. The
    in-flight batch is completed before any wait, so finished results are
    never held back while the next batch fills.
    """
    largest = self.buckets[-1]
    server = self.scenario == 'Server'
    if not pending:
      try:
        got = self._queue.get_nowait()
      except queue.Empty:
        self._finish()
        got = self._queue.get()
      if got is None:
        return None
      pending.extend(got)
    while len(pending) < largest:
      try:
        got = self._queue.get_nowait()
      except queue.Empty:
        if not server:
          break
        self._finish()
        timeout = pending[0][2] + self.max_wait_s - time.perf_counter()
        if timeout <= 0:
          break
        try:
          got = self._queue.get(timeout=timeout)
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
    loaded = self.qsl.loaded
    x = np.empty((b, *self._sample.shape), self._sample.dtype)
    for k, (_, idx, _) in enumerate(items):
      x[k] = loaded[idx]
    if b > n:  # pad to the bucket; padded rows are never completed
      x[n:] = x[0]
      self.stats.padded += b - n
    self.stats.batch_waits_s.append(time.perf_counter() - items[0][2])
    self.stats.buckets.append(b)
    self.stats.batch_sizes.append(n)
    return items, self._compiled[b](jax.device_put(x))

  def _complete(self, items, values) -> None:
    """Completes `items` with the rows of `values` (one buffer, kept alive
    until QuerySamplesComplete returns)."""
    n = len(items)
    done = time.perf_counter()
    row = values.nbytes // n if n else 0
    addr = values.ctypes.data
    resp = self.lg.QuerySampleResponse
    responses = [resp(qid, addr + k * row, row)
                 for k, (qid, _, _) in enumerate(items)]
    self.stats.latencies_s.extend(done - t for _, _, t in items)
    self.lg.QuerySamplesComplete(responses)
    del values

  def _complete_empty(self, items) -> None:
    resp = self.lg.QuerySampleResponse
    self.lg.QuerySamplesComplete([resp(qid, 0, 0) for qid, _, _ in items])

  def _fail(self, error: BaseException, items) -> None:
    if self.error is None:
      self.error = error
      traceback.print_exception(error)
    self._complete_empty(items)

  def _finish(self) -> None:
    """Fetches and completes the in-flight batch, if any."""
    if self._in_flight is None:
      return
    items, out = self._in_flight
    self._in_flight = None
    try:
      values = np.ascontiguousarray(np.asarray(jax.device_get(out))[
          :len(items)], dtype=self.response_dtype)
    except Exception as e:  # pylint: disable=broad-except
      self._fail(e, items)
      return
    self._complete(items, values)

  def _serve(self) -> None:
    pending: collections.deque = collections.deque()
    while True:
      try:
        items = self._next_batch(pending)
        if items is None:  # destroy() was called
          self._finish()
          return
        if self.error is not None:  # drain: never leave LoadGen waiting
          self._finish()
          self._complete_empty(items)
          continue
        try:
          nxt = self._dispatch(items)   # transfer + launch the next batch
        except Exception as e:  # pylint: disable=broad-except
          self._fail(e, items)
          continue
        self._finish()                  # ... while this one's results return
        self._in_flight = nxt
      except BaseException as e:  # pylint: disable=broad-except
        # A failure outside predict (e.g. in QuerySamplesComplete): keep it
        # and keep draining rather than dying with samples outstanding.
        if self.error is None:
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
