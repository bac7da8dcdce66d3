# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""JAX serving for MLPerf Inference: a QSL over sample pytrees and a
batching SUT, both driven by a workload's `api.InferenceSpec`.

The SUT works with either LoadGen: it is handed the LoadGen module (`lg`,
the official `mlperf_loadgen` or `mlperf_jax.loadgen.pyloadgen`) and only
uses the names both expose.

* A sample is a pytree (dict) of host arrays, loaded by the QSL (untimed).
  A batch is the spec's `collate` of its samples, padded up to the nearest
  bucket (default `api.stack_samples`: stack each leaf, repeat the last).
* One executable of `predict(params, model_state, batch)` per bucket is
  compiled ahead of time and run once before the test starts (`warmup`);
  small weights are compiled in as constants, large ones passed as
  arguments (one device copy shared by the buckets).
* Offline feeds the largest buckets; Server batches dynamically, waiting at
  most `max_wait_ms` for a batch to fill; SingleStream and MultiStream run
  the buckets the workload gives them (their queries' own sizes).
* Host-to-device transfer overlaps compute: the next batch is put on the
  device and dispatched before the previous batch's results are fetched.
* The output pytree comes back to the host once per batch; each real row is
  encoded by the spec's `encode` (padding rows are never encoded or
  completed) and all of a batch's responses point into one buffer.
* A spec with `run_samples` (samples that are not one batch row each, e.g.
  the U-Net's whole volumes) gets the samples and an `execute(bucket,
  batch)` instead: the buckets are then its executables' batch sizes,
  compiled for `batch_inputs(bucket)`, whatever the samples' shapes.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import functools
import queue
import sys
import threading
import time
import traceback
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np

from mlperf_jax import api


def _host_sample(sample: Any) -> Any:
  """A sample pytree with every leaf a C-contiguous host array."""
  # np.require keeps 0-d leaves 0-d (np.ascontiguousarray makes them 1-d).
  return jax.tree.map(lambda a: np.require(a, requirements='C'), sample)


class SampleQSL:
  """A query sample library over an indexable data set of sample pytrees.

  The rules want the performance set in host memory before timing starts:
  `load` materialises the requested samples (decoding/preprocessing happens
  here, untimed), `unload` drops them.

  Args:
    lg: the LoadGen module.
    count: total samples (the accuracy set).
    performance_count: samples that fit in host memory (the performance set).
    load_sample: index -> one sample, a pytree (dict) of host arrays.
  """

  def __init__(self, lg, count: int, performance_count: int,
               load_sample: Callable[[int], Mapping[str, np.ndarray]]):
    self.count = count
    self.load_sample = load_sample
    self.loaded: dict[int, Any] = {}
    # Called with the indices before `unload` drops them (a SUT drains or
    # cancels the samples it still holds: `BatchingSUT.before_unload`).
    self.unload_hooks: list[Callable[[Sequence[int]], None]] = []
    self.handle = lg.ConstructQSL(count, min(performance_count, count),
                                  self.load, self.unload)
    self._lg = lg

  @classmethod
  def for_spec(cls, lg, spec: api.InferenceSpec) -> 'SampleQSL':
    return cls(lg, spec.count, spec.performance_count, spec.load_sample)

  def load(self, indices: Sequence[int]) -> None:
    for i in indices:
      self.loaded[int(i)] = _host_sample(self.load_sample(int(i)))

  def unload(self, indices: Sequence[int]) -> None:
    for hook in self.unload_hooks:
      hook(indices)
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


# Weights up to this size are compiled into the executables (see
# `BatchingSUT`'s `weights_as_constants`): the mini ResNet's 0.5 MB are,
# ResNet-50's 100 MB (times one executable per bucket) are not.
CONSTANT_WEIGHTS_BYTES = 32 << 20


class BatchingSUT:
  """Serves a workload's `InferenceSpec` under a LoadGen scenario.

  Samples are queued by `issue_queries` (LoadGen's thread returns at once)
  and served by one worker thread. Before the QSL unloads samples, samples
  still queued or in flight are cancelled (never read or completed): a
  LoadGen unloads with samples outstanding only after it stopped waiting for
  them (the Python LoadGen's completion timeout), and completing them then
  would report to no running test. If `predict` (or `collate`/`encode`)
  raises, the error is kept in `error` (with the traceback printed), every
  affected and later sample is completed with an empty response so that no
  LoadGen waits forever, and, under the project's Python LoadGen, the next
  `issue_queries` raises so the test stops with the traceback in its detail
  log. Callers must check `error` after the test (`inference_run.run`
  raises it).

  Args:
    lg: the LoadGen module.
    spec: the workload's inference spec (predict, encode, collate, buckets).
    qsl: the `SampleQSL` providing loaded samples.
    scenario: 'SingleStream' | 'MultiStream' | 'Server' | 'Offline'.
    params, model_state: the first two arguments of `spec.predict`, put on
      the device once.
    buckets: batch sizes compiled ahead of time; default
      `spec.buckets(scenario)`.
    max_wait_ms: Server only: the longest a sample waits for its batch.
    weights_as_constants: compile `params` and `model_state` into each
      bucket's executable as constants (XLA then lays the weights out and
      folds them ahead of time; the mini ResNet's batch of 128 ran about
      1.5x faster so on a 2-core CPU) instead of passing them as arguments
      on every call (one copy on the device, shared by the buckets). None:
      constants when they take at most `CONSTANT_WEIGHTS_BYTES`.
  """

  def __init__(self, lg, spec: api.InferenceSpec, qsl: SampleQSL, *,
               scenario: str, params: Any = None, model_state: Any = None,
               buckets: Sequence[int] | None = None,
               max_wait_ms: float = 2.0,
               weights_as_constants: bool | None = None):
    self.lg = lg
    self.qsl = qsl
    self.scenario = scenario
    if buckets is None:
      buckets = spec.buckets(scenario)
    self.buckets = sorted(set(int(b) for b in buckets))
    if not self.buckets or self.buckets[0] < 1:
      raise ValueError(f'buckets must be positive batch sizes, got {buckets}')
    self.max_wait_s = max_wait_ms / 1e3
    self.encode = spec.encode
    self.collate = spec.collate or api.stack_samples
    self.run_samples = spec.run_samples
    self.stats = ServingStats()
    self.error: BaseException | None = None
    # Only our LoadGen turns an exception in issue_queries into a stopped
    # test; the official binding would abort the process.
    self._raise_in_issue = hasattr(lg, 'SUTError')
    weights = (params, model_state)
    if weights_as_constants is None:
      weights_as_constants = sum(
          int(getattr(x, 'nbytes', 0)) for x in jax.tree.leaves(weights)
      ) <= CONSTANT_WEIGHTS_BYTES
    self.weights_as_constants = weights_as_constants
    if weights_as_constants:
      self._args = ()
      predict = jax.jit(functools.partial(spec.predict, params, model_state))
    else:
      self._args = jax.device_put(weights)
      predict = jax.jit(spec.predict)
    # One sample (untimed) fixes every bucket's batch shapes and dtypes.
    self._sample = _host_sample(qsl.load_sample(0))
    self._compiled = {}
    self._inputs = {}
    for b in self.buckets:
      shapes = (spec.batch_inputs(b) if spec.batch_inputs is not None else
                jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                             self.collate([self._sample], b)))
      self._inputs[b] = shapes
      self._compiled[b] = predict.lower(*self._args, shapes).compile()
    self._queue: queue.Queue = queue.Queue()
    self._in_flight = None
    # Queued items carry the epoch they were issued in; `before_unload`
    # starts a new epoch, and the worker drops items of older ones. The lock
    # covers reading loaded samples and completing (so never after unload).
    self._lock = threading.Lock()
    self._epoch = 0
    self._n_issued = 0   # written by LoadGen's issue thread only
    self._n_done = 0     # written under the lock
    self.cancelled = 0
    qsl.unload_hooks.append(self.before_unload)
    self._worker = threading.Thread(target=self._serve, daemon=True)
    self._worker.start()
    self.handle = lg.ConstructSUT(self.issue_queries, self.flush_queries)

  # ---- LoadGen callbacks (run on LoadGen's issue thread: return fast) -----

  def issue_queries(self, samples) -> None:
    if self.error is not None and self._raise_in_issue:
      raise RuntimeError(f'predict failed: {self.error!r}') from self.error
    now = time.perf_counter()
    epoch = self._epoch
    items = [(s.id, s.index, now, epoch) for s in samples]
    self._n_issued += len(items)
    self._queue.put(items)

  def flush_queries(self) -> None:
    pass

  def before_unload(self, indices: Sequence[int]) -> None:
    """QSL unload hook: cancels samples LoadGen stopped waiting for."""
    del indices
    with self._lock:
      missing = self._n_issued - self._n_done
      if missing <= 0:
        return
      self._epoch += 1
      self._n_done = self._n_issued
      self.cancelled += missing
    print(f'SUT: the LoadGen unloads samples with {missing} issued samples '
          'not completed (it stopped waiting for them: see the errors in '
          'its detail log); they were cancelled, not served.',
          file=sys.stderr, flush=True)

  # ---- serving -------------------------------------------------------------

  def warmup(self) -> None:
    """Runs every bucket once so the first query pays no start-up cost."""
    for b, f in self._compiled.items():
      batch = (jax.tree.map(lambda s: np.zeros(s.shape, s.dtype),
                            self._inputs[b]) if self.run_samples else
               self.collate([self._sample], b))
      jax.block_until_ready(f(*self._args, batch))

  def _execute(self, bucket: int, batch):
    """Runs `bucket`'s executable on a host batch (for `run_samples`)."""
    return self._compiled[bucket](*self._args, jax.device_put(batch))

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

  def _live(self, items) -> list:
    """The items not cancelled by `before_unload` (call under the lock)."""
    epoch = self._epoch
    return [it for it in items if it[3] == epoch]

  def _dispatch(self, items):
    """Collates and launches `items`; None if all were cancelled."""
    with self._lock:
      items = self._live(items)
      if not items:
        return None
      n = len(items)
      b = self._bucket(n)
      samples = [self.qsl.loaded[it[1]] for it in items]
      # collate pads to the bucket; padded rows are never completed.
      batch = None if self.run_samples else self.collate(samples, b)
    self.stats.batch_waits_s.append(time.perf_counter() - items[0][2])
    self.stats.buckets.append(b)
    self.stats.batch_sizes.append(n)
    if self.run_samples:
      return items, self.run_samples(self._execute, samples)
    self.stats.padded += b - n
    return items, self._compiled[b](*self._args, jax.device_put(batch))

  def _encode(self, outputs, n: int) -> tuple[np.ndarray, list[int]]:
    """The responses of rows 0..n-1 of host `outputs`, in one buffer, and
    their sizes."""
    parts = [self.encode(outputs, k) for k in range(n)]
    return np.frombuffer(b''.join(parts), np.uint8), [len(p) for p in parts]

  def _complete(self, items, buffer: np.ndarray, sizes: Sequence[int]
                ) -> None:
    """Completes `items` with consecutive slices of `buffer` (kept alive
    until QuerySamplesComplete returns: LoadGen copies the bytes)."""
    done = time.perf_counter()
    addr = buffer.ctypes.data
    resp = self.lg.QuerySampleResponse
    with self._lock:
      epoch = self._epoch
      responses = []
      offset = 0
      for (qid, _, t, e), size in zip(items, sizes):
        if e == epoch:
          responses.append(resp(qid, addr + offset, size))
          self.stats.latencies_s.append(done - t)
        offset += size
      if responses:
        self._n_done += len(responses)
        self.lg.QuerySamplesComplete(responses)
    del buffer

  def _complete_empty(self, items) -> None:
    resp = self.lg.QuerySampleResponse
    with self._lock:
      live = self._live(items)
      if live:
        self._n_done += len(live)
        self.lg.QuerySamplesComplete([resp(it[0], 0, 0) for it in live])

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
      buffer, sizes = self._encode(jax.device_get(out), len(items))
    except Exception as e:  # pylint: disable=broad-except
      self._fail(e, items)
      return
    self._complete(items, buffer, sizes)

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
        self._in_flight = nxt           # None: all cancelled
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
