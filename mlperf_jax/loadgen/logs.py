# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The three LoadGen output files, in the official formats, and parsers.

* ``mlperf_log_detail.txt``: one ``:::MLLOG {json}`` line per key, written
  (and flushed) as the test goes, so a crashed test leaves what it logged.
* ``mlperf_log_summary.txt``: the official human-readable layout.
* ``mlperf_log_accuracy.json``: ``[\\n{ "seq_id" : 0, "qsl_idx" : 216,
  "data" : "D8000000" },\\n...\\n]\\n`` in completion order.

``parse_detail`` and ``parse_summary`` read ours and the official ones alike
(first occurrence of a key wins, as in the submission checker).
"""

import json
import os
import re
import sys
import threading
import time

from mlperf_jax.loadgen import metrics

MARKER = ':::MLLOG '
RULE = '=' * 48


def _json_value(v):
  if isinstance(v, bool):
    return 'true' if v else 'false'
  if isinstance(v, float):
    if v != v:
      return 'NaN'
    if v in (float('inf'), float('-inf')):
      return 'Infinity' if v > 0 else '-Infinity'
    return '%g' % v
  if isinstance(v, int):
    return str(v)
  if isinstance(v, (list, tuple)):
    return '[' + ', '.join(str(int(x)) for x in v) + ']'
  if isinstance(v, dict):
    return '{' + ','.join(
        f'{json.dumps(str(k))}:{json.dumps(str(x))}' for k, x in v.items()) + '}'
  return json.dumps(str(v))


class DetailLog:
  """Writes ``:::MLLOG`` lines; counts errors and warnings."""

  def __init__(self, path, origin_ns, copy_to_stdout=False):
    self._f = open(path, 'w', encoding='utf-8')  # pylint: disable=consider-using-with
    self._origin = origin_ns
    self._copy = copy_to_stdout
    self._lock = threading.Lock()
    self._pid = os.getpid()
    self.errors = 0
    self.warnings = 0
    self.error_messages = []

  def log(self, key, value, error=False, warning=False, depth=1):
    """Writes one line; ``depth`` selects the caller named in metadata."""
    frame = sys._getframe(depth)  # pylint: disable=protected-access
    ns = time.perf_counter_ns() - self._origin
    line = (
        f'{MARKER}{{"key": {json.dumps(key)}, "value": {_json_value(value)}, '
        f'"time_ms": {ns // 1000000}.{ns % 1000000:06d}, '
        '"namespace": "mlperf::logging", "event_type": "POINT_IN_TIME", '
        f'"metadata": {{"is_error": {_json_value(error)}, "is_warning": '
        f'{_json_value(warning)}, "file": '
        f'"{os.path.basename(frame.f_code.co_filename)}", "line_no": '
        f'{frame.f_lineno}, "pid": {self._pid}, "tid": '
        f'{threading.get_native_id()}}}}}\n')
    with self._lock:
      if error:
        self.errors += 1
        self.error_messages.append(f'{key}: {value}')
      if warning:
        self.warnings += 1
      if self._f.closed:
        return
      self._f.write(line)
      if error or warning:
        self._f.flush()
      if self._copy:
        sys.stdout.write(line)

  def error(self, key, message):
    self.log(key, message, error=True, depth=2)

  def warning(self, key, message):
    self.log(key, message, warning=True, depth=2)

  def flush(self):
    with self._lock:
      if not self._f.closed:
        self._f.flush()

  def close(self):
    with self._lock:
      self._f.close()


def summary_text(summ):
  """The body of ``mlperf_log_summary.txt`` for one performance result."""
  s = summ.settings
  sc = s.scenario
  out = [RULE, 'MLPerf Results Summary', RULE,
         f'SUT name : {summ.sut_name}', f'Scenario : {sc}',
         f'Mode     : {s.mode}']
  pct_label = metrics.fixed(s.target_latency_percentile * 100, 1)
  if sc == 'SingleStream':
    out.append(f'{pct_label}th percentile latency (ns) : {summ.target_pct}')
  elif sc == 'MultiStream':
    out.append(f'{pct_label}th percentile latency (ns) : {summ.q_target_pct}')
  elif sc == 'Server':
    out.append('Completed samples per second    : ' +
               metrics.fixed(summ.completed_qps()))
  else:
    out.append('Samples per second: ' +
               metrics.cfmt(summ.samples_per_second()))
  yes = lambda b: 'Yes' if b else 'NO'
  out.append('Result is : ' + ('VALID' if summ.valid else 'INVALID'))
  if summ.has_perf_constraints:
    out.append('  Performance constraints satisfied : ' +
               yes(summ.perf_constraints_met))
  out.append('  Min duration satisfied : ' + yes(summ.min_duration_met))
  out.append('  Min queries satisfied : ' + yes(summ.min_queries_met))
  out.append('  Early stopping satisfied: ' + yes(summ.early_stopping_met))
  if not summ.valid:
    out.append('Recommendations:')
    if summ.fault:
      out.append(' * ' + summ.fault)
    if not summ.perf_constraints_met:
      out.append(' * ' + summ.perf_rec)
    if not summ.min_duration_met:
      out.append(' * ' + summ.min_duration_rec)
    if not summ.min_queries_met:
      out.append(' * The test exited early, before enough queries were '
                 'issued.\n   See the detailed log for why this may have '
                 'occurred.')
  if sc != 'Offline':
    out.append('Early Stopping Result:')
    out.append(summ.early_stopping_rec)
  out += ['', RULE, 'Additional Stats', RULE]
  if sc == 'SingleStream':
    out.append('QPS w/ loadgen overhead         : ' +
               metrics.fixed(summ.qps_with_overhead()))
    out.append('QPS w/o loadgen overhead        : ' +
               metrics.fixed(summ.qps_without_overhead()))
    out.append('')
  elif sc == 'Server':
    out.append('Scheduled samples per second : ' +
               metrics.fixed(summ.scheduled_qps()))
  elif sc == 'MultiStream':
    out.append('Per-query latency:  ')
    out.append(f'Min latency (ns)                : {summ.q_min}')
    out.append(f'Max latency (ns)                : {summ.q_max}')
    out.append(f'Mean latency (ns)               : {summ.q_mean}')
    for p, v in summ.q_pcts:
      out.append(f'{metrics.fixed(p * 100)} percentile latency (ns)   : {v}')
  if sc != 'MultiStream':
    out.append(f'Min latency (ns)                : {summ.min}')
    out.append(f'Max latency (ns)                : {summ.max}')
    out.append(f'Mean latency (ns)               : {summ.mean}')
    for p, v in summ.pcts:
      out.append(f'{metrics.fixed(p * 100)} percentile latency (ns)   : {v}')
  out += ['', RULE, 'Test Parameters Used', RULE]
  c = metrics.cfmt
  out += [
      f'samples_per_query : {s.samples_per_query}',
      f'target_qps : {c(float(s.target_qps))}',
      f'target_latency (ns): {s.target_latency_ns}',
      f'max_async_queries : {s.max_async_queries}',
      f'min_duration (ms): {s.min_duration_ms}',
      f'max_duration (ms): {s.max_duration_ms}',
      f'min_query_count : {s.min_query_count}',
      f'max_query_count : {s.max_query_count}',
      f'qsl_rng_seed : {s.qsl_rng_seed}',
      f'sample_index_rng_seed : {s.sample_index_rng_seed}',
      f'schedule_rng_seed : {s.schedule_rng_seed}',
      f'accuracy_log_rng_seed : {s.accuracy_log_rng_seed}',
      f'accuracy_log_probability : {c(float(s.accuracy_log_probability))}',
      f'accuracy_log_sampling_target : {s.accuracy_log_sampling_target}',
      f'print_timestamps : {c(s.print_timestamps)}',
      f'performance_issue_unique : {c(s.performance_issue_unique)}',
      f'performance_issue_same : {c(s.performance_issue_same)}',
      f'performance_issue_same_index : {s.performance_issue_same_index}',
      f'performance_sample_count : {s.performance_sample_count}',
      f'accuracy_sample_count : {s.accuracy_sample_count}',
  ]
  if s.sample_concatenate_permutation:
    out.append(
        'WARNING: sample_concatenate_permutation was set to true. \n'
        'Generated samples per query might be different as the one in the '
        'setting.\nCheck the generated_samples_per_query line in the detailed '
        'log for the real\nsamples_per_query value')
  return '\n'.join(out) + '\n'


def footer_text(warnings, errors):
  """The warnings/errors footer of the summary."""
  if warnings == 0:
    w = '\nNo warnings encountered during test.\n'
  elif warnings == 1:
    w = '\n1 warning encountered. See detailed log.\n'
  else:
    w = f'\n{warnings} warnings encountered. See detailed log.\n'
  if errors == 0:
    e = '\nNo errors encountered during test.\n'
  elif errors == 1:
    e = '\n1 ERROR encountered. See detailed log.\n'
  else:
    e = f'\n{errors} ERRORS encountered. See detailed log.\n'
  return w + e


def log_result_details(detail, summ):
  """The ``result_*`` keys of ``PerformanceSummary::LogDetail``."""
  s = summ.settings
  sc = s.scenario
  d = lambda k, v: detail.log(k, v, depth=3)
  d('result_validity', 'VALID' if summ.valid else 'INVALID')
  if summ.has_perf_constraints:
    d('result_perf_constraints_met', summ.perf_constraints_met)
  d('result_min_duration_met', summ.min_duration_met)
  d('result_min_queries_met', summ.min_queries_met)
  d('early_stopping_met', summ.early_stopping_met)
  if not summ.valid:
    rec = summ.fault + ' ' if summ.fault else ''
    if not summ.perf_constraints_met:
      rec += summ.perf_rec + ' '
    if not summ.min_duration_met:
      rec += summ.min_duration_rec + ' '
    if not summ.min_queries_met:
      rec += 'The test exited early, before enough queries were issued.'
    d('result_invalid_reason', rec.replace('\n', ' '))
  d('early_stopping_result', summ.early_stopping_rec.replace('\n', ' '))
  d('result_query_count', summ.query_count)
  if sc == 'Server':
    d('result_overlatency_query_count', summ.overlatency)
  if sc == 'SingleStream':
    d('result_qps_with_loadgen_overhead', float(summ.qps_with_overhead()))
    d('result_qps_without_loadgen_overhead',
      float(summ.qps_without_overhead()))
    d('early_stopping_latency_ss', summ.es_latency_ss)
    d('early_stopping_latency_ms', summ.es_latency_ms)
  elif sc == 'MultiStream':
    d('result_min_query_latency_ns', summ.q_min)
    d('result_max_query_latency_ns', summ.q_max)
    d('result_mean_query_latency_ns', summ.q_mean)
    for p, v in summ.q_pcts:
      d(f'result_{metrics.fixed(p * 100)}_percentile_per_query_latency_ns', v)
    d('early_stopping_latency_ms', summ.es_latency_ms)
  elif sc == 'Server':
    d('result_scheduled_samples_per_sec', float(summ.scheduled_qps()))
    d('result_completed_samples_per_sec', float(summ.completed_qps()))
  else:
    d('result_samples_per_second', float(summ.samples_per_second()))
  d('result_min_latency_ns', summ.min)
  d('result_max_latency_ns', summ.max)
  d('result_mean_latency_ns', summ.mean)
  for p, v in summ.pcts:
    d(f'result_{metrics.fixed(p * 100)}_percentile_latency_ns', v)
  d('num_errors', detail.errors)  # last key of a summary (results.cc:852)


class AccuracyLog:
  """``mlperf_log_accuracy.json``, appended entry by entry."""

  def __init__(self, path):
    self._f = open(path, 'w', encoding='ascii')  # pylint: disable=consider-using-with
    self._f.write('[\n')
    self._n = 0

  def write(self, entries):
    """Appends ``(seq_id, qsl_idx, bytes)`` entries."""
    parts = []
    for seq, idx, data in entries:
      parts.append(f'{{ "seq_id" : {seq}, "qsl_idx" : {idx}, "data" : '
                   f'"{data.hex().upper()}" }}')
    if not parts:
      return
    self._f.write((',\n' if self._n else '') + ',\n'.join(parts))
    self._n += len(parts)
    self._f.flush()

  def close(self):
    if not self._f.closed:
      self._f.write(('\n' if self._n else '') + ']\n')
      self._f.close()


def parse_detail(path):
  """``{key: value}`` of a detail log (first occurrence wins) + errors.

  Returns:
    (values, errors): ``values`` maps each key to its first value;
    ``errors`` lists the values of the lines with ``is_error`` true.
  """
  values, errors = {}, []
  with open(path, encoding='utf-8') as f:
    for line in f:
      if not line.startswith(MARKER):
        continue
      rec = json.loads(line[len(MARKER):])
      values.setdefault(rec['key'], rec['value'])
      if rec['metadata'].get('is_error'):
        errors.append(rec['value'])
  return values, errors


_SUMMARY_LINE = re.compile(r'^\s*\*?\s*([^:]+?)\s*:\s*(.*)$')


def parse_summary(path):
  """``{label: value}`` of the ``label : value`` lines of a summary."""
  out = {}
  with open(path, encoding='utf-8') as f:
    for line in f:
      m = _SUMMARY_LINE.match(line.rstrip('\n'))
      if m and not line.startswith('='):
        out.setdefault(m.group(1), m.group(2).strip())
  return out


def read_accuracy(path):
  """Entries of an accuracy log as a list of dicts."""
  with open(path, encoding='ascii') as f:
    return json.load(f)
