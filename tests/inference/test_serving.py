# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`serving.BatchingSUT` with fake inference specs (no network) under a
LoadGen.

The fake model's `predict` runs on the host through `jax.pure_callback`, so
each executed batch is seen with its real (padded) shape and time; a sample
is {'x': int32 [4]} and the model returns {'y': 3 * x[:, 0] + 1} as int32,
so every response's bytes are known. A second spec serves 2-input samples
with several outputs and variable-length responses. Most cases use the
project's Python LoadGen (fast); some go through the official one.
"""

import collections
import gc
import queue
import sys
import threading
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax import api
from mlperf_jax.inference import serving
from mlperf_jax.loadgen import logs
from mlperf_jax.loadgen import official


class FakeModel:
  """Host-side stand-in for a model: records, optionally sleeps or fails."""

  def __init__(self, delay_s=0.0, fail_on_call=None):
    self.delay_s = delay_s
    self.fail_on_call = fail_on_call
    self.calls = []  # (rows executed, host time) since `arm`
    self.lock = threading.Lock()
    self.armed = False

  def arm(self):
    """Starts counting calls (after the SUT's warm-up)."""
    with self.lock:
      self.calls.clear()
      self.armed = True

  def host(self, x):
    with self.lock:
      self.calls.append((x.shape[0], time.perf_counter()))
      n = len(self.calls)
    if self.armed and n == self.fail_on_call:
      raise ValueError('fake model failure')
    if self.delay_s:
      time.sleep(self.delay_s)
    return (3 * x[:, 0] + 1).astype(np.int32)

  def predict(self, params, model_state, batch):
    del params, model_state
    x = batch['x']
    return {'y': jax.pure_callback(
        self.host, jax.ShapeDtypeStruct((x.shape[0],), jnp.int32), x)}


def _sample(i):
  return {'x': np.arange(i, i + 4, dtype=np.int32)}


def _encode(outputs, row):
  return np.asarray(outputs['y'][row], '<i4').tobytes()


def _expected_hex(i):
  return np.array([3 * i + 1], '<i4').tobytes().hex().upper()


def _spec(model, count, buckets=(1, 8, 32), **kwargs):
  """A fake workload's inference spec around `model`."""
  return api.InferenceSpec(
      count=count, performance_count=count, load_sample=_sample,
      buckets=lambda scenario: buckets, predict=model.predict,
      encode=_encode, accuracy=lambda responses: {}, metric='none', **kwargs)


def _run_test(lg, qsl, sut, scenario, mode, tmp_path, loadgen, **settings):
  s = lg.TestSettings()
  s.scenario = getattr(lg.TestScenario, scenario)
  s.mode = getattr(lg.TestMode, mode)
  s.min_duration_ms = 100
  s.min_query_count = 20
  if loadgen == 'python':
    s.completion_timeout_s = 10.0
  for k, v in settings.items():
    setattr(s, k, v)
  ls = lg.LogSettings()
  ls.log_output.outdir = str(tmp_path)
  ls.enable_trace = False
  try:
    lg.StartTestWithLogSettings(sut.handle, qsl.handle, s, ls,
                                'no-such-audit.config')
  finally:
    sut.destroy()
    qsl.destroy()
  return logs.parse_detail(tmp_path / 'mlperf_log_detail.txt')


def _serve(tmp_path, scenario, mode='PerformanceOnly', loadgen='python',
           count=64, buckets=(1, 8, 32), max_wait_ms=2.0, model=None,
           **settings):
  """Builds QSL + SUT, runs one test; returns (sut, model, detail, errors)."""
  lg = official.get(loadgen)
  model = model or FakeModel()
  spec = _spec(model, count, buckets)
  qsl = serving.SampleQSL.for_spec(lg, spec)
  sut = serving.BatchingSUT(lg, spec, qsl, scenario=scenario,
                            max_wait_ms=max_wait_ms)
  sut.warmup()
  model.arm()
  detail, errors = _run_test(lg, qsl, sut, scenario, mode, tmp_path, loadgen,
                             **settings)
  return sut, model, detail, errors


def _check_accuracy_log(tmp_path, count):
  entries = logs.read_accuracy(tmp_path / 'mlperf_log_accuracy.json')
  assert len(entries) == count
  assert len({e['seq_id'] for e in entries}) == count  # each once
  assert sorted(e['qsl_idx'] for e in entries) == list(range(count))
  for e in entries:
    assert e['data'] == _expected_hex(e['qsl_idx']), e


def test_bucket_is_the_smallest_that_fits():
  lg = official.get('python')
  spec = _spec(FakeModel(), 4, buckets=(16, 1, 4))
  qsl = serving.SampleQSL.for_spec(lg, spec)
  sut = serving.BatchingSUT(lg, spec, qsl, scenario='Offline')
  try:
    assert sut.buckets == [1, 4, 16]  # the spec's, sorted
    assert [sut._bucket(n) for n in (1, 2, 4, 5, 16)] == [1, 4, 4, 16, 16]  # pylint: disable=protected-access
  finally:
    sut.destroy()
  # An explicit list overrides the spec's.
  sut = serving.BatchingSUT(lg, spec, qsl, scenario='Offline', buckets=(2,))
  sut.destroy()
  assert sut.buckets == [2]
  with pytest.raises(ValueError, match='buckets'):
    serving.BatchingSUT(lg, spec, qsl, scenario='Offline', buckets=(0, 4))
  qsl.destroy()


@pytest.mark.parametrize('loadgen', ['python', 'official'])
def test_offline_uses_largest_bucket_and_completes_each_sample_once(
    tmp_path, loadgen):
  # 300 samples in one Offline query: 9 full batches of 32, then 12 real
  # rows padded to 32; the 20 padding rows are executed, never completed.
  sut, model, _, errors = _serve(tmp_path, 'Offline', 'AccuracyOnly',
                                 loadgen=loadgen, count=300)
  assert errors == []
  assert sut.error is None
  assert [rows for rows, _ in model.calls] == [32] * 10
  assert sut.stats.buckets == [32] * 10
  assert sut.stats.batch_sizes == [32] * 9 + [12]
  assert sut.stats.padded == 20
  assert len(sut.stats.latencies_s) == 300
  _check_accuracy_log(tmp_path, 300)


def test_multistream_pads_each_query_to_the_next_bucket(tmp_path):
  # Queries of 3 samples run at bucket 4; LoadGen sees exactly the issued
  # samples completed (a padded row completed would be an unknown or
  # duplicate id, logged as an error).
  sut, model, detail, errors = _serve(
      tmp_path, 'MultiStream', buckets=(1, 4, 16), count=40,
      multi_stream_samples_per_query=3,
      multi_stream_expected_latency_ns=50_000, min_query_count=30,
      min_duration_ms=50)
  assert errors == []
  queries = int(detail['result_query_count'])
  assert queries >= 30
  assert set(rows for rows, _ in model.calls) == {4}
  assert sut.stats.buckets == [4] * queries
  assert sut.stats.batch_sizes == [3] * queries
  assert sut.stats.padded == queries
  assert len(sut.stats.latencies_s) == 3 * queries


def test_server_trickle_waits_at_most_max_wait(tmp_path):
  # 40 QPS (mean gap 25 ms) rarely fills a batch of 8: a batch that goes
  # out partial must have waited for more samples for max_wait_ms (no
  # less). That it then goes at its deadline (no more) is the batching
  # logic's decision, checked without a real clock in
  # test_server_batch_deadline_is_the_oldest_sample_plus_max_wait: how late
  # a woken thread runs on a loaded machine is not asserted here.
  max_wait = 8.0
  switch, frozen = sys.getswitchinterval(), gc.get_freeze_count()
  sut, _, _, errors = _serve(
      tmp_path, 'Server', buckets=(1, 2, 4, 8), max_wait_ms=max_wait,
      server_target_qps=40, min_duration_ms=800, min_query_count=20,
      server_target_latency_ns=100_000_000)
  assert errors == []
  waits_ms = np.array(sut.stats.batch_waits_s) * 1e3
  sizes = np.array(sut.stats.batch_sizes)
  assert sizes.sum() == len(sut.stats.latencies_s) >= 20
  partial = sizes < 8
  assert partial.any(), sizes  # the deadline path ran
  assert waits_ms[partial].min() >= max_wait - 0.5, (waits_ms, sizes)
  # Our LoadGen tunes the GIL switch interval and freezes its objects out
  # of the GC while issuing; the SUT's process gets both back afterwards.
  assert sys.getswitchinterval() == switch
  assert gc.get_freeze_count() == frozen


class _FakeClock:
  """`time.perf_counter` for the batching logic; only `_FakeQueue` moves it."""

  def __init__(self):
    self.now = 0.0

  def perf_counter(self):
    return self.now


class _FakeQueue:
  """The SUT's queue with scripted arrivals [(issue time, [items])].

  `get(timeout)` records the timeout and jumps the clock to the next
  arrival if it comes within the timeout, else to the timeout's end.
  """

  def __init__(self, clock, arrivals):
    self.clock, self.arrivals, self.events = clock, list(arrivals), []

  def get_nowait(self):
    if self.arrivals and self.arrivals[0][0] <= self.clock.now:
      return self.arrivals.pop(0)[1]
    raise queue.Empty

  def get(self, timeout=None):
    self.events.append(('wait', timeout))
    if self.arrivals and (timeout is None or
                          self.arrivals[0][0] <= self.clock.now + timeout):
      self.clock.now = max(self.clock.now, self.arrivals[0][0])
      return self.arrivals.pop(0)[1]
    if timeout is None:
      raise AssertionError('the worker would block forever')
    self.clock.now += timeout
    raise queue.Empty

  def put(self, item):
    self.arrivals.insert(0, (self.clock.now, item))


def test_server_batch_deadline_is_the_oldest_sample_plus_max_wait(
    monkeypatch):
  # The Server batching decision on a fake clock: a partial batch waits
  # exactly until its oldest sample's issue time + max_wait, then goes; a
  # full batch goes without waiting; a worker that comes back after the
  # deadline does not wait at all; the in-flight batch is completed before
  # any wait.
  clock = _FakeClock()
  monkeypatch.setattr(serving, 'time', clock)
  max_wait = 0.008

  def item(i, t):
    return (i, i, t)  # (response id, QSL index, issue time)

  arrivals = [(0.000, [item(0, 0.000)]),
              (0.025, [item(1, 0.025)]),
              (0.030, [item(2, 0.030)]),
              (0.050, [item(k, 0.050) for k in range(3, 11)]),
              (0.100, [item(11, 0.100)])]
  q = _FakeQueue(clock, arrivals)
  sut = types.SimpleNamespace(
      buckets=[1, 2, 4, 8], scenario='Server', max_wait_s=max_wait, _queue=q,
      _finish=lambda: q.events.append(('finish', clock.now)))
  pending = collections.deque()

  def next_batch():
    q.events.clear()
    return [i for i, _, _ in serving.BatchingSUT._next_batch(sut, pending)]  # pylint: disable=protected-access

  # Alone: waits the whole max_wait for company, none comes, goes at 8 ms.
  assert next_batch() == [0]
  assert q.events == [('finish', 0.0), ('wait', max_wait)]
  assert clock.now == pytest.approx(max_wait)
  # Sample 1 at 25 ms, sample 2 joins at 30 ms; the deadline stays that of
  # sample 1 (33 ms): the second wait is the 3 ms left, not a fresh 8 ms.
  assert next_batch() == [1, 2]
  assert [e for e, _ in q.events] == ['finish', 'wait', 'finish', 'wait',
                                      'finish', 'wait']
  waits = [t for e, t in q.events if e == 'wait']
  assert waits[0] is None  # idle: blocks for the next query
  assert waits[1:] == [pytest.approx(max_wait), pytest.approx(0.003)]
  assert clock.now == pytest.approx(0.025 + max_wait)
  # 8 samples at once fill the largest bucket: no wait for the deadline.
  assert next_batch() == list(range(3, 11))
  assert ('wait', max_wait) not in q.events
  assert clock.now == 0.050
  # Back after the deadline of a pending sample: it goes at once.
  pending.append(item(12, 0.051))
  clock.now = 0.051 + 2 * max_wait
  assert next_batch() == [12]
  assert q.events == [('finish', clock.now)]
  assert q.arrivals == [(0.100, [item(11, 0.100)])]  # not waited for


def test_server_burst_fills_batches(tmp_path):
  # 4000 QPS against a model taking 3 ms per batch: samples pile up while a
  # batch runs, so batches fill to the largest bucket without waiting.
  sut, _, _, errors = _serve(
      tmp_path, 'Server', buckets=(1, 2, 4, 8, 16), max_wait_ms=20.0,
      model=FakeModel(delay_s=0.003), server_target_qps=4000,
      min_duration_ms=300, min_query_count=100,
      server_target_latency_ns=1_000_000_000)
  assert errors == []
  sizes = np.array(sut.stats.batch_sizes)
  assert sizes.sum() == len(sut.stats.latencies_s) >= 1000
  assert sizes.max() == 16
  assert sizes[sizes == 16].sum() >= 0.5 * sizes.sum(), np.bincount(sizes)


def test_predict_exception_stops_the_test_under_our_loadgen(tmp_path):
  lg = official.get('python')
  model = FakeModel(fail_on_call=3)
  with pytest.raises(lg.SUTError) as info:
    _serve(tmp_path, 'SingleStream', buckets=(1,), model=model,
           single_stream_expected_latency_ns=1_000_000)
  assert 'fake model failure' in str(info.value.__cause__)
  # The failure stopped the test at once (not the completion timeout, not
  # min_duration): the failing call was the last predict, and the next
  # query's issue_queries raised.
  assert len(model.calls) == 3
  detail, errors = logs.parse_detail(tmp_path / 'mlperf_log_detail.txt')
  assert any('SUT issue_query raised' in e for e in errors)
  assert not [e for e in errors if 'did not complete' in e]
  assert detail['loadgen_version']  # the logs written so far are on disk


@pytest.mark.parametrize('loadgen', ['python', 'official'])
def test_predict_exception_in_offline_is_surfaced_not_a_hang(tmp_path,
                                                             loadgen):
  # The one Offline query was issued before the failure: the SUT completes
  # the failed and remaining samples empty so that LoadGen returns, and
  # keeps the error for the caller. LoadGen returned because every sample
  # was completed: our LoadGen logs no completion-timeout error (errors ==
  # []); a hang under the official one is caught by pytest-timeout.
  sut, _, _, errors = _serve(tmp_path, 'Offline', 'AccuracyOnly',
                             loadgen=loadgen, count=100,
                             model=FakeModel(fail_on_call=2))
  assert errors == []
  assert 'fake model failure' in str(sut.error)
  entries = logs.read_accuracy(tmp_path / 'mlperf_log_accuracy.json')
  assert sorted(e['qsl_idx'] for e in entries) == list(range(100))
  empty = [e for e in entries if e['data'] == '']
  assert 32 <= len(empty) <= 100 - 32  # the failed batch; not the first
  for e in entries:
    assert e['data'] in ('', _expected_hex(e['qsl_idx']))


# ---- multi-input samples -----------------------------------------------------

def _pair_sample(i):
  """A 2-input sample: float pixels [2, 3] and int ids [5] (exact in
  float32, so the device and NumPy agree bit for bit)."""
  return {'pixels': i + np.arange(6, dtype=np.float32).reshape(2, 3) / 8,
          'ids': (i * np.arange(5, dtype=np.int32)) % 7}


def _pair_predict(params, model_state, batch):
  return {'score': jnp.sum(batch['pixels'], (1, 2)) * params['w'],
          'ids': batch['ids'][:, ::-1] + model_state['shift']}


def _pair_encode(outputs, row):
  # Variable-length responses: the score, then the first `row % 3` ids.
  return (np.asarray(outputs['score'][row], '<f4').tobytes() +
          np.asarray(outputs['ids'][row][:row % 3], '<i4').tobytes())


def _pair_expected(i, row):
  """The response of sample `i` served at batch row `row`, from NumPy."""
  s = _pair_sample(i)
  score = np.float32(s['pixels'].sum()) * np.float32(2.0)
  ids = s['ids'][::-1] + np.int32(5)
  return (np.asarray(score, '<f4').tobytes() +
          np.asarray(ids[:row % 3], '<i4').tobytes())


class _ZeroPadCollate:
  """A workload's own collate: stacks, pads with zeros, records sizes."""

  def __init__(self):
    self.calls = []

  def __call__(self, samples, size):
    self.calls.append((len(samples), size))
    out = {}
    for k in samples[0]:
      rows = np.stack([s[k] for s in samples])
      pad = np.zeros((size - len(samples), *rows.shape[1:]), rows.dtype)
      out[k] = np.concatenate([rows, pad])
    return out


@pytest.mark.parametrize('loadgen, scenario, own_collate, constants', [
    ('python', 'Offline', False, None), ('official', 'Offline', False, False),
    ('python', 'Server', True, False), ('official', 'SingleStream', True,
                                        None)])
def test_serves_multi_input_pytree_samples(tmp_path, loadgen, scenario,
                                           own_collate, constants):
  # Samples with two inputs of different shapes and dtypes, outputs with
  # two leaves, params and model state reaching predict (compiled in as
  # constants or passed as arguments), and responses of different lengths:
  # each sample's logged bytes are exactly what NumPy computes for it.
  lg = official.get(loadgen)
  count = 50
  collate = _ZeroPadCollate() if own_collate else None
  spec = api.InferenceSpec(
      count=count, performance_count=count, load_sample=_pair_sample,
      buckets=lambda s: {'SingleStream': (1,)}.get(s, (1, 8, 32)),
      predict=_pair_predict, encode=_pair_encode,
      accuracy=lambda responses: {}, metric='none', collate=collate)
  qsl = serving.SampleQSL.for_spec(lg, spec)
  sut = serving.BatchingSUT(
      lg, spec, qsl, scenario=scenario, params={'w': jnp.float32(2.0)},
      model_state={'shift': jnp.int32(5)}, max_wait_ms=1.0,
      weights_as_constants=constants)
  # Tiny weights are compiled in unless the caller says otherwise.
  assert sut.weights_as_constants == (constants is None)
  sut.warmup()
  assert isinstance(qsl.load_sample(0), dict)
  _, errors = _run_test(lg, qsl, sut, scenario, 'AccuracyOnly', tmp_path,
                        loadgen, server_target_qps=2000,
                        server_target_latency_ns=1_000_000_000,
                        single_stream_expected_latency_ns=100_000)
  assert errors == []
  assert sut.error is None
  assert sum(sut.stats.batch_sizes) == count
  assert set(sut.stats.buckets) <= set(sut.buckets)
  entries = logs.read_accuracy(tmp_path / 'mlperf_log_accuracy.json')
  assert sorted(e['qsl_idx'] for e in entries) == list(range(count))
  # The row a sample ran at is not logged; its response length says
  # row % 3, and its bytes must match NumPy's for one such row.
  for e in entries:
    data = bytes.fromhex(e['data'])
    row = (len(data) - 4) // 4
    assert data == _pair_expected(e['qsl_idx'], row), e
  if scenario == 'Offline':
    # 50 samples in one query: a full batch of 32, then 18 padded to 32;
    # responses of rows 0, 1 and 2 of a batch have 4, 8 and 12 bytes.
    assert sut.stats.batch_sizes == [32, 18]
    lengths = collections.Counter(len(e['data']) // 2 for e in entries)
    assert lengths == {4: 11 + 6, 8: 11 + 6, 12: 10 + 6}
  if own_collate:
    # The spec's collate built every batch (after the warm-up's), padded
    # to the bucket it ran at.
    served = collate.calls[len(sut.buckets) * 2:]
    assert [n for n, _ in served] == sut.stats.batch_sizes
    assert [b for _, b in served] == sut.stats.buckets


def test_scenario_buckets_table_and_unknown_scenario():
  from mlperf_jax.api import scenario_buckets
  buckets = scenario_buckets({'Offline': [8, 32], 'Server': (1,)})
  assert buckets('Offline') == (8, 32) and buckets('Server') == (1,)
  with pytest.raises(ValueError, match=r"'MultiStream'.*\['Offline', 'Server'\]"):
    buckets('MultiStream')
