# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Metrics, early stopping and the VALID verdict of LoadGen 6.0.17.

Percentiles index the sorted latencies at ``int(n * p)`` (no
interpolation), means are integer divisions, Server throughput is
``(n - 1) / t_done``, Offline ``n / max_latency``. Early stopping uses the
official formula (confidence 0.99, tolerance 0) including its per-call cache
of earlier results, which bounds each binary search, so the estimates equal
the official ones to the query.
"""

import bisect
import math

import numpy as np

PERCENTILES = (0.5, 0.9, 0.95, 0.97, 0.99, 0.999)
CONFIDENCE = 0.99
TOLERANCE = 0.0
_SERIES_TOL = 1.0 / (1 << 33)


def percentile(sorted_values, p):
  """``sorted[int(n * p)]`` as the official ``results.cc``."""
  return int(sorted_values[int(len(sorted_values) * p)])


def fixed(value, precision=2):
  """C++ ``DoubleToString``: fixed notation with ``precision`` decimals."""
  return f'{value:.{precision}f}'


def cfmt(value):
  """C++ default ``ostream << double`` (6 significant digits)."""
  if isinstance(value, bool):
    return '1' if value else '0'
  if isinstance(value, float):
    if math.isinf(value):
      return 'inf' if value > 0 else '-inf'
    if math.isnan(value):
      return 'nan'
    return '%g' % value
  return str(int(value))


def _lbeta(x, y):
  return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)


def _hyp2f1_a1(b, c, x):
  """``2F1(1, b; c; x)`` summed term by term as the official code."""
  if b <= 0 and -b < 48 or abs(x) < 0.5:
    term = 1.0
    result = 1.0
    i = 0
    while abs(term) > _SERIES_TOL:
      term *= (b + i) * x / (c + i)
      result += term
      i += 1
    return result
  result = 1.0
  term = 1.0
  start = 0
  chunk = 256
  while True:
    i = np.arange(start, start + chunk, dtype=np.float64)
    factors = (np.float64(b) + i) * x / (np.float64(c) + i)
    factors[0] *= term
    terms = np.cumprod(factors)
    small = np.flatnonzero(np.abs(terms) <= _SERIES_TOL)
    stop = chunk if small.size == 0 else int(small[0]) + 1
    sums = np.cumsum(np.concatenate([[result], terms[:stop]]))
    result = float(sums[-1])
    term = float(terms[stop - 1])
    if small.size:
      return result
    start += chunk
    chunk = min(chunk * 4, 1 << 16)


def _beta_regularized(x, a, b):
  return (math.exp(a * math.log(x) + (b - 1) * math.log(1 - x) -
                   _lbeta(a, b)) / a * _hyp2f1_a1(1 - b, 1 + a, x / (x - 1)))


def odds(h, t, p, d=TOLERANCE):
  """P(at most t over-latency queries among h + t)."""
  return _beta_regularized(p - d, h, 1 + t)


def _find_min_passing(min_h, max_h, t, p, d, c):
  count = max_h - min_h
  while count > 0:
    step = count // 2
    h = min_h + step
    if odds(h, t, p, d) < 1 - c:
      count = step
    else:
      min_h = h + 1
      count -= step + 1
  return min_h


class MinPassingQueriesFinder:
  """The official ``MinPassingQueriesFinder`` with its bounding cache."""

  def __init__(self):
    self._caches = {}

  def __call__(self, t, p, d=TOLERANCE, c=CONFIDENCE):
    keys, vals = self._caches.setdefault((p, d, c), ([], []))
    pos = bisect.bisect_left(keys, t)
    if pos < len(keys) and keys[pos] == t:
      return vals[pos]
    x0, y0 = -1, 0
    x1, y1 = 0, int(math.ceil(math.log(1 - c) / math.log(p - d)))
    if pos > 0:
      x1, y1 = keys[pos - 1], vals[pos - 1]
    if pos > 1:
      x0, y0 = keys[pos - 2], vals[pos - 2]
    min_slope = (p - d) / (1 - p + d)
    max_slope = float((y1 - y0) * (x1 - x0))
    min_h = int((t - x1) * min_slope + y1)
    max_h = int((t - x1) * max_slope + y1 + 1)
    h = _find_min_passing(min_h, max_h, t, p, d, c)
    keys.insert(pos, t)
    vals.insert(pos, h)
    return h


def _estimate(finder, n, p, sorted_lat):
  """(h_min, t, estimate) of the SingleStream/MultiStream early stopping."""
  h_min = finder(1, p)
  if n < h_min + 1:
    return h_min, None, None
  t = 1
  for i in range(2, n + 1):
    if n < finder(i, p) + i:
      t = i - 1
      break
  return h_min, t, int(sorted_lat[n - t])


def early_stopping(scenario, queries_issued, sorted_samples, sorted_queries,
                   percentile_p, target_latency_ns):
  """Official ``PerformanceSummary::EarlyStopping``.

  Args:
    scenario: scenario name.
    queries_issued: number of queries issued.
    sorted_samples: sorted sample latencies (ns).
    sorted_queries: sorted per-query latencies (MultiStream) or None.
    percentile_p: the target latency percentile (e.g. 0.9).
    target_latency_ns: the Server latency bound.

  Returns:
    dict with ``met``, ``recommendation`` (newline separated) and the
    estimates ``latency_ss`` / ``latency_ms`` (ns, None when absent).
  """
  finder = MinPassingQueriesFinder()
  out = {'met': True, 'recommendation': '', 'latency_ss': None,
         'latency_ms': None}
  n = queries_issued
  if scenario in ('SingleStream', 'MultiStream'):
    lat = sorted_samples if scenario == 'SingleStream' else sorted_queries
    h_min, t, est = _estimate(finder, n, percentile_p, lat)
    if t is None:
      out['met'] = False
      out['recommendation'] = (
          f' * Only processed {n} queries.\n * Need to process at least '
          f'{h_min + 1} queries for early stopping.')
      return out
    out['recommendation'] = (
        f' * Processed at least {h_min + 1} queries ({n}).\n'
        f' * Would discard {t - 1} highest latency queries.\n'
        f' * Early stopping {fixed(percentile_p * 100, 1)}th percentile '
        f'estimate: {est}')
    if scenario == 'MultiStream':
      out['latency_ms'] = est
      return out
    out['latency_ss'] = est
    h_min, t, est = _estimate(finder, n, 0.99, lat)
    if t is None:
      out['recommendation'] += (
          f'\n * Not enough queries processed for {fixed(99.0, 1)}th '
          'percentile\n early stopping estimate (would need to process at\n'
          f' least {h_min + 1} total queries).')
    else:
      out['recommendation'] += (f'\n * Early stopping {fixed(99.0, 1)}th '
                                f'percentile estimate: {est}')
      out['latency_ms'] = est
  elif scenario == 'Server':
    t = int(len(sorted_samples) -
            np.searchsorted(sorted_samples, target_latency_ns, side='right'))
    h = finder(t, percentile_p)
    if n >= h + t:
      out['recommendation'] = ' * Run successful.'
    else:
      out['met'] = False
      out['recommendation'] = (
          f' * Run unsuccessful.\n * Processed {n} queries.\n * Would need to '
          f'run at least {h + t - n} more queries,\n with the run being '
          'successful if every additional\n query were under latency.')
  return out


class PerformanceResult:
  """What issuing produced (``PerformanceResult`` in ``loadgen.cc``)."""

  def __init__(self, sample_latencies, query_latencies, queries_issued,
               max_latency_s, final_query_scheduled_time_s,
               final_query_issued_time_s, final_query_all_samples_done_time_s):
    self.sample_latencies = np.sort(np.asarray(sample_latencies, np.int64))
    self.query_latencies = (None if query_latencies is None else np.sort(
        np.asarray(query_latencies, np.int64)))
    self.queries_issued = int(queries_issued)
    self.max_latency = max_latency_s
    self.final_query_scheduled_time = final_query_scheduled_time_s
    self.final_query_issued_time = final_query_issued_time_s
    self.final_query_all_samples_done_time = final_query_all_samples_done_time_s


def _div(a, b):
  """C++ double division (inf/nan instead of an exception)."""
  if b == 0:
    return math.inf if a > 0 else (-math.inf if a < 0 else math.nan)
  return a / b


class Summary:
  """``PerformanceSummary``: every number of the summary and detail logs."""

  def __init__(self, sut_name, settings, pr):
    self.sut_name = sut_name
    self.settings = s = settings
    self.pr = pr
    lat = pr.sample_latencies
    n = self.sample_count = int(lat.size)
    self.query_count = pr.queries_issued
    if n:
      self.mean = int(int(lat.sum()) // n)
      self.min = int(lat[0])
      self.max = int(lat[-1])
      self.target_pct = percentile(lat, s.target_latency_percentile)
      self.pcts = [(p, percentile(lat, p)) for p in PERCENTILES]
    else:
      self.mean = self.min = self.max = self.target_pct = 0
      self.pcts = [(p, 0) for p in PERCENTILES]
    self.overlatency = 0
    if s.scenario == 'Server' and n:
      self.overlatency = int(n - np.searchsorted(
          lat, s.target_latency_ns + 1, side='left'))
    ql = pr.query_latencies
    if s.scenario == 'MultiStream' and ql is not None and ql.size:
      self.q_mean = int(int(ql.sum()) // ql.size)
      self.q_min, self.q_max = int(ql[0]), int(ql[-1])
      self.q_target_pct = percentile(ql, s.target_latency_percentile)
      self.q_pcts = [(p, percentile(ql, p)) for p in PERCENTILES]
    else:
      self.q_mean = self.q_min = self.q_max = self.q_target_pct = 0
      self.q_pcts = [(p, 0) for p in PERCENTILES]
    # Verdicts.
    min_dur = s.min_duration_ms / 1000.0
    if s.scenario == 'Offline':
      self.min_duration_met = pr.max_latency >= min_dur
    elif s.scenario == 'Server':
      self.min_duration_met = pr.final_query_scheduled_time >= min_dur
    else:
      self.min_duration_met = pr.final_query_issued_time >= min_dur
    self.min_duration_rec = {
        'SingleStream': 'Decrease the expected latency so the loadgen '
                        'pre-generates more queries.',
        'MultiStream': 'Decrease the expected latency so the loadgen '
                       'pre-generates more queries.',
        'Server': 'Increase the target QPS so the loadgen pre-generates more '
                  'queries.',
        'Offline': 'Increase expected QPS so the loadgen pre-generates a '
                   'larger (coalesced) query.',
    }[s.scenario]
    self.min_queries_met = (pr.queries_issued >= s.min_query_count and
                            n >= s.min_sample_count)
    self.perf_constraints_met = True
    self.perf_rec = ''
    if s.scenario == 'Server' and self.target_pct > s.target_latency_ns:
      self.perf_constraints_met = False
      self.perf_rec = 'Reduce target QPS to improve latency.'
    es = early_stopping(s.scenario, pr.queries_issued, lat, ql,
                        s.target_latency_percentile, s.target_latency_ns)
    self.early_stopping_met = es['met']
    self.early_stopping_rec = es['recommendation']
    self.es_latency_ss = es['latency_ss'] or 0
    self.es_latency_ms = es['latency_ms'] or 0
    self.fault = None
    self.valid = (self.min_duration_met and self.min_queries_met and
                  self.perf_constraints_met and self.early_stopping_met)

  def set_fault(self, message):
    """Marks the run INVALID because of a SUT fault (ours, not official)."""
    self.fault = message
    self.valid = False

  @property
  def has_perf_constraints(self):
    return self.settings.scenario == 'Server'

  def completed_qps(self):
    return _div(self.sample_count - 1,
                self.pr.final_query_all_samples_done_time)

  def scheduled_qps(self):
    return _div(self.sample_count - 1, self.pr.final_query_scheduled_time)

  def samples_per_second(self):
    return _div(self.sample_count, self.pr.max_latency)

  def qps_with_overhead(self):
    return _div(self.sample_count - 1, self.pr.final_query_issued_time)

  def qps_without_overhead(self):
    return _div(1, self.mean / 1e9)

  def headline(self):
    """The scenario's metric (what the submission checker reads)."""
    sc = self.settings.scenario
    if sc == 'SingleStream':
      return self.es_latency_ss
    if sc == 'MultiStream':
      return self.es_latency_ms
    if sc == 'Server':
      return self.completed_qps()
    return self.samples_per_second()
