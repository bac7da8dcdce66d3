# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Launch recipes: shellcheck-clean, and `--print-only` shows the commands."""

import os
import shutil
import subprocess
import sys

import pytest
from support import paths

ROOT = str(paths.REPO_ROOT)
SCRIPTS = ['tpu_pod.sh', 'slurm_gpu.sbatch', 'local_multiprocess.sh']


def _script(name):
  return os.path.join(ROOT, 'launch', name)


@pytest.mark.skipif(shutil.which('shellcheck') is None,
                    reason='shellcheck not installed (.ci/run installs it)')
def test_scripts_pass_shellcheck():
  proc = subprocess.run(['shellcheck', *map(_script, SCRIPTS)],
                        capture_output=True, text=True, check=False)
  assert proc.returncode == 0, proc.stdout + proc.stderr


def _print_only(name, *args, env=None):
  proc = subprocess.run(['bash', _script(name), '--print-only', *args],
                        capture_output=True, text=True, check=False,
                        env={**os.environ, **(env or {})}, timeout=60)
  assert proc.returncode == 0, proc.stderr
  return proc.stdout


def test_tpu_recipe_prints_create_install_run_and_log():
  out = _print_only('tpu_pod.sh', '--', '--workload', 'resnet', '--seed', '1',
                    env={'TPU_NAME': 'pod7', 'ACCELERATOR': 'v5p-64'})
  lines = out.splitlines()
  assert lines[0].startswith('gcloud compute tpus tpu-vm create pod7')
  assert 'v5p-64' in lines[0]
  run = [l for l in lines if 'mlperf_jax.train' in l]
  assert len(run) == 1 and '--worker=all' in run[0]
  assert '--seed\\ 1' in run[0] or '--seed 1' in run[0]
  assert '--worker=0' in lines[-1] and 'scp' in lines[-1]


def test_slurm_recipe_one_process_per_gpu_or_node():
  out = _print_only('slurm_gpu.sbatch', '--workload', 'resnet',
                    env={'SLURM_JOB_NUM_NODES': '4', 'GPUS_PER_NODE': '8'})
  assert out.startswith('srun --nodes 4 --ntasks-per-node 8 --gpus-per-task 1')
  assert 'python -m mlperf_jax.train --workload resnet' in out
  out = _print_only('slurm_gpu.sbatch', env={'PER_NODE': '1',
                                             'GPUS_PER_NODE': '4'})
  assert '--ntasks-per-node 1 --gpus-per-task 4' in out


def test_local_recipe_prints_one_command_per_process():
  out = _print_only('local_multiprocess.sh', '--workload', 'resnet',
                    env={'NUM_PROCESSES': '3', 'DEVICES_PER_PROCESS': '2',
                         'PYTHON': sys.executable})
  cmds = [l for l in out.splitlines() if 'mlperf_jax.train' in l]
  assert len(cmds) == 3
  for i, c in enumerate(cmds):
    assert f'--num-processes 3 --process-id {i}' in c
    assert 'xla_force_host_platform_device_count=2' in c
  port = {c.split('--coordinator ')[1].split()[0] for c in cmds}
  assert len(port) == 1 and port.pop().startswith('127.0.0.1:')
