# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.infer` at the mini scale, through the official
LoadGen (the judge) and, where present, the project's Python LoadGen."""

import json
import subprocess
import sys

import pytest


def _infer(out, *args):
  return subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'resnet',
       '--output-dir', str(out), *args],
      capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize('loadgen', ['official', 'python'])
def test_offline_accuracy_mode_scores_the_whole_set(tmp_path, loadgen):
  proc = _infer(tmp_path, '--scenario', 'Offline', '--mode', 'accuracy',
                '--loadgen', loadgen)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  # The model trained on the fly reports its eval top-1; serving the same
  # 360 held-out digits through LoadGen must give exactly that number.
  trained = float(proc.stdout.split('quality ')[1].split()[0])
  entries = json.loads((tmp_path / 'mlperf_log_accuracy.json').read_text())
  assert sorted(e['qsl_idx'] for e in entries) == list(range(360))
  assert all(len(e['data']) == 8 for e in entries)  # one int32 each
  line = [l for l in proc.stdout.splitlines() if 'top-1' in l][0]
  served = float(line.split('top-1 = ')[1].split()[0]) / 100
  # Printed to 4 decimals; one sample differs by 1/360 = 0.0028.
  assert served == pytest.approx(trained, abs=1e-4)
  assert (tmp_path / 'mlperf_log_summary.txt').exists()
  assert (tmp_path / 'mlperf_log_detail.txt').exists()


@pytest.mark.parametrize('scenario, loadgen', [
    ('Server', 'official'), ('SingleStream', 'official'),
    ('Offline', 'python')])
def test_performance_mode_is_valid(tmp_path, scenario, loadgen):
  proc = _infer(tmp_path, '--scenario', scenario, '--loadgen', loadgen)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  summary = (tmp_path / 'mlperf_log_summary.txt').read_text()
  assert f'Scenario : {scenario}' in summary
  assert 'Result is : VALID' in summary


def test_bad_input_exits_2(tmp_path):
  proc = _infer(tmp_path, '--scenario', 'Offline', '--checkpoint',
                str(tmp_path / 'nope'))
  assert proc.returncode == 2 and 'does not exist' in proc.stderr
  proc = _infer(tmp_path, '--scale', 'reference')
  assert proc.returncode == 2 and '--checkpoint' in proc.stderr


def test_serves_the_final_parameters_saved_by_train(tmp_path):
  runs = tmp_path / 'runs'
  train = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'resnet',
       '--seed', '4', '--quiet', '--output-dir', str(runs)],
      capture_output=True, text=True, timeout=300, check=False)
  assert train.returncode == 0, train.stdout + train.stderr
  (params,) = list(runs.rglob('final_params'))
  metrics = json.loads((params.parent / 'metrics.json').read_text())
  proc = _infer(tmp_path / 'inf', '--checkpoint', str(params), '--mode',
                'accuracy')
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert 'training the mini model' not in proc.stdout
  line = [l for l in proc.stdout.splitlines() if 'top-1' in l][0]
  served = float(line.split('top-1 = ')[1].split()[0]) / 100
  # Serving the saved parameters reproduces the run's final eval exactly.
  assert served == pytest.approx(metrics['quality'], abs=1e-5)
