# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`infer --results-dir` writes the official inference results tree, which
passes the layout check; broken trees fail it, naming the problem."""

import os
import shutil
import subprocess
import sys

from mlperf_jax.inference import audit
from mlperf_jax.inference import results_tree


def _infer(run, root, mode, *extra):
  return subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'resnet',
       '--scenario', 'Offline', '--mode', mode, '--loadgen', 'official',
       '--checkpoint', str(run.log.parent / 'final_params'),
       '--results-dir', str(root), '--system', 'cpu2', *extra],
      capture_output=True, text=True, timeout=300, check=False)


def test_mini_results_tree_passes_the_layout_check(mini_run, tmp_path):
  run = mini_run('resnet')
  assert run.log is not None, run.output()
  root = tmp_path / 'sub'
  for mode in ('performance', 'accuracy'):
    proc = _infer(run, root, mode)
    assert proc.returncode == 0, proc.stdout + proc.stderr
  base = root / 'results' / 'cpu2' / 'resnet50' / 'Offline'
  assert sorted(os.listdir(base)) == ['accuracy', 'performance']
  for f in results_tree.REQUIRED_ACC_FILES:
    assert (base / 'accuracy' / f).is_file(), f
  assert (base / 'accuracy' / 'accuracy.txt').read_text().startswith('top1 = ')
  assert results_tree.check(str(root)) == []

  # TEST01 on the same tree: the compliance layout, and verdicts that are
  # the verifications' of the logs it holds (performance within 10 % is up
  # to the machine's load, so either verdict may be right here).
  proc = _infer(run, root, 'performance', '--audit', 'TEST01')
  test01 = root / 'compliance' / 'cpu2' / 'resnet50' / 'Offline' / 'TEST01'
  assert proc.returncode in (0, 1), proc.stdout + proc.stderr
  assert results_tree.check_compliance(str(root)) == []
  acc_ok, acc_text = audit.verify_accuracy(
      str(base / 'accuracy' / 'mlperf_log_accuracy.json'),
      str(test01 / 'accuracy' / 'mlperf_log_accuracy.json'))
  assert (test01 / 'verify_accuracy.txt').read_text() == acc_text
  assert 'num_perf_log_qsl_idx_match = 0' not in acc_text  # sampled some
  perf_ok = audit.pass_lines(str(test01 / 'verify_performance.txt'))
  assert proc.returncode == (0 if acc_ok and perf_ok else 1)
  assert (test01.parent / 'TEST01' / 'audit.config').read_text().startswith(
      '*.*.mode = 2')

  # Broken copies: each problem is named.
  bad = tmp_path / 'bad'
  shutil.copytree(root, bad)
  bad_base = bad / 'results' / 'cpu2' / 'resnet50'
  os.remove(bad_base / 'Offline' / 'accuracy' / 'accuracy.txt')
  shutil.copytree(bad_base / 'Offline', bad_base / 'Server')
  shutil.rmtree(bad_base / 'Server' / 'accuracy')
  problems = results_tree.check(str(bad))
  assert any('Offline/accuracy: missing accuracy.txt' in p for p in problems)
  assert any('Server/performance/run_1/mlperf_log_detail.txt: '
             "effective_scenario is 'Offline'" in p for p in problems)
  assert any('Server/accuracy: missing mlperf_log_accuracy.json' in p
             for p in problems)
  assert results_tree.check(str(tmp_path / 'nothing')) == [
      f'{tmp_path / "nothing"}: no results/ directory']
