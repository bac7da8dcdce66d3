# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Command-line errors: exit code 2, a message naming the problem, nothing
compiled and nothing written."""

import subprocess
import sys

import pytest


def _train(tmp_path, *args):
  out = tmp_path / 'runs'
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.train', '--output-dir', str(out),
       *args], capture_output=True, text=True, timeout=120, check=False)
  return proc, out


def test_help_lists_workloads(tmp_path):
  proc, _ = _train(tmp_path, '--help')
  assert proc.returncode == 0
  assert 'resnet' in proc.stdout and '--synthetic-data' in proc.stdout


@pytest.mark.parametrize('args, words', [
    (['--workload', 'resnett'], ["unknown workload 'resnett'", 'resnet']),
    (['--workload', 'resnet', '--set', 'lars_opt_lr=1'],
     ["unknown hyperparameter 'lars_opt_lr'", 'lars_opt_base_learning_rate']),
    (['--workload', 'resnet', '--set', 'global_batch_size=abc'],
     ['global_batch_size', "'abc' is not an integer"]),
    (['--workload', 'resnet', '--set', 'global_batch_size'],
     ['KEY=VALUE']),
    (['--workload', 'resnet', '--set', 'opt_name=adam'],
     ["opt_name='adam'", 'lars, sgd']),
    (['--workload', 'resnet', '--mesh', 'data=3'], ['3', 'devices']),
    (['--workload', 'resnet', '--scale', 'reference'], ['--data-dir']),
    (['--workload', 'resnet', '--scale', 'galactic'], ['invalid choice']),
    (['--workload', 'bert', '--init-checkpoint', '/nonexistent/model.ckpt'],
     ['does not exist', '.index']),
    (['--workload', 'resnet', '--init-checkpoint', '/'],
     ['does not start from a checkpoint']),
])
def test_bad_input_exits_2(tmp_path, args, words):
  proc, out = _train(tmp_path, *args)
  assert proc.returncode == 2, proc.stderr
  for w in words:
    assert w in proc.stderr, proc.stderr
  assert not out.exists()


def test_closed_violations_listed_at_once_before_compute(tmp_path):
  proc, out = _train(
      tmp_path, '--workload', 'resnet', '--set', 'lars_opt_weight_decay=6e-5',
      '--set', 'lars_opt_end_learning_rate=0.001', '--set',
      'lars_opt_momentum=0.8')
  assert proc.returncode == 2
  err = proc.stderr
  assert 'lars_opt_weight_decay=6e-05' in err and '1e-4' in err.replace(
      '0.0001', '1e-4')
  assert 'lars_opt_end_learning_rate' in err and 'lars_opt_momentum' in err
  assert not out.exists()  # rejected before any log, compile or data access


def test_open_division_accepts_and_logs_illegal_values(tmp_path):
  proc, out = _train(
      tmp_path, '--workload', 'resnet', '--division', 'open', '--set',
      'lars_opt_weight_decay=6e-5', '--max-steps', '1', '--quiet', '--seed',
      '3')
  assert proc.returncode == 1, proc.stderr  # budget: aborted, not an error
  (log,) = list(out.rglob('mllog.txt'))
  text = log.read_text()
  assert '"key": "lars_opt_weight_decay", "value": 6e-05' in text
  assert '"status": "aborted"' in text
  assert 'step budget' in proc.stdout


def test_every_problem_of_a_command_line_in_one_message(tmp_path):
  proc, out = _train(
      tmp_path, '--workload', 'resnet', '--scale', 'reference', '--mesh',
      'data=x', '--max-epochs', '0', '--set', 'nosuch=1', '--set',
      'lars_opt_momentum=0.5', '--set', 'global_batch_size')
  assert proc.returncode == 2
  for words in ("'x' is not an integer", '--max-epochs must be >= 1',
                "unknown hyperparameter 'nosuch'", 'lars_opt_momentum=0.5',
                '--data-dir', 'KEY=VALUE'):
    assert words in proc.stderr, (words, proc.stderr)
  assert not out.exists()


@pytest.mark.parametrize('name', ['resnet', 'bert', 'dlrm'])
def test_validation_imports_no_jax(name):
  code = f'''
import argparse, sys
from mlperf_jax.cli import options
p = argparse.ArgumentParser()
options.add_arguments(p)
for scale in ('mini', 'reference'):
  parsed = options.parse(p, ['--workload', '{name}', '--scale', scale,
                             '--dry-run', '--set', 'global_batch_size=64'])
  assert parsed.hp['global_batch_size'] == 64
heavy = sorted(m for m in ('jax', 'jaxlib', 'flax', 'optax', 'orbax')
               if m in sys.modules)
assert not heavy, heavy
'''
  r = subprocess.run([sys.executable, '-c', code], capture_output=True,
                     text=True, timeout=120, check=False)
  assert r.returncode == 0, r.stderr


def test_dry_run_reference_plans_any_mesh_without_data_or_allocation(
    tmp_path):
  # The tests have 8 fake devices; a 16-device mesh is planned on 16
  # abstract ones, with no data flag (a dry run reads no data).
  proc, out = _train(tmp_path, '--workload', 'resnet', '--scale', 'reference',
                     '--dry-run', '--mesh', 'data=16',
                     '--set', 'global_batch_size=512')
  assert proc.returncode == 0, proc.stderr
  assert 'data=16, fsdp=1, tensor=1 (16 devices, abstract' in proc.stdout
  assert 'per data shard 32' in proc.stdout
  assert 'parameters: 25,557,032' in proc.stdout
  assert 'input: not measured (no --data-dir' in proc.stdout
  line = [l for l in proc.stdout.splitlines() if 'FLOPs per device' in l][0]
  flops = float(line.split(':')[-1].split()[0])
  # ~24 GFLOP per image for a train step (3x the 8 GFLOP forward), 32 images
  # per device.
  assert 0.5e12 < flops < 1.0e12, line
  assert 'train state per device' in proc.stdout
  assert not out.exists()
