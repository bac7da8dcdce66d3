# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Submission packages: `submit` (with an interruption), `check`, and the
official package checker on a reference-config package.

The mini package is made by `submit` with 5 real runs; `submit` is killed
(SIGKILL to its process group, the running `train` included) in the middle
of run 3 and rerun, and the package it ends with must pass `check`
(compliance, seeds, RCP). Its seeds are given with `--seeds` so that the RCP
verdict is reproducible (seeds drawn from os.urandom are checked on the
reference package).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from mlperf_jax.submission import package_check as check
from mlperf_jax.submission import result_log
from mlperf_jax.submission import tree as st
from mlperf_jax.submission import package as submit

MINI_SEEDS = '11,12,13,14,15'


def _submit(out, *args, timeout=600, **kw):
  return subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.submit', '--workload', 'resnet',
       '--system', 'cpu_test', '--output-dir', str(out), *args],
      capture_output=True, text=True, timeout=timeout, check=False, **kw)


def _check(out, *args):
  return subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.check', str(out), *args],
      capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope='module')
def mini_package(tmp_path_factory):
  """5 mini runs by submit, killed mid-run 3 and resumed."""
  out = tmp_path_factory.mktemp('mini_pkg')
  tree = st.Tree(str(out), 'cpu_test', 'mini_resnet')
  cmd = [sys.executable, '-m', 'mlperf_jax.submit', '--workload', 'resnet',
         '--system', 'cpu_test', '--output-dir', str(out), '--seeds',
         MINI_SEEDS]
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, start_new_session=True)
  # Wait until run 3 (index 2) has started training, then kill submit and
  # its train process together. Only the order of events counts (run 3
  # under way before submit ends), not how long it takes to get there.
  killed_in_run3 = False
  while proc.poll() is None:
    logs = [os.path.join(d, f) for d, _, fs in os.walk(tree.runs_dir)
            if 'run_2_attempt1' in d for f in fs if f == 'mllog.txt']
    if logs and 'block_start' in open(logs[0]).read():
      os.killpg(proc.pid, signal.SIGKILL)
      killed_in_run3 = True
      break
    time.sleep(0.2)
  proc.wait(timeout=60)
  after_kill = tree.result_indices()
  resumed = _submit(out, '--seeds', MINI_SEEDS)
  return out, tree, killed_in_run3, after_kill, resumed


def test_killed_submit_keeps_results_and_resumes(mini_package):
  _, tree, killed, after_kill, resumed = mini_package
  assert killed, 'submit finished before run 3 could be interrupted'
  assert after_kill == [0, 1]
  assert resumed.returncode == 0, resumed.stdout + resumed.stderr
  assert 'keeping 2 completed result files' in resumed.stdout
  assert tree.result_indices() == [0, 1, 2, 3, 4]
  assert not [f for f in os.listdir(tree.results_dir) if f.endswith('.tmp')]
  # The interrupted attempt is kept for the record, and run 3 was redone.
  assert os.path.isdir(os.path.join(tree.runs_dir, 'run_2_attempt1'))
  assert os.path.isdir(os.path.join(tree.runs_dir, 'run_2_attempt2'))
  logs = [result_log.parse(tree.result_path(i)) for i in range(5)]
  assert all(l.complete for l in logs)
  assert [l.seed for l in logs] == [int(s) for s in MINI_SEEDS.split(',')]
  manifest = st.read_manifest(tree)
  assert [a['state'] for a in manifest['attempts']] == [
      'success', 'success', 'running', 'success', 'success', 'success']


def test_mini_package_passes_check(mini_package):
  out, tree, *_ = mini_package
  proc = _check(out)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert 'CHECK PASSED' in proc.stdout
  assert 'RCP check: PASSED' in proc.stdout
  m = re.search(r'olympic score: ([0-9.]+) min', proc.stdout)
  assert m, proc.stdout
  # The olympic mean, recomputed with the official summarizer's helper.
  # pylint: disable-next=import-outside-toplevel
  from mlperf_logging.result_summarizer import result_summarizer
  minutes = [result_log.parse(tree.result_path(i)).time_to_train_s / 60
             for i in range(5)]
  scale = 1.0
  if os.path.exists(os.path.join(tree.results_dir, 'scaling.json')):
    with open(os.path.join(tree.results_dir, 'scaling.json')) as f:
      scale = json.load(f)['scaling_factor']
  # pylint: disable-next=protected-access
  want = result_summarizer._compute_olympic_average(minutes, 0, 1) * scale
  assert float(m.group(1)) == pytest.approx(want, rel=1e-3)
  for name in ('quality', 'time_to_train'):
    png = out / 'report' / f'cpu_test_mini_resnet_{name}.png'
    data = png.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 10_000, png
  summary = json.loads((out / 'report' / 'summary.json').read_text())
  assert summary[0]['rcp_passed'] and len(summary[0]['runs']) == 5
  assert summary[0]['rcp']['mean'] > 0


def test_package_tree_and_system_description(mini_package):
  out, tree, *_ = mini_package
  with open(tree.system_json) as f:
    desc = json.load(f)
  from mlperf_jax.submission import system_desc  # pylint: disable=import-outside-toplevel
  assert set(system_desc.REQUIRED_FIELDS) <= set(desc)
  assert all(isinstance(v, str) for v in desc.values())
  for k in system_desc.INTEGER_FIELDS:
    int(desc[k])
  assert 'NOT an MLPerf result' in desc['sw_notes']
  impl = os.path.join(tree.implementation_dir, 'run_and_time.sh')
  assert 'mlperf_jax.train --workload resnet' in open(impl).read()
  assert 'NOT an MLPerf result' in open(os.path.join(
      tree.implementation_dir, 'README.md')).read()
  # The results folder holds only what the package checker expects.
  assert set(os.listdir(tree.results_dir)) <= {
      f'result_{i}.txt' for i in range(5)} | {'scaling.json'}


def test_check_rejects_duplicate_seed_and_wrong_run_count(mini_package,
                                                         tmp_path):
  out, tree, *_ = mini_package
  bad = tmp_path / 'bad'
  shutil.copytree(out / 'results', bad / 'results')
  shutil.copytree(out / 'systems', bad / 'systems')
  bad_tree = st.Tree(str(bad), tree.system, tree.benchmark)
  shutil.copy(bad_tree.result_path(0), bad_tree.result_path(4))
  os.remove(bad_tree.result_path(3))
  proc = _check(bad, '--report-dir', str(tmp_path / 'report'))
  assert proc.returncode == 1
  assert 'CHECK FAILED' in proc.stdout
  assert 'already used by result_0.txt' in proc.stdout
  assert 'lacks result_3.txt' in proc.stdout


def test_submit_bad_input_exits_2(mini_package, tmp_path):
  out, *_ = mini_package
  proc = _submit(tmp_path / 'x', '--seed', '3')
  assert proc.returncode == 2 and 'distinct seed per run' in proc.stderr
  # Continuing a package with other options is refused.
  proc = _submit(out, '--seeds', MINI_SEEDS, '--set', 'global_batch_size=64')
  assert proc.returncode == 2 and 'other options' in proc.stderr
  assert not (tmp_path / 'x').exists()


def test_train_arguments_pass_through():
  argv = ['--workload', 'resnet', '--runs', '3', '--system=s1', '--seeds',
          '1,2,3', '--output-dir', 'o', '--set', 'global_batch_size=64',
          '--max-epochs', '4']
  assert submit.train_arguments(argv, 's1') == [
      '--workload', 'resnet', '--set', 'global_batch_size=64',
      '--max-epochs', '4', '--submission-platform', 's1', '--quiet']
  used = set(range(10))
  assert submit._draw_seed(used) not in used  # pylint: disable=protected-access


def _with_seed(text, seed):
  return re.sub(r'("key": "seed", "value": )\d+', rf'\g<1>{seed}', text)


@pytest.fixture(scope='module')
def reference_package(tmp_path_factory):
  """A reference-config smoke package: one real run, copied 4 times with
  other seeds (a reference smoke run costs ~40 s on 2 cores)."""
  out = tmp_path_factory.mktemp('ref_pkg')
  proc = _submit(out, '--scale', 'reference', '--synthetic-data',
                 '--max-steps', '1', '--set', 'global_batch_size=8',
                 '--runs', '1')
  assert proc.returncode == 0, proc.stdout + proc.stderr
  tree = st.Tree(str(out), 'cpu_test', 'resnet')
  text = open(tree.result_path(0)).read()
  for i in range(1, 5):
    st.write_atomic(tree.result_path(i), _with_seed(text, 1000 + i))
  return out, tree, proc


def test_reference_package_only_fails_on_quality(reference_package):
  out, tree, proc = reference_package
  assert 'synthetic-data smoke package' in proc.stdout
  log = result_log.parse(tree.result_path(0))
  manifest = st.read_manifest(tree)
  assert log.seeds == [manifest['attempts'][0]['seed']]  # drawn, logged
  assert any('synthetic data' in n for n in log.notices)
  passed, errors, output = check.run_package_checker(str(out), '1.1.0')
  assert not passed
  assert 'Incorrect number of files' not in output
  assert 'System description file checker failed' not in output
  assert 'Seed checker failed' not in output
  assert errors, output
  for e in errors:
    # Per-file quality-target failures (the run stops before the target),
    # the resulting "files do not comply" and the RCP check's
    # non-convergence: nothing about format, keys, seeds or file counts.
    assert ('eval_accuracy' in e or 'do not comply' in e
            or 'Insufficient convergence' in e or 'FAILED' in e), output
  assert any('Insufficient convergence' in e for e in errors), output
  # Why the files do not comply: the quality target, and nothing else.
  reasons = [l for l in output.splitlines()
             if 'Failed checks' in l or 'Required' in l or 'CHECK for' in l]
  assert len(reasons) == 5, output
  assert all("Failed checks for eval_accuracy : v['value'] >= 0.7590" in l
             for l in reasons), reasons


def test_check_reports_reference_package(reference_package):
  out, *_ = reference_package
  proc = _check(out)
  assert proc.returncode == 1
  assert 'official package checker (1.1.0): FAILED' in proc.stdout
  assert 'official result summarizer' in proc.stdout
  assert 'cpu_test / resnet (reference scale, 5 of 5 runs)' in proc.stdout


def test_more_runs_with_the_same_options_extend_a_package(tmp_path):
  """`--runs` larger than the manifest's, same train options and drawn
  seeds: the plan extends the package (keeping its attempts); given seeds,
  fewer runs or other options are refused."""
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  wl = workloads.get('resnet', 'mini')
  argv = ['--workload', 'resnet', '--system', 's1', '--runs', '5']
  tree = st.Tree(str(tmp_path), 's1', wl.variant.benchmark)
  os.makedirs(tree.results_dir)
  attempts = [{'index': 0, 'seed': 3, 'state': 'success'}]
  st.write_manifest(tree, {'runs': 5, 'attempts': attempts,
                           'train_args': submit.train_arguments(argv, 's1')})
  kw = dict(output_dir=str(tmp_path), system='s1', argv=argv)
  p = submit.plan(wl, runs=7, seeds=None, **kw)
  assert p.runs == 7 and p.manifest['runs'] == 7
  assert p.manifest['attempts'] == attempts
  for runs, seeds, extra in ((7, '1,2,3,4,5,6,7', []), (4, None, []),
                             (7, None, ['--set', 'global_batch_size=64'])):
    with pytest.raises(ValueError, match='other options'):
      submit.plan(wl, runs=runs, seeds=seeds, output_dir=str(tmp_path),
                  system='s1', argv=argv + extra)
