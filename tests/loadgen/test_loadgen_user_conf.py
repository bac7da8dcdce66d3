# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""user.conf: numbers parsed as the official parser does, keys the official
LoadGen would silently ignore rejected with file and line, and the official
precedence (defaults < mlperf.conf < user.conf) where the mini settings stand
in for mlperf.conf, under both LoadGens."""

import json
import subprocess
import sys
import textwrap

import pytest

from mlperf_jax.inference import run as inference_run
from mlperf_jax.loadgen import official
from mlperf_jax.loadgen import settings as settings_lib

# Tokens around every rule of strtoull(base 0) / strtod: hexadecimal needs
# 0x ('abc' is not 2748), octal, exponents, inf/nan, overflow, garbage tails.
TOKENS = ['abc', '0x10', '0X1f', '-0x10', '1e3', '1E-2', '.5', '5.', '+3', '-0',
          '010', '08', '00', '0x', '1_0', 'inf', 'nan', 'Infinity', '0x1p3',
          '0x1.8p1', '1.5e', 'e5', '12abc', '0b1', '3.0f', '-1',
          '18446744073709551617', '1e400']


def _official(code):
  """Runs `code` (which prints JSON) against the official LoadGen."""
  pytest.importorskip('mlperf_loadgen')
  out = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                       capture_output=True, text=True, check=True, timeout=120)
  return json.loads(out.stdout)


@pytest.fixture
def fresh_conf_state(monkeypatch):
  """Our FromConfig's process-wide counter and pending errors, isolated."""
  monkeypatch.setattr(settings_lib, '_CONF_COUNT', [0])
  monkeypatch.setattr(settings_lib, 'PENDING_ERRORS', [])


def _conf(tmp_path, name, text):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def test_numbers_parse_as_the_official_parser(tmp_path, fresh_conf_state):
  paths = [_conf(tmp_path, f'{i}.conf', f'*.*.min_query_count = {tok}\n'
                 f'*.Server.target_qps = {tok}\n')
           for i, tok in enumerate(TOKENS)]
  theirs = _official(f"""
      import json, mlperf_loadgen as lg
      out = []
      for p in {paths!r}:
        s = lg.TestSettings()
        rc = s.FromConfig(p, 'm', 'Server')
        out.append([rc, s.min_query_count, repr(s.server_target_qps)])
      print(json.dumps(out))
      """)
  for tok, path, (rc, count, qps) in zip(TOKENS, paths, theirs):
    s = settings_lib.TestSettings()
    if rc != 0:  # the official drops the whole file
      with pytest.raises(settings_lib.ConfigError, match=r'\.conf:1: value'):
        s.FromConfig(path, 'm', 'Server')
      continue
    assert s.FromConfig(path, 'm', 'Server') == 0, tok
    assert (s.min_query_count, repr(s.server_target_qps)) == (count, qps), tok
  assert [rc for rc, _, _ in theirs].count(0) == 20  # both outcomes tested


IGNORED_LINES = [
    ('*.Offline.target_qsp = 5', "unknown key 'target_qsp'",
     "did you mean 'target_qps'"),
    ('resnet50.offline.target_qps = 5', "unknown scenario 'offline'",
     'Offline'),
    ('resnet50.target_qps = 5', 'is not model.scenario.key', ''),
    ('*.*.qsl_rng_seed = 99', "'qsl_rng_seed' can only be set by the "
     'mlperf.conf', 'remove the line'),
    ('*.*.accuracy_log_probability = 50', "'accuracy_log_probability' can "
     'only', ''),
    ('*.Offline.target_latency = 5', "'target_latency' is read only for",
     'SingleStream, MultiStream, Server'),
    ('resnet50.Server.samples_per_query = 4', "'samples_per_query' is read "
     'only for MultiStream', ''),
]


def test_keys_the_official_ignores_are_rejected_with_file_and_line(
    tmp_path, fresh_conf_state):
  base = '# a comment\nresnet50.Offline.min_duration = 1234\n'
  paths = [_conf(tmp_path, f'{i}.conf', base + line + '\n')
           for i, (line, _, _) in enumerate(IGNORED_LINES)]
  fields = ['min_duration_ms', 'offline_expected_qps', 'server_target_qps',
            'qsl_rng_seed', 'accuracy_log_probability',
            'single_stream_expected_latency_ns', 'multi_stream_samples_per_query']
  # The official LoadGen accepts each file and silently ignores the line:
  # the same settings as the file without it. (The first FromConfig of a
  # process applies the embedded mlperf.conf: spend it on an empty file.)
  empty, plain = _conf(tmp_path, 'empty.conf', ''), _conf(tmp_path,
                                                          'plain.conf', base)
  theirs = _official(f"""
      import json, mlperf_loadgen as lg
      lg.TestSettings().FromConfig({empty!r}, 'resnet50', 'Offline')
      ref = lg.TestSettings()
      ref.FromConfig({plain!r}, 'resnet50', 'Offline')
      out = []
      for p in {paths!r}:
        s = lg.TestSettings()
        rc = s.FromConfig(p, 'resnet50', 'Offline')
        out.append(rc == 0 and s.min_duration_ms == 1234 and all(
            getattr(s, k) == getattr(ref, k) for k in {fields!r}))
      print(json.dumps(out))
      """)
  assert theirs == [True] * len(IGNORED_LINES)
  for path, (line, needle, hint) in zip(paths, IGNORED_LINES):
    with pytest.raises(settings_lib.ConfigError) as e:
      settings_lib.TestSettings().FromConfig(path, 'resnet50', 'Offline')
    msg = str(e.value)
    assert msg.startswith(f'{path}:3: ') and needle in msg and hint in msg, (
        line, msg)
    with pytest.raises(settings_lib.ConfigError, match=f'{path}:3: '):
      settings_lib.read_user_conf(path)


def test_embedded_mlperf_conf_and_audit_config_are_not_key_checked(
    tmp_path, fresh_conf_state):
  # The embedded file holds seeds and two keys LoadGen never reads; an
  # audit.config may hold keys only the compliance scripts read (TEST07).
  s = settings_lib.TestSettings()
  s.FromConfig(_conf(tmp_path, 'user.conf', '*.*.min_duration = 5\n'),
               'resnet50', 'Server')
  assert s.qsl_rng_seed == 2085463073848966840 and s.min_duration_ms == 5
  audit = _conf(tmp_path, 'audit.config', '*.*.mode = 2\n'
                '*.*.test07_accuracy_threshold = 60.698\n')
  assert s.FromConfig(audit, '*', 'Server', 2) == 0


MINI = {'min_duration_ms': 2000, 'min_query_count': 64,
        'offline_expected_qps': 60000.0, 'server_target_qps': 500.0,
        'server_target_latency_ns': 50_000_000,
        'single_stream_expected_latency_ns': 200_000,
        'multi_stream_expected_latency_ns': 600_000}
USER_CONF = """\
# tune the mini test: model-specific lines beat wildcards, as in LoadGen
resnet50.Offline.target_qps = 70000
*.Offline.target_qps = 1
resnet50.Server.target_latency = 40
bert.*.min_duration = 9
"""
FIELDS = sorted(set(MINI) | {
    'performance_sample_count_override', 'qsl_rng_seed', 'mode',
    'single_stream_target_latency_percentile', 'multi_stream_samples_per_query',
    'server_target_latency_percentile'})


def _values(s):
  return {k: int(getattr(s, k)) if k == 'mode' else getattr(s, k)
          for k in FIELDS}


@pytest.mark.parametrize('loadgen', ['python', 'official'])
def test_user_conf_keeps_the_mini_settings_but_its_keys(tmp_path, loadgen,
                                                        fresh_conf_state):
  if loadgen == 'official':
    pytest.importorskip('mlperf_loadgen')
  lg = official.get(loadgen)
  path = _conf(tmp_path, 'user.conf', USER_CONF)
  plain = _values(inference_run._settings(  # pylint: disable=protected-access
      lg, 'Offline', 'performance', None, 'resnet50', MINI))
  got = _values(inference_run._settings(  # pylint: disable=protected-access
      lg, 'Offline', 'performance', path, 'resnet50', MINI))
  want = dict(plain, offline_expected_qps=70000.0,
              server_target_latency_ns=40_000_000)
  assert got == want
  # The official FromConfig gives the same values for the user.conf's keys
  # (and would have replaced the mini ones with mlperf.conf's).
  theirs = _official(f"""
      import json, mlperf_loadgen as lg
      s = lg.TestSettings()
      s.FromConfig({path!r}, 'resnet50', 'Offline')
      print(json.dumps({{k: getattr(s, k) for k in {FIELDS!r}
                         if k != 'mode'}}))
      """)
  for k in ('offline_expected_qps', 'server_target_latency_ns'):
    assert theirs[k] == got[k], k
  assert theirs['min_duration_ms'] == 600000 != got['min_duration_ms']
  assert theirs['performance_sample_count_override'] == 1024


def test_result_scale_uses_from_config_after_the_same_check(
    tmp_path, fresh_conf_state):
  lg = official.get('python')
  path = _conf(tmp_path, 'user.conf', USER_CONF)
  s = inference_run._settings(  # pylint: disable=protected-access
      lg, 'Offline', 'performance', path, 'resnet50', {})
  assert s.min_duration_ms == 600000  # mlperf.conf, then the user.conf
  assert s.offline_expected_qps == 70000.0
  assert s.performance_sample_count_override == 1024
  bad = _conf(tmp_path, 'bad.conf', 'resnet50.Offline.target_qps = abc\n')
  for defaults in ({}, MINI):
    with pytest.raises(inference_run.InferenceInputError,
                       match=r"--user-conf: .*bad.conf:1: value 'abc'"):
      inference_run._settings(  # pylint: disable=protected-access
          lg, 'Offline', 'performance', bad, 'resnet50', defaults)


def _infer_offline(tmp_path, user_conf):
  """`python -m mlperf_jax.infer` (mini ResNet, Offline) with `user_conf`."""
  conf = _conf(tmp_path, 'user.conf', user_conf)
  return subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'resnet',
       '--scenario', 'Offline', '--user-conf', conf, '--output-dir',
       str(tmp_path / 'out')],
      capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_infer_with_a_model_specific_line_is_valid(tmp_path):
  proc = _infer_offline(tmp_path, 'resnet50.Offline.target_qps = 70000\n')
  assert proc.returncode == 0, proc.stdout + proc.stderr
  detail = (tmp_path / 'out' / 'mlperf_log_detail.txt').read_text()
  assert '"effective_min_duration_ms", "value": 2000' in detail
  assert '"effective_samples_per_query", "value": 154000' in detail
  assert 'Result is : VALID' in (tmp_path / 'out' /
                                 'mlperf_log_summary.txt').read_text()


def test_infer_rejects_a_bad_user_conf_before_training(tmp_path):
  proc = _infer_offline(tmp_path, 'resnet50.Offline.target_qps = abc\n')
  conf = tmp_path / 'user.conf'
  assert proc.returncode == 2, proc.stdout + proc.stderr
  assert f"{conf}:1: value 'abc'" in proc.stderr
  assert 'training' not in proc.stdout and 'Traceback' not in proc.stderr
