# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Pure-Python LoadGen with the public API of ``mlperf_loadgen`` 6.0.17.

A SUT and QSL written for the official binding run unchanged::

  import mlperf_jax.loadgen as lg   # or: import mlperf_loadgen as lg
  sut = lg.ConstructSUT(issue_queries, flush_queries)
  qsl = lg.ConstructQSL(total, performance, load, unload)
  lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)

The same seeds give the same loadable sets, sample order and Server
schedule as the official LoadGen; the logs have the official layout and
keys. Extensions: ``QuerySampleResponse.data`` may also be a buffer
(bytes/numpy); ``TestSettings.completion_timeout_s`` bounds the wait for a
SUT that never completes (error + INVALID instead of a hang); an exception
in the SUT stops the test, is logged with its traceback and re-raised from
``StartTest`` as ``SUTError`` after the logs are written; settings the
official LoadGen would run into undefined behaviour with (a
``performance_issue_same_index`` outside the loaded set) raise
``ConfigError`` before anything is loaded.
"""

import datetime
import hashlib
import math
import os
import sys
import threading
import time
import traceback

from mlperf_jax.loadgen import logs
from mlperf_jax.loadgen import metrics
from mlperf_jax.loadgen import mlperf_conf
from mlperf_jax.loadgen import rng
from mlperf_jax.loadgen import scenarios
from mlperf_jax.loadgen import settings as settings_lib
from mlperf_jax.loadgen.scenarios import QuerySample
from mlperf_jax.loadgen.scenarios import QuerySampleResponse
from mlperf_jax.loadgen.scenarios import SUTError
from mlperf_jax.loadgen.settings import ConfigError
from mlperf_jax.loadgen.settings import LoggingMode
from mlperf_jax.loadgen.settings import TestMode
from mlperf_jax.loadgen.settings import TestScenario

__all__ = [
    'ConfigError', 'ConstructFastSUT', 'ConstructQDL', 'ConstructQSL',
    'ConstructSUT', 'DestroyFastSUT', 'DestroyQDL', 'DestroyQSL', 'DestroySUT',
    'FirstTokenComplete', 'LogOutputSettings', 'LogSettings', 'LoggingMode',
    'QuerySample', 'QuerySampleResponse', 'QuerySamplesComplete', 'SUTError',
    'StartTest', 'StartTestWithLogSettings', 'TestMode', 'TestScenario',
    'TestSettings', 'VectorQuerySample', 'VectorQuerySampleResponse',
]

VERSION = f'{mlperf_conf.VERSION}-py (mlperf_jax pure-Python LoadGen)'
DEFAULT_COMPLETION_TIMEOUT_S = 60.0


class TestSettings(settings_lib.TestSettings):
  """Official ``TestSettings`` plus ``completion_timeout_s`` (ours)."""

  def __init__(self):
    super().__init__()
    self.completion_timeout_s = DEFAULT_COMPLETION_TIMEOUT_S


class LogOutputSettings:
  """Official ``LogOutputSettings``."""

  def __init__(self):
    self.outdir = '.'
    self.prefix = 'mlperf_log_'
    self.suffix = ''
    self.prefix_with_datetime = False
    self.copy_detail_to_stdout = False
    self.copy_summary_to_stdout = False


class LogSettings:
  """Official ``LogSettings`` (tracing is not implemented; no trace file)."""

  def __init__(self):
    self.log_output = LogOutputSettings()
    self.log_mode = LoggingMode.AsyncPoll
    self.log_mode_async_poll_interval_ms = 1000
    self.enable_trace = True


class _SUT:
  def __init__(self, issue, flush, fast):
    self.issue, self.flush, self.fast = issue, flush, fast
    self.name = 'PySUT'


class _QDL(_SUT):
  """A query dispatch library: a SUT whose name comes from a callback."""

  def __init__(self, issue, flush, name_cb):  # pylint: disable=super-init-not-called
    self.issue, self.flush, self.fast = issue, flush, False
    self._name_cb = name_cb

  @property
  def name(self):
    return str(self._name_cb())


class _TypedList(list):
  """A ``list`` that only holds ``_ITEM`` (like a pybind11 bound vector)."""

  _ITEM = object

  def __init__(self, items=()):
    super().__init__([self._check(x) for x in items])

  @classmethod
  def _check(cls, x):
    if not isinstance(x, cls._ITEM):
      raise TypeError(f'{cls.__name__} holds {cls._ITEM.__name__} objects, '
                      f'not {type(x).__name__}.')
    return x

  def append(self, x):
    super().append(self._check(x))

  def insert(self, i, x):
    super().insert(i, self._check(x))

  def extend(self, items):
    super().extend([self._check(x) for x in items])  # all or nothing

  def __iadd__(self, items):
    self.extend(items)
    return self

  def __setitem__(self, i, x):
    if isinstance(i, slice):
      x = [self._check(v) for v in x]
    else:
      x = self._check(x)
    super().__setitem__(i, x)


class VectorQuerySample(_TypedList):
  """Official ``VectorQuerySample``: a list of ``QuerySample``."""

  _ITEM = QuerySample


class VectorQuerySampleResponse(_TypedList):
  """Official ``VectorQuerySampleResponse``: a list of responses."""

  _ITEM = QuerySampleResponse


class _QSL:
  def __init__(self, total, performance, load, unload):
    self.total, self.performance = int(total), int(performance)
    self.load, self.unload = load, unload
    self.name = 'PyQSL'


_HANDLES = {}
_NEXT = [1]
_ACTIVE = [None]
_STRAY_REPORTED = [False]
_TEST_LOCK = threading.Lock()


def _register(obj):
  h = _NEXT[0]
  _NEXT[0] += 1
  _HANDLES[h] = obj
  return h


def ConstructSUT(issue_cb, flush_cb):  # pylint: disable=invalid-name
  """``issue_cb(list[QuerySample])``, ``flush_cb()``; returns a handle."""
  return _register(_SUT(issue_cb, flush_cb, fast=False))


def ConstructFastSUT(fast_issue_cb, flush_cb):  # pylint: disable=invalid-name
  """``fast_issue_cb(ids: list[int], indices: list[int])``; a handle."""
  return _register(_SUT(fast_issue_cb, flush_cb, fast=True))


def ConstructQDL(issue_cb, flush_cb, name_cb):  # pylint: disable=invalid-name
  """A query dispatch library, used as the SUT of ``StartTest``.

  The official one fronts a SUT reached over the network; here it is a
  SUT like ``ConstructSUT``'s whose name is ``name_cb()``.
  """
  return _register(_QDL(issue_cb, flush_cb, name_cb))


def ConstructQSL(total_count, performance_count, load_cb, unload_cb):  # pylint: disable=invalid-name
  """A QSL; the callbacks receive ``list[int]`` of sample indices."""
  return _register(_QSL(total_count, performance_count, load_cb, unload_cb))


def _destroy(handle):
  _HANDLES.pop(handle, None)


DestroySUT = DestroyFastSUT = DestroyQDL = DestroyQSL = _destroy


def QuerySamplesComplete(responses, response_cb=None):  # pylint: disable=invalid-name
  """Marks samples complete; the timestamp is taken at entry."""
  t = time.perf_counter_ns()
  run = _ACTIVE[0]
  if run is None:
    if not _STRAY_REPORTED[0]:  # once, not once per call (a flood)
      _STRAY_REPORTED[0] = True
      sys.stderr.write('pyloadgen: QuerySamplesComplete called with no test '
                       'running; ignored (so are any more such calls before '
                       'the next test).\n')
    return
  if response_cb is not None and (run.accuracy or run.log_mask is not None):
    # Only for the samples whose data is logged, before the data is copied
    # (ResponseDelegateDetailed::SampleComplete, loadgen.cc:75-95).
    for r in responses:
      if run.is_logged(r):
        response_cb(r)
  run.complete(responses, t)


def FirstTokenComplete(responses, response_cb=None):  # pylint: disable=invalid-name,unused-argument
  """Token mode is not measured by this LoadGen; accepted and ignored."""
  del responses


def StartTest(sut, qsl, test_settings, audit_config_filename='audit.config'):  # pylint: disable=invalid-name
  """Runs a test with default ``LogSettings`` (files in the CWD)."""
  ls = LogSettings()
  return StartTestWithLogSettings(sut, qsl, test_settings, ls,
                                  audit_config_filename)


def _file_sha1():
  here = os.path.dirname(os.path.abspath(__file__))
  out = {}
  for name in sorted(os.listdir(here)):
    if name.endswith('.py'):
      with open(os.path.join(here, name), 'rb') as f:
        out['/' + name] = hashlib.sha1(f.read()).hexdigest()
  return out


def StartTestWithLogSettings(sut, qsl, test_settings, log_settings,  # pylint: disable=invalid-name
                             audit_config_filename='audit.config'):
  """Runs a test and writes the summary, detail and accuracy logs.

  Raises:
    SUTError: the SUT raised (after the logs were written).
    RuntimeError: another test is running in this process.
  """
  if not _TEST_LOCK.acquire(blocking=False):  # pylint: disable=consider-using-with
    raise RuntimeError('A LoadGen test is already running in this process.')
  _STRAY_REPORTED[0] = False
  try:
    return _run_test(_HANDLES[sut], _HANDLES[qsl], test_settings,
                     log_settings, audit_config_filename)
  finally:
    _ACTIVE[0] = None
    _TEST_LOCK.release()


def _run_test(sut, qsl, req, log_settings, audit_config_filename):
  out = log_settings.log_output
  now = datetime.datetime.now(datetime.timezone.utc)
  stamp = now.strftime('%Y-%m-%dT%H:%M:%SZ')
  prefix = os.path.join(out.outdir, out.prefix)
  if out.prefix_with_datetime:
    prefix += stamp + '_'
  os.makedirs(out.outdir or '.', exist_ok=True)
  origin = time.perf_counter_ns()
  detail = logs.DetailLog(prefix + 'detail' + out.suffix + '.txt', origin,
                          out.copy_detail_to_stdout)
  acc = logs.AccuracyLog(prefix + 'accuracy' + out.suffix + '.json')
  summary_path = prefix + 'summary' + out.suffix + '.txt'
  summary_parts = []
  sut_error = None
  try:
    sut_error = _run_logged(sut, qsl, req, detail, acc, summary_parts, stamp,
                            audit_config_filename)
  except ConfigError as e:  # bad settings or audit.config: no traceback
    detail.error('error_invalid_config', str(e))
    raise
  except BaseException:
    detail.error('error_runtime', 'LoadGen failed:\n' + traceback.format_exc())
    raise
  finally:
    acc.close()
    text = ''.join(summary_parts) + logs.footer_text(detail.warnings,
                                                     detail.errors)
    with open(summary_path, 'w', encoding='utf-8') as f:
      f.write(text)
    if out.copy_summary_to_stdout:
      sys.stdout.write(text)
    detail.close()
  if sut_error is not None:
    raise SUTError(f'The SUT raised {type(sut_error).__name__}: {sut_error}; '
                   f'the test was stopped (see {detail_path_hint(prefix)}).'
                  ) from sut_error


def detail_path_hint(prefix):
  return prefix + 'detail.txt'


def _run_logged(sut, qsl, req, detail, acc, summary_parts, stamp,
                audit_config_filename):
  d = detail.log
  d('loadgen_version', VERSION)
  d('loadgen_build_date_local', '')
  d('loadgen_build_date_utc', '')
  d('loadgen_git_commit_date', '')
  d('loadgen_git_log_message', '')
  d('loadgen_git_status_message', '')
  d('loadgen_file_sha1', _file_sha1())
  d('test_datetime', stamp)
  t0 = time.perf_counter_ns()
  name = sut.name
  d('sut_name', name)
  d('get_sut_name_duration_ns', time.perf_counter_ns() - t0)
  d('qsl_name', qsl.name)
  d('qsl_reported_total_count', qsl.total)
  d('qsl_reported_performance_count', qsl.performance)
  while settings_lib.PENDING_ERRORS:
    key, msg = settings_lib.PENDING_ERRORS.pop(0)
    detail.error(key, msg)
  ts = _copy_settings(req)
  if audit_config_filename and os.path.exists(audit_config_filename):
    detail.warning('warning_generic_message',
                   'Found Audit Config file (audit.config). Overriding '
                   'TestSettings from audit.config file.')
    ts.FromConfig(audit_config_filename, '*',
                  settings_lib.scenario_name(ts.scenario), 2)
  if ts.test05:
    detail.warning('warning_generic_message',
                   'Test05 flag detected Overriding random seeds')
    ts.mode = TestMode.PerformanceOnly
    ts.qsl_rng_seed = req.test05_qsl_rng_seed
    ts.sample_index_rng_seed = req.test05_sample_index_rng_seed
    ts.schedule_rng_seed = req.test05_schedule_rng_seed
  eff = settings_lib.EffectiveSettings(ts, qsl.performance, qsl.total)
  # The official logs as "requested" the settings after audit.config and
  # test05 (TestSettingsInternal::requested, test_settings_internal.cc:27).
  for k, v in settings_lib.requested_items(ts):
    d(k, v)
  for key, msg in eff.errors:
    detail.error(key, msg)
  for k, v in settings_lib.effective_items(eff):
    d(k, v)
  problem = _unrunnable(eff, qsl)
  if problem:
    raise ConfigError(problem)
  timeout = float(getattr(req, 'completion_timeout_s',
                          DEFAULT_COMPLETION_TIMEOUT_S))
  state = _TestState(sut, qsl, detail, acc, timeout)
  mode = eff.mode
  if mode in ('SubmissionRun', 'AccuracyOnly'):
    d('generic_message', 'Starting accuracy mode')
    state.accuracy(eff)
  if mode in ('SubmissionRun', 'PerformanceOnly') and state.error is None:
    d('generic_message', 'Starting performance mode')
    summ = state.performance(eff)
    if summ is not None:
      summary_parts.append(logs.summary_text(summ))
      logs.log_result_details(detail, summ)
  if mode == 'FindPeakPerformance':
    summ = state.find_peak(eff)
    if summ is not None:
      summary_parts.append(logs.summary_text(summ))
      logs.log_result_details(detail, summ)
  return state.error


def _unrunnable(eff, qsl):
  """Why the test cannot run with ``eff`` (checked before any load), or None.

  The official LoadGen logs ``performance_issue_same_index >=
  performance_sample_count`` as an error and then reads past the end of the
  loaded set (undefined behaviour); here it stops the test before the QSL
  is asked to load anything.
  """
  if not eff.performance_issue_same:
    return None
  idx = eff.performance_issue_same_index
  limits = []
  if eff.mode != 'AccuracyOnly':
    limits.append((eff.performance_sample_count, 'the performance sample '
                   'count (the size of the loaded set)'))
  if eff.mode in ('AccuracyOnly', 'SubmissionRun'):
    n = min(eff.accuracy_sample_count, qsl.total)
    size = max(eff.performance_sample_count, 1)
    smallest = n % size or min(n, size)
    limits.append((smallest, 'the size of the smallest accuracy-mode loaded '
                   f'set ({n} samples in sets of {size})'))
  for limit, what in limits:
    if idx >= limit:
      return (f'performance_issue_same_index {idx} must be below {what}, '
              f'{limit}: the sample to repeat is picked by its position in '
              'the loaded set. Set performance_issue_same_index to a value in '
              f'[0, {limit}) (TEST04 uses 3) or raise '
              'performance_sample_count_override. The test was stopped '
              'before any sample was loaded or issued.')
  return None


def _copy_settings(req):
  ts = TestSettings()
  ts.__dict__.update(req.__dict__)
  return ts


class _TestState:
  """Sequence ids and the per-set issue runs of one StartTest."""

  def __init__(self, sut, qsl, detail, acc, timeout):
    self.sut, self.qsl, self.detail, self.acc = sut, qsl, detail, acc
    self.timeout = timeout
    self.next_id = 0
    self.error = None

  def _sets(self, eff, count):
    pad = eff.samples_per_query - 1 if eff.scenario == 'MultiStream' else 0
    return rng.loadable_sets(eff.qsl_rng_seed, count, self.qsl.total,
                             eff.performance_sample_count, pad)

  def _issue(self, eff, loaded, end, accuracy):
    d = self.detail.log
    gen = rng.generate_queries(eff, loaded, end, accuracy)
    d('generated_query_count', gen.count)
    d('generated_samples_per_query', gen.spq)
    d('generated_query_duration', gen.duration_ns)
    base = self.next_id
    self.next_id += len(gen.samples)
    mask = None if accuracy else scenarios.accuracy_log_mask(
        eff, base, len(gen.samples))
    run = scenarios.IssueRun(eff, gen, base, accuracy, mask, self.detail,
                             self.timeout)
    _ACTIVE[0] = run
    power_begin = datetime.datetime.now()
    try:
      run.issue_all(self.sut)
      try:
        self.sut.flush()
      except Exception:  # pylint: disable=broad-except
        self.detail.error('error_runtime', 'SUT flush_queries raised:\n' +
                          traceback.format_exc())
      run.wait_all()
    finally:
      # The run stays the active one until its set is unloaded (_unload): a
      # completion arriving after a completion timeout, before the SUT has
      # been told by the unload, is recorded late rather than reported as
      # "no test running".
      scenarios.thaw_gc(run.gc_frozen)
      self.acc.write(run.acc_entries)
    if run.sut_exception is not None:
      self.error = run.sut_exception
    # Every IssueQueries call, accuracy mode included (loadgen.cc:538-568).
    for k in ('logger_swap_request_slots_retry_count',
              'logger_swap_request_slots_retry_retry_count',
              'logger_swap_request_slots_retry_reencounter_count',
              'logger_start_reading_entries_retry_count',
              'logger_tls_total_log_cas_fail_count',
              'logger_tls_total_swap_buffers_slot_retry_count'):
      d(k, 0)
    active = (run.max_completion_ns() - run.start) / 1e9
    end = power_begin + datetime.timedelta(seconds=max(active, 0))
    d('power_begin', _power(power_begin))
    d('power_end', _power(end))
    return run

  def accuracy(self, eff):
    for loaded, end in self._sets(eff, eff.accuracy_sample_count):
      self._load(loaded)
      run = self._issue(eff, loaded, end, True)
      self._unload(loaded)
      if run.fault:
        return

  def _perf_once(self, eff, loaded, end):
    run = self._issue(eff, loaded, end, False)
    summ = metrics.Summary(self.sut.name, eff, run.result())
    if run.fault:
      summ.set_fault(run.fault)
    return summ, run

  def performance(self, eff):
    summ, _ = self._perf_loaded(eff)
    return summ

  def _unload(self, loaded):
    self.qsl.unload(list(loaded))
    _ACTIVE[0] = None

  def _load(self, loaded):
    self.detail.log('loaded_qsl_set', loaded)
    self.qsl.load(list(loaded))

  def _perf_loaded(self, eff):
    """Loads the first set, runs ``eff`` once, unloads (FindBoundaries)."""
    loaded, end = self._sets(eff, eff.performance_sample_count)[0]
    self._load(loaded)
    try:
      return self._perf_once(eff, loaded, end)
    finally:
      self._unload(loaded)

  def find_peak(self, eff):
    """Server FindPeakPerformance: widen then bisect ``target_qps``.

    As ``FindPeakPerformanceMode`` (loadgen.cc:926-1060): the base run and
    each widening run load and unload the performance set; the bisection
    runs share one load. The same progress messages are logged.
    """
    d = self.detail.log
    d('generic_message', 'Starting FindPeakPerformance mode')
    if eff.scenario != 'Server':
      self.detail.error('error_invalid_config', 'Finding peak performance is '
                        'only supported in Server scenarios.')
      return None
    field = lambda e: f'{e.target_qps:f}'  # std::to_string(double)
    d('generic_message', 'FindPeakPerformance: Check validity of the base '
      f'settings field: {field(eff)}')
    step = float(eff.requested.server_find_peak_qps_boundary_step_size)
    lower, u_eff = None, eff  # the base run, then widening runs
    while True:
      upper, run = self._perf_loaded(u_eff)
      if run.fault:
        return upper
      if not upper.perf_constraints_met:
        if lower is None:
          self.detail.error('error_runtime', 'FindPeakPerformance: Initial '
                            'lower bound does not satisfy performance '
                            'constraints, msg: ' + upper.perf_rec)
          return upper
        break
      lower = upper
      u_eff = lower.settings.copy(
          target_qps=lower.settings.target_qps * (1 + step))
      d('generic_message', 'FindBoundaries: Checking fields '
        f'[{field(lower.settings)}, {field(u_eff)})')
    d('generic_message', 'FindPeakPerformance: Found boundaries: '
      f'[{field(lower.settings)}, {field(upper.settings)})')
    prec = int(eff.requested.server_find_peak_qps_decimals_of_precision) % 256
    loaded, end = self._sets(upper.settings,
                             upper.settings.performance_sample_count)[0]
    self._load(loaded)
    try:
      while (math.floor(lower.settings.target_qps * 10**prec) + 1 <
             math.floor(upper.settings.target_qps * 10**prec)):
        lo, hi = lower.settings.target_qps, upper.settings.target_qps
        m_eff = lower.settings.copy(target_qps=lo + (hi - lo) / 2)
        d('generic_message', 'FindPeakPerformanceBinarySearch: Testing the '
          f'mid value of bounds [{field(lower.settings)}, '
          f'{field(upper.settings)}): {field(m_eff)}')
        mid, run = self._perf_once(m_eff, loaded, end)
        if run.fault:
          return mid
        if mid.perf_constraints_met:
          lower = mid
        else:
          upper = mid
      d('generic_message', 'FindPeakPerformance: Found peak performance '
        f'field: {field(lower.settings)}')
      return lower
    finally:
      self._unload(loaded)


def _power(t):
  return t.strftime('%m-%d-%Y %H:%M:%S.') + f'{t.microsecond // 1000:03d}'
