# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Ours and the official LoadGen 6.0.17 side by side on the edge cases an
audit found different: MultiStream padding of short loadable sets,
``requested_*`` under an audit.config, ``response_cb`` with accuracy-log
sampling, FindPeakPerformance's loads and messages, the QDL, the detail
keys of accuracy and Offline runs. Also: an out-of-range
``performance_issue_same_index`` stops the test before anything is loaded,
and the first Server query goes out without a lead-in sleep.
"""

import ctypes
import json
import subprocess
import sys
import textwrap
import time

import pytest

from mlperf_jax.loadgen import logs
from mlperf_jax.loadgen import pyloadgen
from mlperf_jax.loadgen import scenarios
from support import loadgen_harness

pytest.importorskip('mlperf_loadgen')

BOTH = ('official', 'python')


def _detail(path):
  """(key, value, is_error) of every line of a detail log, in order."""
  out = []
  with open(path, encoding='utf-8') as f:
    for line in f:
      j = json.loads(line[len(':::MLLOG '):])
      out.append((j['key'], j['value'], j['metadata']['is_error']))
  return out


def _run_both(tmp_path, scenario, **kw):
  """Runs both LoadGens; returns {which: (issued, detail lines)}."""
  out = {}
  for which in BOTH:
    issued = loadgen_harness.run(which, scenario, tmp_path / which, **kw)
    out[which] = (issued, _detail(tmp_path / which / 'mlperf_log_detail.txt'))
  return out


def test_multistream_padding_wraps_around_a_short_set_accuracy(tmp_path):
  # 101 samples in sets of 10: the last set holds 1 sample, padded by 2.
  r = _run_both(tmp_path, 'MultiStream', mode='AccuracyOnly', total=101,
                performance=10, multi_stream_samples_per_query=3)
  (theirs, d_off), (ours, d_py) = r['official'], r['python']
  assert ours == theirs
  assert set(ours) == set(range(101))  # every sample issued
  sets = lambda d: [v for k, v, _ in d if k == 'loaded_qsl_set']
  assert sets(d_py) == sets(d_off)
  assert len(sets(d_py)[-1]) == 3  # [x, x, x]
  for w in BOTH:
    acc = logs.read_accuracy(tmp_path / w / 'mlperf_log_accuracy.json')
    assert {e['qsl_idx'] for e in acc} == set(range(101))


def test_multistream_padding_longer_than_the_performance_set(tmp_path):
  # A performance set of 1 sample and 3 samples per query: padding 2.
  r = _run_both(tmp_path, 'MultiStream', total=20, performance=1,
                multi_stream_samples_per_query=3, completion_timeout_s=5)
  (theirs, d_off), (ours, d_py) = r['official'], r['python']
  sets = lambda d: [v for k, v, _ in d if k == 'loaded_qsl_set']
  assert sets(d_py) == sets(d_off) and len(sets(d_py)[0]) == 3
  n = min(len(ours), len(theirs))
  assert n >= 300 and ours[:n] == theirs[:n] and len(ours) % 3 == 0
  # No truncated query, completion timeout or exception ('Ran out of
  # generated queries' depends only on how fast this machine is).
  assert not [v for k, v, e in d_py if e and 'Ran out' not in v]


AUDIT = """\
*.*.performance_issue_same = 1
*.*.performance_issue_same_index = 3
*.*.min_query_count = 50
*.Server.target_qps = 3000
"""


@pytest.mark.parametrize('scenario', ['Server', 'Offline'])
def test_audit_config_is_in_the_requested_values(tmp_path, scenario):
  r = _run_both(tmp_path, scenario, audit_config=AUDIT, total=30,
                performance=10)
  (theirs, d_off), (ours, d_py) = r['official'], r['python']
  pick = lambda d: {k: v for k, v, _ in d
                    if k.startswith(('requested_', 'effective_'))}
  assert pick(d_py) == pick(d_off)
  assert pick(d_py)['requested_performance_issue_same'] is True
  assert pick(d_py)['requested_min_query_count'] == 50
  assert ours == theirs and len(set(ours)) == 1


def test_response_cb_only_for_logged_samples(tmp_path):
  seen = {}
  for which in BOTH:
    got = seen[which] = []
    cb = lambda r, got=got: got.append(
        ctypes.c_int32.from_address(r.data).value)
    loadgen_harness.run(which, 'Offline', tmp_path / which, response_cb=cb,
                        accuracy_log_sampling_target=20,
                        accuracy_log_rng_seed=7, total=40, performance=40)
  assert sorted(seen['python']) == sorted(seen['official'])
  acc = logs.read_accuracy(tmp_path / 'python' / 'mlperf_log_accuracy.json')
  assert 0 < len(seen['python']) == len(acc) < 220  # 220 samples issued
  assert sorted(seen['python']) == sorted(e['qsl_idx'] for e in acc)


def test_find_peak_loads_per_run_and_logs_its_progress(tmp_path):
  # The SUT completes the first 150 samples of every run at once and the
  # rest 120 ms later (> the 100 ms bound): a run meets the p99 bound iff it
  # generated few enough queries, which is deterministic for a target QPS
  # (and robust to stalls of a busy machine below 100 ms).
  kw = dict(mode='FindPeakPerformance', hold=(150, 0.12), min_query_count=1,
            min_duration_ms=50, server_target_qps=1000,
            server_target_latency_ns=100_000_000,
            server_find_peak_qps_decimals_of_precision=0, total=40,
            performance=8, qsl_rng_seed=3)
  keys = ('generic_message', 'error_runtime', 'loaded_qsl_set',
          'generated_query_count', 'result_perf_constraints_met',
          'num_errors')
  runs = {}
  for which in BOTH:
    events = []
    loadgen_harness.run(which, 'Server', tmp_path / which, events=events,
                        **kw)
    d = _detail(tmp_path / which / 'mlperf_log_detail.txt')
    runs[which] = (events, [(k, v) for k, v, _ in d if k in keys])
  assert runs['python'] == runs['official']
  events, lines = runs['python']
  kinds = [e[0] for e in events]
  # Base run and each widening run load and unload; the bisection loads once.
  assert kinds[:9] == ['load', 'flush', 'unload'] * 3
  assert kinds[9] == 'load' and kinds[-1] == 'unload'
  assert set(kinds[10:-1]) == {'flush'}
  assert ('generic_message', 'FindPeakPerformance: Found peak performance '
          'field: 3125.000000') in lines


def test_find_peak_outside_server_is_an_error_after_the_start_message(
    tmp_path):
  r = _run_both(tmp_path, 'Offline', mode='FindPeakPerformance')
  pick = lambda d: [(k, v, e) for k, v, e in d
                    if k in ('generic_message', 'error_invalid_config')]
  assert pick(r['python'][1]) == pick(r['official'][1])
  assert r['python'][0] == r['official'][0] == []


@pytest.mark.parametrize('scenario,mode', [
    ('Offline', 'PerformanceOnly'), ('Offline', 'AccuracyOnly'),
    ('SingleStream', 'AccuracyOnly'), ('Server', 'SubmissionRun')])
def test_detail_keys_in_order(tmp_path, scenario, mode):
  # Offline's 'Ending naturally', the logger counters and power_begin/end of
  # every issue run (accuracy too), num_errors only after a summary.
  r = _run_both(tmp_path, scenario, mode=mode, total=30, performance=10,
                min_query_count=20)
  ignore = ('warning_generic_message',)  # "Logging allocation detected"
  seq = {}
  for w in BOTH:
    seq[w] = [(k, v if k in ('generic_message', 'num_errors') else None)
              for k, v, _ in r[w][1] if k not in ignore]
  assert seq['python'] == seq['official']


def test_qdl_side_by_side(tmp_path):
  names = {}
  for which in BOTH:
    lg = loadgen_harness.official.get(which)
    asked = names[which] = []

    def issue(qs, lg=lg):
      lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0)
                               for q in qs])

    def name(asked=asked):
      asked.append(1)
      return 'remote-sut'
    qdl = lg.ConstructQDL(issue, lambda: None, name)
    qsl = lg.ConstructQSL(16, 16, lambda x: None, lambda x: None)
    s = lg.TestSettings()
    s.scenario = lg.TestScenario.Offline
    s.mode = lg.TestMode.AccuracyOnly
    ls = lg.LogSettings()
    (tmp_path / which).mkdir()
    ls.log_output.outdir = str(tmp_path / which)
    ls.enable_trace = False
    try:
      lg.StartTestWithLogSettings(qdl, qsl, s, ls, 'no-such-audit.config')
    finally:
      lg.DestroyQSL(qsl)
      lg.DestroyQDL(qdl)
    d = dict((k, v) for k, v, _ in
             _detail(tmp_path / which / 'mlperf_log_detail.txt'))
    assert d['sut_name'] == 'remote-sut'
  assert names['python'] == names['official'] == [1]


@pytest.mark.parametrize('mode,total,performance,index', [
    ('PerformanceOnly', 30, 20, 25), ('PerformanceOnly', 30, 20, 20),
    ('AccuracyOnly', 25, 10, 7)])  # accuracy sets of 10, 10, 5
def test_same_index_out_of_range_stops_before_loading(tmp_path, mode, total,
                                                      performance, index):
  if mode == 'PerformanceOnly':
    # The official flags it, then reads past the loaded set (undefined
    # behaviour: garbage indices). In a subprocess, with a SUT that never
    # looks at the indices.
    out = tmp_path / 'official'
    out.mkdir()
    subprocess.run([sys.executable, '-c', textwrap.dedent(f"""
        import mlperf_loadgen as lg
        s = lg.TestSettings()
        s.scenario = lg.TestScenario.Offline
        s.min_duration_ms, s.min_query_count = 10, 20
        s.performance_issue_same = True
        s.performance_issue_same_index = {index}
        sut = lg.ConstructSUT(lambda qs: lg.QuerySamplesComplete(
            [lg.QuerySampleResponse(q.id, 0, 0) for q in qs]), lambda: None)
        qsl = lg.ConstructQSL({total}, {performance}, lambda x: None,
                              lambda x: None)
        ls = lg.LogSettings()
        ls.log_output.outdir = {str(out)!r}
        ls.enable_trace = False
        lg.StartTestWithLogSettings(sut, qsl, s, ls, 'no-such-audit.config')
        """)], capture_output=True, timeout=120, check=False)
    assert [v for k, v, e in _detail(out / 'mlperf_log_detail.txt')
            if e and k == 'error_invalid_test_settings']
  events = []
  with pytest.raises(pyloadgen.ConfigError,
                     match=f'performance_issue_same_index {index} must be '
                     'below'):
    loadgen_harness.run('python', 'Offline', tmp_path / 'python', mode=mode,
                        total=total, performance=performance, events=events,
                        performance_issue_same=True,
                        performance_issue_same_index=index)
  assert events == []  # nothing loaded, issued or flushed
  summary = (tmp_path / 'python' / 'mlperf_log_summary.txt').read_text()
  assert 'ERROR' in summary


def test_first_server_query_is_issued_without_sleeping(tmp_path,
                                                       monkeypatch):
  order = []
  real_sleep = time.sleep

  def sleep(s):
    order.append('sleep')
    real_sleep(s)
  monkeypatch.setattr(scenarios.time, 'sleep', sleep)
  lg = pyloadgen

  def issue(qs):
    order.append('issue')
    lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0) for q in qs])
  sut = lg.ConstructSUT(issue, lambda: None)
  qsl = lg.ConstructQSL(20, 10, lambda x: None, lambda x: None)
  s = lg.TestSettings()
  s.scenario = lg.TestScenario.Server
  s.min_duration_ms = 20
  s.min_query_count = 10
  s.server_target_qps = 2000
  ls = lg.LogSettings()
  ls.log_output.outdir = str(tmp_path)
  try:
    lg.StartTestWithLogSettings(sut, qsl, s, ls, 'no-such-audit.config')
  finally:
    lg.DestroySUT(sut)
    lg.DestroyQSL(qsl)
  assert order[0] == 'issue' and 'sleep' in order
