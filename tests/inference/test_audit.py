# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Compliance audits TEST01 / TEST04 / TEST05: the audit.config the LoadGen
reads, and the verifications on hand-made logs (and against the official
`compliance/nvidia` scripts of mlcommons/inference v1.0.1 where a checkout
is named by MLPERF_INFERENCE_SRC)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mlperf_jax.inference import audit
from mlperf_jax.loadgen import pyloadgen

_OFFICIAL = os.environ.get('MLPERF_INFERENCE_SRC')


def _settings(text, tmp_path, scenario):
  path = tmp_path / 'audit.config'
  path.write_text(text)
  s = pyloadgen.TestSettings()
  s.scenario = getattr(pyloadgen.TestScenario, scenario)
  s.FromConfig(str(path), '*', scenario, 2)
  return s


def test_audit_configs_set_what_each_test_needs(tmp_path):
  s = _settings(audit.audit_config('TEST01', 'bert'), tmp_path, 'Offline')
  assert s.mode == pyloadgen.TestMode.PerformanceOnly
  assert s.accuracy_log_rng_seed == 720381539243781796
  assert s.accuracy_log_sampling_target == 4096
  assert 'sampling_target = 256' in audit.audit_config('TEST01',
                                                       'ssd-resnet34')
  b = _settings(audit.audit_config('TEST04-B', 'bert'), tmp_path, 'Server')
  assert b.performance_issue_same and b.performance_issue_same_index == 3
  assert not b.performance_issue_unique
  a = _settings(audit.audit_config('TEST04-A', 'bert'), tmp_path, 'Server')
  assert a.performance_issue_unique and not a.performance_issue_same
  # TEST05's seeds: LoadGen 6.0.17 takes seeds only from its mlperf.conf,
  # so the audit sets them on the TestSettings.
  t5 = _settings(audit.audit_config('TEST05', 'dlrm'), tmp_path, 'Offline')
  assert t5.mode == pyloadgen.TestMode.PerformanceOnly
  assert audit.settings_overrides('TEST05') == {
      'qsl_rng_seed': 313588358309856706,
      'sample_index_rng_seed': 471397156132239067,
      'schedule_rng_seed': 413914573387865862}
  assert audit.settings_overrides('TEST01') == {}
  with pytest.raises(ValueError, match='TEST01'):
    audit.audit_config('TEST02', 'bert')


def _summary(path, scenario, score, valid='VALID'):
  key = {'Offline': 'Samples per second',
         'Server': 'Scheduled samples per second',
         'SingleStream': '90th percentile latency (ns)'}[scenario]
  path.write_text('================================================\n'
                  'MLPerf Results Summary\n'
                  '================================================\n'
                  f'SUT name : x\nScenario : {scenario}\nMode     : '
                  f'PerformanceOnly\n{key} : {score}\nResult is : {valid}\n')
  return str(path)


def _official(script, *args):
  proc = subprocess.run([sys.executable, os.path.join(
      _OFFICIAL, 'compliance', 'nvidia', script), *args], capture_output=True,
                        text=True, check=False, cwd=os.path.dirname(args[-1]))
  return 'TEST PASS' in proc.stdout


@pytest.mark.parametrize('scenario, ref, got, threshold, want', [
    ('Offline', 100.0, 109.9, 0.10, True), ('Offline', 100.0, 110.1, 0.10,
                                             False),
    ('Offline', 100.0, 95.5, 0.05, True), ('Server', 100.0, 94.9, 0.05, False),
    # SingleStream at <= 200 us: 20 %.
    ('SingleStream', 150000, 179000, 0.10, True),
    ('SingleStream', 300000, 340000, 0.10, False)])
def test_verify_performance(tmp_path, scenario, ref, got, threshold, want):
  r = _summary(tmp_path / 'ref.txt', scenario, ref)
  t = _summary(tmp_path / 'test.txt', scenario, got)
  ok, text = audit.verify_performance(r, t, threshold)
  assert ok is want and ('TEST PASS' in text) is want
  if _OFFICIAL:
    test = 'TEST01' if threshold == 0.10 else 'TEST05'
    assert _official(f'{test}/verify_performance.py', '-r', r, '-t', t) is want
  bad = _summary(tmp_path / 'bad.txt', scenario, ref, 'INVALID')
  assert audit.verify_performance(bad, t, threshold)[0] is False


@pytest.mark.parametrize('scenario, unique, same, want', [
    ('Offline', 100.0, 105.0, True), ('Offline', 100.0, 130.0, False),
    ('Offline', 100.0, 50.0, True),  # slower with the same sample: fine
    ('SingleStream', 1e6, 2e6, True), ('SingleStream', 1e6, 0.5e6, False)])
def test_verify_test04(tmp_path, scenario, unique, same, want):
  a = _summary(tmp_path / 'a.txt', scenario, unique)
  b = _summary(tmp_path / 'b.txt', scenario, same)
  assert audit.verify_test04(a, b)[0] is want
  if _OFFICIAL:
    assert _official('TEST04-A/verify_test4_performance.py', '-u', a, '-s',
                     b) is want


def _log(path, entries):
  path.write_text(json.dumps([{'seq_id': k, 'qsl_idx': i, 'data': d.hex()}
                              for k, (i, d) in enumerate(entries)]))
  return str(path)


def test_verify_accuracy_compares_first_elements(tmp_path):
  rng = np.random.default_rng(0)
  resp = {i: rng.normal(size=4).astype(np.float32).tobytes()
          for i in range(6)}
  acc = _log(tmp_path / 'acc.json', list(resp.items()))
  same = _log(tmp_path / 'same.json', [(3, resp[3]), (1, resp[1]),
                                       (3, resp[3])])
  ok, text = audit.verify_accuracy(acc, same)
  assert ok and 'num_perf_log_qsl_idx_match = 3' in text
  flipped = bytearray(resp[1])
  flipped[0] ^= 1  # the first byte differs
  bad = _log(tmp_path / 'bad.json', [(3, resp[3]), (1, bytes(flipped))])
  ok, text = audit.verify_accuracy(acc, bad)
  assert not ok and 'num_perf_log_data_mismatch = 1' in text
  later = bytearray(resp[1])
  later[5] ^= 1  # only a later byte differs: the script looks at the first
  assert audit.verify_accuracy(acc, _log(tmp_path / 'later.json',
                                         [(1, bytes(later))]))[0]
  # ... unless read as float32, whose first element then differs? no: byte
  # 5 is in the second float.
  assert audit.verify_accuracy(acc, _log(tmp_path / 'l2.json',
                                         [(1, bytes(later))]), 'float32')[0]
  if _OFFICIAL:
    for log, want in ((same, True), (bad, False)):
      assert _official('TEST01/verify_accuracy.py', '-r', acc, '-t',
                       log) is want


def test_bad_audit_and_finetune_requests_exit_2_before_compute(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'resnet',
       '--audit', 'TEST04-B', '--mode', 'accuracy'],
      capture_output=True, text=True, check=False)
  assert proc.returncode == 2 and '--mode performance' in proc.stderr
  (tmp_path / 'out' / 'final_params').mkdir(parents=True)
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.finetune', '--workload', 'bert',
       '--scale', 'reference', '--train-file', str(tmp_path / 'none.json'),
       '--output-dir', str(tmp_path / 'out'), '--epochs', '0'],
      capture_output=True, text=True, check=False)
  assert proc.returncode == 2
  for want in ('needs --checkpoint', 'needs --vocab', 'none.json',
               'already holds final_params', '--epochs 0.0 must be > 0'):
    assert want in proc.stderr, proc.stderr
