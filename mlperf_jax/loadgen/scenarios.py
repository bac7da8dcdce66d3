# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Issuing pre-generated queries and collecting completions, per scenario.

``IssueRun`` is one ``IssueQueries`` call of the official LoadGen: all
queries (with their scheduled offsets) exist before the clock starts; the
calling thread issues them (SingleStream/MultiStream one at a time after the
previous completed, Server at ``start + offset``, Offline all at once) and
``complete`` (reached from ``QuerySamplesComplete`` on any thread) stamps
each sample's completion time at entry. Latencies are computed afterwards
with numpy. A SUT that never completes is detected by a timeout; an
exception in the SUT stops issuing; both make the result INVALID.
"""

import ctypes
import gc
import sys
import threading
import time
import traceback

import numpy as np

from mlperf_jax.loadgen import metrics
from mlperf_jax.loadgen import rng

_clock = time.perf_counter_ns


class QuerySample:
  """``mlperf_loadgen.QuerySample``: a response id and a QSL index."""
  __slots__ = ('id', 'index')

  def __init__(self, id=0, index=0):  # pylint: disable=redefined-builtin
    self.id = id
    self.index = index

  def __repr__(self):
    return f'QuerySample(id={self.id}, index={self.index})'


class QuerySampleResponse:
  """``mlperf_loadgen.QuerySampleResponse``.

  ``data`` is a raw address (as for the official binding) or, as an
  extension, any object exposing the buffer protocol (bytes, numpy array).
  """
  __slots__ = ('id', 'data', 'size', 'n_tokens')

  def __init__(self, id=0, data=0, size=0, n_tokens=0):  # pylint: disable=redefined-builtin
    self.id = id
    self.data = data
    self.size = size
    self.n_tokens = n_tokens


def response_bytes(r):
  """The ``size`` bytes a response points at."""
  data, size = r.data, int(r.size)
  if isinstance(data, int):
    return ctypes.string_at(data, size) if data and size else b''
  return bytes(memoryview(data).cast('B'))[:size]


def freeze_gc():
  """Moves every object the GC tracks now out of its scans (``gc.freeze``).

  The official binding's ``QuerySample``/``QuerySampleResponse`` are not
  tracked by Python's GC; ours are, and a test pre-generates millions of
  them. Without this, each full collection triggered by the SUT's own
  allocations would rescan them all (Offline null SUT: 3x slower). Returns
  True when this call froze (nothing was frozen before), so that
  ``thaw_gc`` leaves a caller's own ``gc.freeze`` alone.
  """
  if gc.get_freeze_count():
    return False
  gc.freeze()
  return True


def thaw_gc(frozen):
  """Undoes ``freeze_gc`` (objects return to the oldest generation)."""
  if frozen:
    gc.unfreeze()


class _TimerSlack:
  """Lowers this thread's Linux timer slack (default 50 us) while issuing.

  Server issuing sleeps until each scheduled time instead of busy-waiting
  (a busy-wait holds the GIL and starves the SUT's Python worker threads);
  with the default slack each sleep overshoots by 50-90 us. A no-op where
  ``prctl`` is unavailable.
  """

  _SET, _GET = 29, 30  # PR_SET_TIMERSLACK, PR_GET_TIMERSLACK

  def __init__(self, slack_ns=1000):
    self.slack_ns = slack_ns
    self.old = None
    try:
      self.prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
      self.prctl = None

  def __enter__(self):
    if self.prctl is not None:
      old = self.prctl(self._GET, 0, 0, 0, 0)
      if old > 0 and self.prctl(self._SET, self.slack_ns, 0, 0, 0) == 0:
        self.old = old
    return self

  def __exit__(self, *exc):
    if self.old is not None:
      self.prctl(self._SET, self.old, 0, 0, 0)
      self.old = None


class _SwitchInterval:
  """Shortens the GIL switch interval while Server queries are issued.

  The official issue thread sleeps and keeps time in C++ and needs the GIL
  only to call ``issue_queries``; ours needs it at every wake-up. A SUT
  worker thread that is busy in Python and releases the GIL only briefly
  (JAX dispatch, numpy) re-takes it before the woken issue thread runs, so
  the issue thread waits for the forced switch: up to the interval (5 ms by
  default) per query, all of it counted as latency from the scheduled time.
  Restored afterwards; ``INTERVAL_S`` (seconds, or None) is the knob.
  """

  INTERVAL_S = 0.0002

  def __enter__(self):
    self.old = sys.getswitchinterval()
    if self.INTERVAL_S is not None and self.INTERVAL_S < self.old:
      sys.setswitchinterval(self.INTERVAL_S)
    return self

  def __exit__(self, *exc):
    sys.setswitchinterval(self.old)


class SUTError(RuntimeError):
  """The SUT raised; the test was stopped (the cause is chained)."""


class IssueRun:
  """One set's queries: issue them, record completions, build the result.

  Args:
    settings: ``EffectiveSettings``.
    gen: ``rng.GeneratedQueries``.
    id_base: sequence id of the first sample (ids are global per test).
    accuracy: accuracy mode (log every response).
    log_mask: bool array over samples to log in performance mode, or None.
    detail: the ``DetailLog``.
    timeout_s: how long to wait for outstanding completions.
  """

  def __init__(self, settings, gen, id_base, accuracy, log_mask, detail,
               timeout_s):
    self.s = settings
    self.gen = gen
    self.base = id_base
    self.n = len(gen.samples)
    self.accuracy = accuracy
    self.log_mask = log_mask
    self.detail = detail
    self.timeout_s = timeout_s
    self.done = [0] * self.n
    self.n_done = 0
    self.bad = []
    self.acc_entries = []
    self.lock = threading.Lock()
    self.signal = threading.Lock()
    self.signal.acquire()  # pylint: disable=consider-using-with
    self.wait_target = 0
    self.expected = None
    self.all_done = threading.Event()
    self.fault = None
    self.sut_exception = None
    self.start = 0
    self.issue_t = None
    self.queries_issued = 0
    self.samples_issued = 0
    self.gc_frozen = False

  # ---------------------------------------------------------------- completion
  def complete(self, responses, t):
    """Records ``responses`` completed at ``t`` (``QuerySamplesComplete``)."""
    done, base, n = self.done, self.base, self.n
    with self.lock:
      nbad = len(self.bad)
      for r in responses:
        j = r.id - base
        if 0 <= j < n and not done[j]:
          done[j] = t
        else:
          self.bad.append((r.id, 0 <= j < n))
      good = len(responses) - (len(self.bad) - nbad)
      if self.accuracy or self.log_mask is not None:
        self._log_data(responses)
      self.n_done += good
      if self.wait_target and self.n_done >= self.wait_target:
        self.wait_target = 0
        self.signal.release()
      if self.expected is not None and self.n_done >= self.expected:
        self.all_done.set()

  def is_logged(self, r):
    """Whether response ``r``'s data goes into the accuracy log."""
    j = r.id - self.base
    if not 0 <= j < self.n:
      return False
    return self.accuracy or (self.log_mask is not None and self.log_mask[j])

  def _log_data(self, responses):
    mask, samples, base, n = self.log_mask, self.gen.samples, self.base, self.n
    for r in responses:
      j = r.id - base
      if 0 <= j < n and (mask is None or mask[j]):
        self.acc_entries.append((r.id, samples[j], response_bytes(r)))

  # ------------------------------------------------------------------ issuing
  def _wait_for(self, target):
    """Blocks until ``target`` samples completed; False on timeout."""
    with self.lock:
      if self.n_done >= target:
        return True
      self.wait_target = target
    if self.signal.acquire(timeout=self.timeout_s):  # pylint: disable=consider-using-with
      return True
    with self.lock:
      self.wait_target = 0
      if self.n_done >= target:
        self.signal.acquire(blocking=False)
        return True
    return False

  def _call(self, issue, arg):
    try:
      issue(arg)
      return True
    except BaseException as e:  # pylint: disable=broad-except
      self.sut_exception = e
      self.fault = 'The SUT raised an exception; the test was stopped.'
      self.detail.error('error_runtime',
                        'SUT issue_query raised:\n' + traceback.format_exc())
      return False

  def issue_all(self, sut):
    """Issues the queries on the calling thread as the scenario requires."""
    s, gen = self.s, self.gen
    spq = gen.spq
    nq = gen.count
    samples = gen.samples
    base = self.base
    fast = sut.fast
    # Millions of acyclic objects: no collection while building them.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
      if fast:
        ids = list(range(base, base + self.n))
        payload = [(ids[q * spq:(q + 1) * spq],
                    samples[q * spq:(q + 1) * spq])
                   for q in range(nq)] if s.scenario != 'Offline' else None
      else:
        objs = list(map(QuerySample, range(base, base + self.n), samples))
        payload = ([objs[q * spq:(q + 1) * spq] for q in range(nq)]
                   if s.scenario != 'Offline' else None)
    finally:
      if gc_was_on:
        gc.enable()
    issue = ((lambda a: sut.issue(*a)) if fast else sut.issue)
    perf = not self.accuracy
    sc = s.scenario
    self.issue_t = issue_t = [0] * nq
    target_dur = s.target_duration_ms * 1_000_000
    max_dur = s.max_duration_ms * 1_000_000
    max_q = s.max_query_count
    min_q = s.min_query_count
    ran_out = sc != 'Server'
    issued = 0
    self.gc_frozen = freeze_gc()
    if sc == 'Offline':
      whole = (ids, samples) if fast else objs
      self.start = start = _clock()
      issue_t[0] = start
      issued = 1 if self._call(sut.issue if not fast else issue, whole) else 0
      ran_out = False
      if issued and perf:  # one query meets count 1 and duration 0
        self.detail.log('generic_message', 'Ending naturally: Minimum query '
                        'count and test duration met.')
    elif sc in ('SingleStream', 'MultiStream'):
      self.start = start = _clock()
      for q in range(nq):
        if q and not self._wait_for(q * spq):
          self.fault = self._timeout_message(q * spq)
          break
        now = _clock()
        issue_t[q] = now
        if not self._call(issue, payload[q]):
          break
        issued += 1
        if not perf:
          continue
        if issued >= min_q and now - start >= target_dur:
          self.detail.log('generic_message', 'Ending naturally: Minimum query '
                          'count and test duration met.')
          ran_out = False
          break
        if max_q and issued >= max_q:
          self.detail.error('error_runtime', 'IssueQueryThread 0 Ending '
                            f'early: Max query count reached. query_count '
                            f'{issued}')
          ran_out = False
          break
        if max_dur and now - start > max_dur:
          self.detail.error('error_runtime', 'IssueQueryThread 0 Ending '
                            'early: Max test duration reached. duration_ns '
                            f'{now - start}')
          ran_out = False
          break
    else:
      with _TimerSlack(), _SwitchInterval():
        issued = self._issue_server(issue, payload, perf)
    self.queries_issued = issued
    self.samples_issued = (self.n if sc == 'Offline' and issued else
                           issued * spq)
    if perf and ran_out and self.fault is None:
      self.detail.error(
          'error_runtime',
          'Ending early: Ran out of generated queries to issue before the '
          'minimum query count and test duration were reached. Please update '
          'the relevant expected latency or target qps in the TestSettings '
          'so they are more accurate.')
    return issued

  def _issue_server(self, issue, payload, perf):
    s = self.s
    offs = self.gen.offsets_ns
    nq = len(offs)
    self.issue_t = issue_t = [0] * nq
    # As the official issue thread: the clock starts now and the first query
    # (offset 0) goes out at once. No lead-in sleep: waking from one on a
    # busy machine made the first query up to milliseconds late.
    self.start = start = _clock()
    targets = [start + o for o in offs]
    sleep = time.sleep
    clock = _clock
    max_async = s.max_async_queries if perf else 0
    max_q = s.max_query_count if perf else 0
    max_dur = s.max_duration_ms * 1_000_000 if perf else 0
    coalesce = bool(s.requested.server_coalesce_queries)
    checks = max_async or max_q or max_dur or coalesce
    call = self._call
    issued = 0
    q = 0
    if not checks:
      for q in range(nq):
        tgt = targets[q]
        now = clock()
        while now < tgt:  # sleep_until: the GIL is free meanwhile
          sleep((tgt - now) * 1e-9)
          now = clock()
        try:
          issue(payload[q])
        except BaseException:  # pylint: disable=broad-except
          call(_reraise, None)
          return q
      return nq
    while q < nq:
      tgt = targets[q]
      now = clock()
      while now < tgt:
        sleep((tgt - now) * 1e-9)
        now = clock()
      issue_t[q] = now
      arg = payload[q]
      first = q
      if coalesce:
        while q + 1 < nq and now >= targets[q + 1]:
          q += 1
        if q > first:
          arg = [x for k in range(first, q + 1) for x in payload[k]] if not (
              isinstance(arg, tuple)) else (
                  [i for k in range(first, q + 1) for i in payload[k][0]],
                  [i for k in range(first, q + 1) for i in payload[k][1]])
      if not call(issue, arg):
        return issued
      issued += q - first + 1
      q += 1
      if max_async and issued - self.n_done > max_async:
        self.detail.error('error_runtime', 'IssueQueryThread 0 Ending early: '
                          f'Too many outstanding queries. issued {issued} '
                          f'outstanding {issued - self.n_done}')
        break
      if max_q and issued >= max_q:
        self.detail.error('error_runtime', 'IssueQueryThread 0 Ending early: '
                          f'Max query count reached. query_count {issued}')
        break
      if max_dur and now - start > max_dur:
        self.detail.error('error_runtime', 'IssueQueryThread 0 Ending early: '
                          'Max test duration reached. duration_ns '
                          f'{now - start}')
        break
    return issued

  def _timeout_message(self, target):
    missing = target - self.n_done
    return (f'The SUT did not complete {missing} of {target} issued samples '
            f'within {self.timeout_s:g} s (completion timeout); the test was '
            'stopped and is INVALID. Every issued sample must be completed '
            'exactly once with QuerySamplesComplete.')

  def wait_all(self):
    """Waits for every issued sample (bounded by the timeout)."""
    with self.lock:
      self.expected = self.samples_issued
      if self.n_done >= self.expected:
        self.all_done.set()
    if self.fault is None and not self.all_done.wait(self.timeout_s):
      self.fault = self._timeout_message(self.samples_issued)
    if self.fault and self.sut_exception is None:
      self.detail.error('error_runtime', self.fault)
    for rid, known in self.bad:
      if known:
        self.detail.error('error_runtime',
                          f'Attempted to complete a sample twice. id {rid}')
      else:
        self.detail.error('error_runtime', 'QuerySamplesComplete got an '
                          f'unknown response id {rid}')

  # ------------------------------------------------------------------ results
  def result(self):
    """The ``metrics.PerformanceResult`` over the completed issued samples."""
    s, gen = self.s, self.gen
    m = self.samples_issued
    spq = gen.spq
    done = np.asarray(self.done[:m], np.int64)
    ok = done > 0
    start = self.start
    sc = s.scenario
    nq = self.queries_issued
    if sc == 'Offline':
      sched = np.full(m, start, np.int64)
    elif sc == 'Server':
      sched = start + np.asarray(gen.offsets_ns[:m], np.int64)
    else:
      sched = np.repeat(np.asarray(self.issue_t[:nq], np.int64), spq)[:m]
    lat = (done - sched)[ok]
    query_lat = None
    if sc == 'MultiStream' and nq:
      qd = done[:nq * spq].reshape(nq, spq)
      qok = (qd > 0).all(axis=1)
      query_lat = (qd.max(axis=1) - np.asarray(self.issue_t[:nq]))[qok]
    max_done = int(done[ok].max()) if ok.any() else start
    if nq:
      last = nq - 1
      if sc == 'Server':
        sched_last = gen.offsets_ns[last]
      elif sc == 'Offline':
        sched_last = 0
      else:
        sched_last = self.issue_t[last] - start
      issued_last = self.issue_t[last] - start if sc != 'Server' else (
          sched_last)
      if sc == 'Offline':
        last_done = max_done
      else:
        qd = done[last * spq:(last + 1) * spq]
        last_done = int(qd.max()) if (qd > 0).all() else max_done
    else:
      sched_last = issued_last = 0
      last_done = start
    max_latency = int(lat.max()) / 1e9 if lat.size else 0.0
    return metrics.PerformanceResult(
        lat, query_lat, nq, max_latency, sched_last / 1e9, issued_last / 1e9,
        (last_done - start) / 1e9)

  def max_completion_ns(self):
    done = [d for d in self.done[:self.samples_issued] if d]
    return max(done) if done else self.start


def _reraise(_):
  raise  # pylint: disable=misplaced-bare-raise


def accuracy_log_mask(settings, id_base, count):
  """Which samples a performance run logs (TEST01), or None for none."""
  s = settings
  prob = s.accuracy_log_probability
  expected = int(s.target_qps * s.min_duration_ms / 1000)
  minimum = s.min_query_count * s.samples_per_query
  if s.scenario != 'Offline':
    expected *= s.samples_per_query
  else:
    minimum = s.min_sample_count
  expected = max(expected, minimum)
  if s.accuracy_log_sampling_target > 0:
    prob = s.accuracy_log_sampling_target / expected
  if prob <= 0:
    return None
  offset = float(rng.Engine(s.accuracy_log_rng_seed).canonicals(1)[0])
  u = rng.Engine().canonicals(id_base + count)[id_base:]
  val = u + offset
  val = np.where(val < 1.0, val, val - 1.0)
  return (val <= prob).tolist()
