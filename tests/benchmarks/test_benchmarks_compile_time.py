# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""benchmarks/compile_time.py: the warm build finds every executable the
cold one compiled in the persistent cache; bad input is refused."""

import json
import os
import subprocess
import sys

import pytest

from support.devices import one_device_env

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
SCRIPT = os.path.join(ROOT, 'benchmarks', 'compile_time.py')


def test_unknown_workload_or_batch_is_exit_2():
  for args in (['--workloads', 'dlrm,nope'], ['--batch', '0']):
    p = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True,
                       text=True, check=False, cwd=ROOT)
    assert p.returncode == 2, p.stdout + p.stderr
    assert 'error:' in p.stderr


@pytest.mark.slow
def test_warm_build_hits_the_cache_for_every_cold_compile(tmp_path):
  out = tmp_path / 'c.json'
  p = subprocess.run([sys.executable, SCRIPT, '--workloads', 'dlrm',
                      '--json', str(out)], capture_output=True, text=True,
                     check=False, cwd=ROOT, env=one_device_env(),
                     timeout=600)
  assert p.returncode == 0, p.stdout + p.stderr
  (row,) = json.loads(out.read_text())['rows']
  cold, warm = row['cold'], row['warm']
  assert cold['executables'] == 2   # init + the one train-step bucket
  assert cold['cache_hits'] == 0 and cold['cache_misses'] >= 2
  assert warm['cache_misses'] == 0
  assert warm['cache_hits'] == cold['cache_misses']
  assert cold['cpu_s'] > 0 and warm['cpu_s'] > 0
  assert '| dlrm |' in p.stdout
