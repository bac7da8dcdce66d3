# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Conf files (precedence, units, errors) and fault handling of pyloadgen."""

import json
import subprocess
import sys
import textwrap
import threading

import pytest

from mlperf_jax.loadgen import logs
from mlperf_jax.loadgen import pyloadgen as lg
from mlperf_jax.loadgen import settings as settings_lib

USER_CONF = textwrap.dedent("""\
    # comment line
    resnet50.*.min_duration = 1234
    *.Offline.min_duration = 777
    *.Server.target_qps = 0x10
    resnet50.Server.target_latency = 7
    *.SingleStream.target_latency = 0.5
    *.*.min_query_count = 42
    resnet50.MultiStream.samples_per_query = 4
    """)
FIELDS = ['min_duration_ms', 'qsl_rng_seed', 'sample_index_rng_seed',
          'schedule_rng_seed', 'server_target_qps', 'server_target_latency_ns',
          'single_stream_expected_latency_ns', 'min_query_count',
          'multi_stream_samples_per_query', 'accuracy_log_probability',
          'performance_sample_count_override', 'server_target_latency_percentile',
          'offline_expected_qps']


def _official_from_config(path, scenario):
  code = textwrap.dedent(f"""
      import json, mlperf_loadgen as lg
      s = lg.TestSettings()
      s.FromConfig({str(path)!r}, 'resnet50', {scenario!r})
      print(json.dumps({{k: getattr(s, k) for k in {FIELDS!r}}}))
      """)
  out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                       text=True, check=True, timeout=60)
  return json.loads(out.stdout)


@pytest.mark.parametrize('scenario', ['Offline', 'Server', 'SingleStream',
                                      'MultiStream'])
def test_from_config_matches_official(tmp_path, scenario):
  pytest.importorskip('mlperf_loadgen')
  path = tmp_path / 'user.conf'
  path.write_text(USER_CONF)
  want = _official_from_config(path, scenario)
  ours = settings_lib.TestSettings()
  settings_lib._CONF_COUNT[0] = 0  # pylint: disable=protected-access
  ours.FromConfig(str(path), 'resnet50', scenario)
  got = {k: getattr(ours, k) for k in FIELDS}
  assert got == pytest.approx(want)
  # Wildcard precedence: *.Offline beats resnet50.*; the embedded seeds.
  # (A seed in a user.conf: test_loadgen_user_conf.py.)
  assert got['min_duration_ms'] == (777 if scenario == 'Offline' else 1234)
  assert got['qsl_rng_seed'] == 2085463073848966840


@pytest.mark.parametrize('line,needle', [
    ('*.*.min_duration = 100 # inline comment', 'Comments must be'),
    ('*.*.min_duration = ten', "value 'ten'"),
    ('*.*.min_duration 100', "expected 'key = value'"),
    ('*.*.min_duration =', 'has no value'),
])
def test_malformed_line_names_file_and_line(tmp_path, line, needle):
  path = tmp_path / 'user.conf'
  path.write_text('# ok\n*.*.max_duration = 5\n' + line + '\n')
  with pytest.raises(settings_lib.ConfigError) as e:
    settings_lib.parse_conf(path.read_text(), str(path))
  assert f'{path}:3:' in str(e.value) and needle in str(e.value)


def test_missing_conf_file_is_an_error(tmp_path):
  with pytest.raises(settings_lib.ConfigError, match='no-such.conf'):
    settings_lib.TestSettings().FromConfig(str(tmp_path / 'no-such.conf'),
                                           'resnet50', 'Offline', 2)


def _settings(scenario='Server', timeout=0.5):
  s = lg.TestSettings()
  s.scenario = getattr(lg.TestScenario, scenario)
  s.min_duration_ms = 50
  s.min_query_count = 20
  s.server_target_qps = 1000
  s.offline_expected_qps = 1000
  s.completion_timeout_s = timeout
  return s


def _log_settings(tmp_path):
  ls = lg.LogSettings()
  ls.log_output.outdir = str(tmp_path)
  return ls


def _run(tmp_path, issue, scenario='Server'):
  sut = lg.ConstructSUT(issue, lambda: None)
  qsl = lg.ConstructQSL(30, 10, lambda x: None, lambda x: None)
  try:
    lg.StartTestWithLogSettings(sut, qsl, _settings(scenario),
                                _log_settings(tmp_path), 'none.config')
  finally:
    lg.DestroySUT(sut)
    lg.DestroyQSL(qsl)
  return logs.parse_detail(tmp_path / 'mlperf_log_detail.txt')


@pytest.mark.parametrize('scenario', ['Server', 'SingleStream', 'Offline'])
def test_never_completing_sut_times_out_invalid(tmp_path, scenario):
  def issue(qs):
    done = [lg.QuerySampleResponse(q.id, 0, 0) for q in qs if q.index % 3]
    lg.QuerySamplesComplete(done)
  d, errors = _run(tmp_path, issue, scenario)
  assert d['result_validity'] == 'INVALID'
  assert any('did not complete' in e for e in errors)
  summary = (tmp_path / 'mlperf_log_summary.txt').read_text()
  assert 'Result is : INVALID' in summary and 'completion timeout' in summary


def test_duplicate_and_unknown_completions_are_errors(tmp_path):
  def issue(qs):
    r = [lg.QuerySampleResponse(q.id, 0, 0) for q in qs]
    lg.QuerySamplesComplete(r)
    lg.QuerySamplesComplete(r[:1])
    lg.QuerySamplesComplete([lg.QuerySampleResponse(10**9, 0, 0)])
  d, errors = _run(tmp_path, issue)
  assert any('complete a sample twice' in e for e in errors)
  assert any('unknown response id' in e for e in errors)
  assert d['num_errors'] == len(errors)


def test_sut_exception_stops_test_with_traceback(tmp_path):
  calls = []

  def issue(qs):
    calls.append(len(qs))
    if len(calls) == 5:
      raise ZeroDivisionError('boom in SUT')
    lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0) for q in qs])
  with pytest.raises(lg.SUTError) as e:
    _run(tmp_path, issue)
  assert isinstance(e.value.__cause__, ZeroDivisionError)
  assert len(calls) == 5
  d, errors = logs.parse_detail(tmp_path / 'mlperf_log_detail.txt')
  assert any('Traceback' in x and 'boom in SUT' in x for x in errors)
  assert d['result_validity'] == 'INVALID'
  assert (tmp_path / 'mlperf_log_summary.txt').exists()


def test_async_worker_sut_and_fast_sut(tmp_path):
  """Completions from another thread, and ConstructFastSUT, both VALID-able."""
  import queue  # pylint: disable=import-outside-toplevel
  q = queue.Queue()

  def worker():
    while True:
      item = q.get()
      if item is None:
        return
      lg.QuerySamplesComplete([lg.QuerySampleResponse(i, b'\x01', 1)
                               for i in item])
  th = threading.Thread(target=worker)
  th.start()
  sut = lg.ConstructFastSUT(lambda ids, idx: q.put(ids), lambda: None)
  qsl = lg.ConstructQSL(30, 10, lambda x: None, lambda x: None)
  s = _settings('SingleStream', timeout=5)
  s.single_stream_expected_latency_ns = 50000
  s.min_query_count = 70
  lg.StartTestWithLogSettings(sut, qsl, s, _log_settings(tmp_path),
                              'none.config')
  q.put(None)
  th.join()
  d, errors = logs.parse_detail(tmp_path / 'mlperf_log_detail.txt')
  assert not [e for e in errors if 'Ran out' not in e]
  assert d['result_query_count'] >= 70
  assert d['early_stopping_latency_ss'] > 0
