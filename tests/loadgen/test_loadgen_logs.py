# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Our logs parse with the same code as the official ones, same keys.

Also checks the metric formulas and early stopping against the official
LoadGen: verdicts and "would need N more" messages on recorded Server runs,
and the official discard counts quoted in the reference.
"""

import numpy as np
import pytest

from mlperf_jax.loadgen import logs
from mlperf_jax.loadgen import metrics
from support import loadgen_harness

pytest.importorskip('mlperf_loadgen')

# Keys only one of the two writes (version details and harmless warnings).
_IGNORED = {'warning_generic_message'}


@pytest.mark.parametrize('scenario', ['SingleStream', 'MultiStream', 'Server',
                                      'Offline'])
def test_summary_and_detail_have_the_same_keys(tmp_path, scenario):
  # Short expected latencies: both end naturally (no 'ran out' error).
  # min_query_count 700 >= 662: both report the p99 early-stopping estimate
  # however slow a loaded machine makes either run within min_duration.
  kw = dict(qsl_rng_seed=4, sample_index_rng_seed=5, schedule_rng_seed=6,
            single_stream_expected_latency_ns=2000,
            multi_stream_expected_latency_ns=4000, min_query_count=700)
  for which in ('official', 'python'):
    loadgen_harness.run(which, scenario, tmp_path / which, **kw)
  det = {w: logs.parse_detail(tmp_path / w / 'mlperf_log_detail.txt')[0]
         for w in ('official', 'python')}
  summ = {w: logs.parse_summary(tmp_path / w / 'mlperf_log_summary.txt')
          for w in ('official', 'python')}
  # Validity depends on timing on a shared machine; the reason key is only
  # logged for an INVALID run, so compare it only when both runs agree.
  ignored = set(_IGNORED)
  if det['official'].get('result_validity') != det['python'].get(
      'result_validity'):
    ignored.add('result_invalid_reason')
  assert set(det['official']) - ignored == set(det['python']) - ignored
  summary_ignored = {'Performance constraints satisfied'}
  assert (set(summ['official']) - summary_ignored ==
          set(summ['python']) - summary_ignored)
  o, p = det['official'], det['python']
  for key in o:
    if key.startswith(('effective_', 'requested_')) or key in (
        'sut_name', 'qsl_name', 'qsl_reported_total_count',
        'result_query_count' if scenario in ('Server', 'Offline') else 'x'):
      assert o[key] == p[key], key
  for key in ('Scenario', 'Mode', 'SUT name', 'samples_per_query',
              'target_qps', 'qsl_rng_seed', 'performance_sample_count'):
    assert summ['official'][key] == summ['python'][key], key
  # The headline metric parses as a number in both.
  head = {'SingleStream': '90.0th percentile latency (ns)',
          'MultiStream': '99.0th percentile latency (ns)',
          'Server': 'Completed samples per second',
          'Offline': 'Samples per second'}[scenario]
  for w in summ:
    assert float(summ[w][head]) > 0
  errors = logs.parse_detail(tmp_path / 'python' / 'mlperf_log_detail.txt')[1]
  assert p['num_errors'] == len(errors)


@pytest.mark.parametrize('scenario', ['Offline', 'SingleStream',
                                      'MultiStream'])
def test_accuracy_json_is_byte_identical(tmp_path, scenario):
  kw = dict(mode='AccuracyOnly', total=60, performance=25, qsl_rng_seed=11,
            sample_index_rng_seed=12, schedule_rng_seed=13)
  for which in ('official', 'python'):
    loadgen_harness.run(which, scenario, tmp_path / which, **kw)
  a = (tmp_path / 'official' / 'mlperf_log_accuracy.json').read_bytes()
  b = (tmp_path / 'python' / 'mlperf_log_accuracy.json').read_bytes()
  assert a == b
  entries = logs.read_accuracy(tmp_path / 'python' /
                               'mlperf_log_accuracy.json')
  assert {e['qsl_idx'] for e in entries} == set(range(60))
  assert all(int.from_bytes(bytes.fromhex(e['data']), 'little') == e['qsl_idx']
             for e in entries)


def test_performance_mode_accuracy_json_is_empty(tmp_path):
  loadgen_harness.run('python', 'Offline', tmp_path)
  assert (tmp_path / 'mlperf_log_accuracy.json').read_bytes() == b'[\n]\n'


def test_summary_layout_exact(tmp_path):
  loadgen_harness.run('python', 'Server', tmp_path, qsl_rng_seed=1)
  lines = (tmp_path / 'mlperf_log_summary.txt').read_text().splitlines()
  assert lines[:6] == ['=' * 48, 'MLPerf Results Summary', '=' * 48,
                       'SUT name : PySUT', 'Scenario : Server',
                       'Mode     : PerformanceOnly']
  assert lines[6].startswith('Completed samples per second    : ')
  assert lines[-3:] == ['No warnings encountered during test.', '',
                        'No errors encountered during test.']


def _server_latencies(n, t, bound=1000):
  lat = np.full(n, bound // 2, np.int64)
  lat[:t] = bound + 1
  return np.sort(lat)


@pytest.mark.parametrize('n,t', [(379, 0), (459, 0), (458, 0), (4800, 32),
                                 (4800, 33), (24000, 200), (24000, 205)])
def test_server_early_stopping_verdicts(n, t):
  """Official facts: 459 queries needed with none over latency; ~4.8k
  queries tolerate 32; 379 queries need 80 more (official run above)."""
  es = metrics.early_stopping('Server', n, _server_latencies(n, t), None,
                              0.99, 1000)
  h = metrics.MinPassingQueriesFinder()(t, 0.99)
  assert es['met'] == (n >= h + t)
  if (n, t) == (379, 0):
    assert 'Would need to run at least 80 more queries' in (
        es['recommendation'])
  if t == 0:
    assert h == 459
  if n == 4800:
    assert es['met'] == (t <= 32)


@pytest.mark.parametrize('n,p,discard', [(664, 0.99, 0), (838, 0.99, 1),
                                         (1001, 0.99, 2), (28555, 0.99, 245),
                                         (1001, 0.90, 77)])
def test_single_stream_discard_counts_match_official(n, p, discard):
  lat = np.arange(n, dtype=np.int64)
  sc = 'SingleStream' if p == 0.90 else 'MultiStream'
  es = metrics.early_stopping(sc, n, lat, lat, p, 0)
  assert f'Would discard {discard} highest' in es['recommendation']
  assert (es['latency_ss'] if sc == 'SingleStream' else es['latency_ms']) == (
      n - 1 - discard)


def test_minimum_query_counts():
  f = metrics.MinPassingQueriesFinder()
  assert f(1, 0.90) + 1 == 64 and f(1, 0.99) + 1 == 662
  assert f(0, 0.90) == 44 and f(0, 0.97) == 152 and f(0, 0.999) == 4603


def test_server_verdict_agrees_with_official_run(tmp_path):
  """A recorded official Server run (t over latency of n) gets the same
  early-stopping verdict and message from our formula."""
  import array  # pylint: disable=import-outside-toplevel
  import time  # pylint: disable=import-outside-toplevel
  lg = pytest.importorskip('mlperf_loadgen')
  keep = []

  def issue(qs):
    for q in qs:
      if q.index % 7 == 0:
        time.sleep(0.0012)
      a = array.array('i', [q.index])
      keep.append(a)
      lg.QuerySamplesComplete(
          [lg.QuerySampleResponse(q.id, a.buffer_info()[0], 4)])

  s = lg.TestSettings()
  s.scenario = lg.TestScenario.Server
  s.server_target_qps = 300
  s.server_target_latency_ns = 1_000_000
  s.min_duration_ms = 500
  s.min_query_count = 100
  sut = lg.ConstructSUT(issue, lambda: None)
  qsl = lg.ConstructQSL(50, 20, lambda x: None, lambda x: None)
  ls = lg.LogSettings()
  ls.log_output.outdir = str(tmp_path)
  ls.enable_trace = False
  lg.StartTestWithLogSettings(sut, qsl, s, ls, 'no-such-audit.config')
  lg.DestroyQSL(qsl)
  lg.DestroySUT(sut)
  d, _ = logs.parse_detail(tmp_path / 'mlperf_log_detail.txt')
  n, t = d['result_query_count'], d['result_overlatency_query_count']
  assert t > 0
  es = metrics.early_stopping('Server', n, _server_latencies(n, t, 10**6),
                              None, 0.99, 10**6)
  assert es['met'] == d['early_stopping_met']
  assert es['recommendation'].replace('\n', ' ') == d['early_stopping_result']
