# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Two JAX processes on localhost (4 fake CPU devices each, gloo
collectives) train like one process with 8 devices; a dead peer stops the
survivor; an unreachable coordinator is a clear bad-input error."""

import json
import subprocess
import sys
import threading

import jax
import numpy as np
import pytest

from mlperf_jax.runtime import checkpoint
from mlperf_jax.runtime import launch as launch_local
from mlperf_jax.runtime import loop
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps
from mlperf_jax import workloads
from mlperf_jax.runtime.mllog import RunLog
from mlperf_jax.api import HostShard

SEED = 5
# A gentle learning rate keeps 12 steps far from chaotic: the float
# differences of another reduction order stay at the 1e-7 level.
SETS = {'lars_opt_base_learning_rate': '0.5'}
TRAIN_ARGS = ['--workload', 'resnet', '--seed', str(SEED), '--max-steps',
              '12', '--quiet', '--set', 'lars_opt_base_learning_rate=0.5']


def _communicate(procs, timeout):
  outs = [None] * len(procs)

  def read(i):
    outs[i] = procs[i].communicate(timeout=timeout)

  threads = [threading.Thread(target=read, args=(i,))
             for i in range(len(procs))]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  return outs


@pytest.fixture(scope='module')
def two_process_run(tmp_path_factory):
  out = tmp_path_factory.mktemp('mp') / 'runs'
  procs = launch_local.spawn(2, 4, TRAIN_ARGS + ['--output-dir', str(out)],
                             heartbeat_timeout_s=20)
  outs = _communicate(procs, timeout=600)
  return out, [p.returncode for p in procs], outs


def test_two_processes_train_like_one_with_8_devices(two_process_run):
  out, codes, outs = two_process_run
  assert codes == [1, 1], [o[1][-3000:] for o in outs]  # step budget
  # Exactly one run directory and one MLLOG log, written by process 0.
  (log,) = list(out.rglob('mllog.txt'))
  text = log.read_text()
  assert text.count('"key": "run_start"') == 1
  assert text.count('"key": "run_stop"') == 1
  assert 'eval at epoch 1' in outs[0][0] and 'eval at epoch' not in outs[1][0]
  assert 'MLLOG' not in outs[1][0]
  multi = json.loads((log.parent / 'metrics.json').read_text())

  wl = workloads.get('resnet', 'mini')
  hp = wl.resolve_hparams(SETS)
  assert jax.device_count() == 8 and jax.process_count() == 1
  one = loop.run(wl, hp, loop.RunOptions(seed=SEED, max_steps=12,
                                         progress=False),
                 RunLog(None, enabled=False))
  assert len(multi['losses']) == 12
  np.testing.assert_allclose(multi['losses'], one.losses, rtol=1e-5)
  assert abs(one.losses[-1] - one.losses[0]) > 1e-3  # the loss moved
  # Every one of the 360 eval digits counted once across the two hosts.
  assert multi['evals'][0]['metrics']['count'] == 360
  assert abs(multi['quality'] - one.quality) <= 1 / 360 + 1e-9

  # The final parameters the two processes saved together, evaluated here
  # by one process, give exactly the quality the two processes reported.
  params, model_state = checkpoint.load_final_params(
      str(log.parent / 'final_params'), wl)
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  c = steps.build(wl, tx, hp, shd.make_mesh('data=8'))
  state = one.state.replace(
      params=jax.device_put(params, c.state_sharding.params),
      model_state=jax.device_put(model_state, c.state_sharding.model_state))
  metrics = loop.evaluate(wl, c, state, hp, HostShard(), progress=False)
  assert metrics['count'] == 360
  assert metrics['top1'] == multi['quality']


@pytest.mark.slow  # two training processes and a kill: ~30 s
def test_killing_one_process_stops_the_other(tmp_path):
  out = tmp_path / 'runs'
  args = [a if a != '12' else '600' for a in TRAIN_ARGS]
  procs = launch_local.spawn(2, 4, args + ['--output-dir', str(out)],
                             heartbeat_timeout_s=5)
  try:
    for line in procs[0].stdout:  # wait until training is under way
      if 'eval at epoch 1' in line:
        break
    else:
      pytest.fail('process 0 ended before its first evaluation: '
                  f'{procs[0].communicate()[1][-3000:]}')
    # The order under test: both train -> the peer dies -> the survivor
    # exits. Both must still be running (600 steps to go) at the kill.
    assert procs[1].poll() is None, 'process 1 ended before it was killed'
    procs[1].kill()
    try:
      # A hang guard, not a speed check (pytest-timeout is the outer one):
      # without the heartbeat the survivor would block in a collective.
      _, err = procs[0].communicate(timeout=300)
    except subprocess.TimeoutExpired:
      pytest.fail('the survivor still runs 300 s after its peer was killed')
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  # It stopped because of the dead peer (the heartbeat / failed collective
  # it reports), not on its own.
  assert procs[0].returncode != 0
  assert any(w in err for w in ('unhealthy', 'heartbeat', 'Gloo',
                                'another process')), err[-3000:]


def test_unreachable_coordinator_exits_2(tmp_path):
  port = launch_local.free_port()  # nobody listens there
  env = launch_local.process_env(4)
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'resnet',
       '--output-dir', str(tmp_path / 'runs'), '--coordinator',
       f'127.0.0.1:{port}', '--num-processes', '2', '--process-id', '1',
       '--init-timeout', '3'], env=env, capture_output=True, text=True,
      timeout=120, check=False)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert f'127.0.0.1:{port}' in proc.stderr
  # Our --init-timeout watchdog fired (it alone writes this message, with
  # the value given), before JAX's own, later initialization_timeout: the
  # deadline is the one the option asked for, however fast the machine is.
  assert 'did not connect within 3 s' in proc.stderr
  assert not (tmp_path / 'runs').exists()


@pytest.mark.parametrize('args, words', [
    (['--coordinator', '127.0.0.1:1234'], ['go together']),
    (['--coordinator', 'nohost', '--num-processes', '2', '--process-id', '0'],
     ['HOST:PORT']),
    (['--coordinator', 'h:1', '--num-processes', '2', '--process-id', '2'],
     ['--process-id 2 must be in [0, 2)']),
])
def test_bad_multiprocess_options_exit_2(tmp_path, args, words):
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'resnet',
       '--output-dir', str(tmp_path / 'runs'), *args], capture_output=True,
      text=True, timeout=120, check=False)
  assert proc.returncode == 2
  for w in words:
    assert w in proc.stderr, proc.stderr


def test_detects_slurm_and_explicit_clusters():
  from mlperf_jax.runtime import distributed  # pylint: disable=import-outside-toplevel
  import argparse  # pylint: disable=import-outside-toplevel
  p = argparse.ArgumentParser()
  distributed.add_arguments(p)
  none = p.parse_args([])
  slurm = {'SLURM_JOB_ID': '7', 'SLURM_STEP_NODELIST': 'n[1-2]',
           'SLURM_NTASKS': '16', 'SLURM_PROCID': '9', 'SLURM_LOCALID': '1'}
  c = distributed.detect(none, env=slurm, on_tpu_vm=False)
  assert (c.method, c.num_processes, c.process_id) == ('slurm', 16, 9)
  one_task = dict(slurm, SLURM_NTASKS='1')
  assert distributed.detect(none, env=one_task,
                            on_tpu_vm=False).method == 'single'
  assert distributed.detect(none, env={}, on_tpu_vm=True).method == 'tpu'
  assert distributed.detect(p.parse_args(['--no-distributed']), env=slurm,
                            on_tpu_vm=True).method == 'single'
  c = distributed.detect(p.parse_args(
      ['--coordinator', 'h:9', '--num-processes', '4', '--process-id', '3']),
                         env=slurm)
  assert (c.method, c.coordinator, c.process_id) == ('explicit', 'h:9', 3)


def test_dry_run_shows_hosts_and_devices(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'resnet',
       '--dry-run', '--mesh', 'data=4,tensor=2', '--no-input-estimate',
       '--output-dir', str(tmp_path / 'runs')],
      capture_output=True, text=True, timeout=120, check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert 'processes: 1' in proc.stdout
  assert 'input: ' not in proc.stdout  # skipped (timing the input is slower)
  assert 'per data shard 32' in proc.stdout
  assert 'process 0: cpu:0[data=0,fsdp=0,tensor=0]' in proc.stdout
  assert 'data=3,fsdp=0,tensor=1' in proc.stdout
