# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Test setup: 8 fake CPU devices and a persistent compilation cache.

Both must be configured before jax is imported anywhere.
"""

import os

os.environ.setdefault('XLA_FLAGS', '')
if '--xla_force_host_platform_device_count' not in os.environ['XLA_FLAGS']:
  os.environ['XLA_FLAGS'] += ' --xla_force_host_platform_device_count=8'
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
_CACHE = os.environ.setdefault(
    'JAX_COMPILATION_CACHE_DIR',
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                 '.jax_cache'))
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '0')

import fcntl  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

# tests/ on sys.path, for `support` and the harnesses, from any test folder.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from support.devices import one_device_env  # noqa: E402

# The seed of the one cached mini run per workload.
MINI_SEED = 1


class MiniRun:
  """One `python -m mlperf_jax.train --workload NAME` run at mini scale.

  Under pytest-xdist the workers share one run per workload: the first to
  ask runs it under a file lock in the session's shared temporary folder,
  the others wait for it and read its recorded result.
  """

  def __init__(self, name: str, out):
    self.name = name
    out.mkdir(parents=True, exist_ok=True)
    done = out / 'mini_run.json'
    with open(out.parent / f'{out.name}.lock', 'w') as lock:
      fcntl.flock(lock, fcntl.LOCK_EX)
      if not done.exists():
        # One CPU device, as the quickstart runs it on a user's machine
        # (sharded == one device is the conformance suite's business); on
        # 8 fake devices of 2 cores a mini run costs 2-3x the CPU time.
        env = one_device_env()
        proc = subprocess.run(
            [sys.executable, '-m', 'mlperf_jax.train', '--workload', name,
             '--seed', str(MINI_SEED), '--output-dir', str(out / 'run'),
             '--quiet'],
            capture_output=True, text=True, timeout=900, check=False, env=env)
        done.write_text(json.dumps({'returncode': proc.returncode,
                                    'stdout': proc.stdout,
                                    'stderr': proc.stderr}))
    self.proc = subprocess.CompletedProcess(
        args=[name], **json.loads(done.read_text()))
    logs = sorted((out / 'run').rglob('mllog.txt'))
    self.log = logs[0] if logs else None

  def records(self) -> list[dict]:
    return [json.loads(line.split(':::MLLOG ', 1)[1])
            for line in self.log.read_text().splitlines()
            if ':::MLLOG ' in line]

  def output(self) -> str:
    return self.proc.stdout[-3000:] + self.proc.stderr[-3000:]


@pytest.fixture(scope='session')
def mini_run(tmp_path_factory):
  """name -> its `MiniRun`, run once per session and shared by every test
  that asserts something about a finished mini run."""
  cache: dict[str, MiniRun] = {}
  base = tmp_path_factory.getbasetemp()
  if os.environ.get('PYTEST_XDIST_WORKER'):
    base = base.parent  # shared by the workers of this session

  def get(name: str) -> MiniRun:
    if name not in cache:
      cache[name] = MiniRun(name, base / f'mini_{name}')
    return cache[name]
  return get
