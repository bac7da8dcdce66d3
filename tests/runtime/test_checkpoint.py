# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Checkpoint and resume: exact continuation, mesh change, SIGTERM, final
parameters, and clear errors for checkpoints that cannot be used."""

import json
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from mlperf_jax.runtime import checkpoint
from mlperf_jax.runtime import loop
from mlperf_jax import workloads
from mlperf_jax.runtime.mllog import RunLog

SEED = 3
EPOCH = 11  # steps per mini epoch: floor(1437 / 128), as the reference rounds
STEPS = 30  # 2.7 epochs: evaluations at steps 11, 22 and 30


class _Crash(Exception):
  pass


def _run(tmp, name, *, mesh=None, ckpt_dir=None, resume=False,
         on_eval=None, every=None):
  wl = workloads.get('resnet', 'mini')
  hp = wl.resolve_hparams()
  log = RunLog(str(tmp / f'{name}.txt'))
  opts = loop.RunOptions(seed=SEED, max_steps=STEPS, mesh=mesh,
                         progress=False, checkpoint_dir=ckpt_dir,
                         resume=resume, checkpoint_every_steps=every)
  try:
    return loop.run(wl, hp, opts, log, on_eval=on_eval)
  finally:
    log.close()


def _keys(path):
  out = []
  for line in pathlib.Path(path).read_text().splitlines():
    rec = json.loads(line.split(':::MLLOG ', 1)[1])
    out.append((rec['key'], rec['value'] if rec['key'] != 'mlperf_jax_notice'
                else 'notice', json.dumps(rec['metadata'].get('epoch_num'))))
  return out


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
  """The uninterrupted run, checkpointing off."""
  tmp = tmp_path_factory.mktemp('ref')
  return _run(tmp, 'ref'), tmp / 'ref.txt'


def _crash_on_second_eval(record):
  if record.step == 2 * EPOCH:
    raise _Crash()


def test_checkpointing_is_off_by_default_and_logged_when_on(reference,
                                                            tmp_path):
  text = reference[1].read_text()
  assert 'checkpointing on' not in text
  ckpt = str(tmp_path / 'ckpt')
  with pytest.raises(_Crash):
    _run(tmp_path, 'a', ckpt_dir=ckpt, on_eval=_crash_on_second_eval)
  assert 'checkpointing on' in (tmp_path / 'a.txt').read_text()


def test_killed_run_resumes_with_identical_losses_and_quality(reference,
                                                              tmp_path):
  ref, ref_log = reference
  ckpt = str(tmp_path / 'ckpt')
  # Dies during its second evaluation: one checkpoint (step EPOCH) is on disk,
  # and the log holds events of the stretch after it.
  with pytest.raises(_Crash):
    _run(tmp_path, 'run', ckpt_dir=ckpt, on_eval=_crash_on_second_eval)
  assert checkpoint.Checkpointer(ckpt).latest_step() == EPOCH
  r = _run(tmp_path, 'run', ckpt_dir=ckpt, resume=True)
  assert r.resumed_from_step == EPOCH
  assert len(r.losses) == STEPS
  assert r.losses == ref.losses  # bit-identical on CPU
  assert [e.metrics for e in r.evals] == [e.metrics for e in ref.evals]
  assert r.quality == ref.quality and r.status == ref.status
  # The continued log has every event of the uninterrupted one exactly once
  # (plus notices); the interrupted stretch was set aside, not deleted.
  keys = [k for k in _keys(tmp_path / 'run.txt') if k[1] != 'notice']
  assert keys == [k for k in _keys(ref_log) if k[1] != 'notice']
  aside = list(tmp_path.glob('run.txt.interrupted-*'))
  assert len(aside) == 1 and 'eval_accuracy' in aside[0].read_text()


def test_checkpoint_restores_onto_another_mesh(reference, tmp_path):
  ref, _ = reference
  ckpt = str(tmp_path / 'ckpt')
  with pytest.raises(_Crash):
    _run(tmp_path, 'm', mesh='data=8', ckpt_dir=ckpt,
         on_eval=_crash_on_second_eval)
  r = _run(tmp_path, 'm', mesh='data=2,fsdp=2,tensor=2', ckpt_dir=ckpt,
           resume=True)
  assert r.resumed_from_step == EPOCH
  # Laid out on the new mesh.
  meshes = {tuple(x.sharding.mesh.shape.items())
            for x in jax.tree.leaves(r.state)}
  assert meshes == {(('data', 2), ('fsdp', 2), ('tensor', 2))}, meshes
  assert r.losses[:EPOCH] == ref.losses[:EPOCH]
  # Different reduction order after the switch: equal to float tolerance.
  np.testing.assert_allclose(r.losses, ref.losses, rtol=5e-3)
  assert abs(r.evals[0].metrics['top1'] - ref.evals[0].metrics['top1']) < 1e-9


def _train_cmd(tmp_path, *extra):
  return [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'resnet',
          '--seed', str(SEED), '--max-steps', str(STEPS), '--quiet',
          '--output-dir', str(tmp_path / 'runs'), *extra]


def _wait_for_step(ckpt: pathlib.Path, proc):
  """Returns once a step checkpoint exists; fails if the run ends first.

  Event order, not speed: a slow machine only waits longer (pytest-timeout
  bounds a hang).
  """
  while True:
    if ckpt.is_dir() and any(p.name.isdigit() for p in ckpt.iterdir()):
      return
    if proc.poll() is not None:
      raise AssertionError('run ended before its first checkpoint: '
                           f'{proc.communicate()}')
    time.sleep(0.02)


def _snapshot(path: pathlib.Path):
  return {str(p): p.stat().st_size for p in path.rglob('*') if p.is_file()}


@pytest.fixture(scope='module')
def sigterm_run(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('sigterm')
  ckpt = tmp / 'ckpt'
  cmd = _train_cmd(tmp, '--checkpoint-dir', str(ckpt),
                   '--checkpoint-every-steps', '2')
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
  _wait_for_step(ckpt, proc)
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=120)
  return tmp, ckpt, cmd, proc.returncode, out, err


def test_sigterm_saves_and_exits_cleanly_then_resume_finishes(sigterm_run,
                                                              reference):
  tmp, ckpt, cmd, code, out, err = sigterm_run
  assert code == 3, (out, err[-2000:])
  assert 'stopped by SIGTERM' in out
  step = checkpoint.Checkpointer(str(ckpt)).latest_step()
  assert 2 <= step < STEPS
  (log,) = list((tmp / 'runs').rglob('mllog.txt'))
  assert 'stopped by SIGTERM' in log.read_text()
  assert 'run_stop' not in log.read_text()
  proc = subprocess.run(cmd + ['--resume'], capture_output=True, text=True,
                        timeout=300, check=False)
  assert proc.returncode == 1, proc.stderr[-2000:]  # step budget: aborted
  metrics = json.loads((log.parent / 'metrics.json').read_text())
  assert metrics['losses'] == reference[0].losses
  assert metrics['quality'] == reference[0].quality
  text = log.read_text()
  assert text.count('"key": "run_start"') == 1
  assert text.count('"key": "run_stop"') == 1
  # The final parameters are served from the run directory.
  wl = workloads.get('resnet', 'mini')
  params, model_state = checkpoint.load_final_params(
      str(log.parent / 'final_params'), wl)
  for a, b in zip(jax.tree.leaves(params),
                  jax.tree.leaves(reference[0].state.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert 'batch_stats' in model_state
  with pytest.raises(checkpoint.CheckpointError, match="not 'bert'"):
    checkpoint.load_final_params(str(log.parent / 'final_params'), 'bert')


def test_unusable_checkpoints_exit_2_and_touch_nothing(sigterm_run, tmp_path):
  tmp, ckpt, cmd, _, _, _ = sigterm_run
  (log,) = list((tmp / 'runs').rglob('mllog.txt'))
  base = _snapshot(tmp)
  # The resumed run has finished: never resumed or changed again.
  for extra in ([], ['--resume']):
    proc = subprocess.run(cmd + extra, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2 and 'has finished' in proc.stderr
  # Existing checkpoints of an unfinished run without --resume: never
  # overwritten.
  other = tmp_path / 'other'
  _unfinished_copy(ckpt, other, log, tmp_path)
  proc = subprocess.run(_train_cmd(tmp_path, '--checkpoint-dir', str(other)),
                        capture_output=True, text=True, timeout=120,
                        check=False)
  assert proc.returncode == 2 and 'already holds checkpoints' in proc.stderr
  # Another workload's checkpoint (its metadata says so).
  for meta in other.glob('*/meta/metadata'):
    d = json.loads(meta.read_text())
    d['identity']['workload'] = 'bert'
    meta.write_text(json.dumps(d))
  proc = subprocess.run(_train_cmd(tmp_path, '--checkpoint-dir', str(other),
                                   '--resume'),
                        capture_output=True, text=True, timeout=120,
                        check=False)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "belongs to workload 'bert'" in proc.stderr
  # Truncated array data: found when restoring, before anything is written.
  bad = tmp_path / 'bad'
  _unfinished_copy(ckpt, bad, log, tmp_path)
  for f in bad.glob('*/state/**/d/*'):
    f.write_bytes(f.read_bytes()[:7])
  args = _train_cmd(tmp_path, '--checkpoint-dir', str(bad), '--resume')
  proc = subprocess.run(args, capture_output=True, text=True, timeout=240,
                        check=False)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert 'corrupted' in proc.stderr and str(bad) in proc.stderr
  assert _snapshot(tmp) == base  # the run it would continue is untouched
  assert not (tmp_path / 'runs').exists()


def _unfinished_copy(src, dst, log, tmp_path):
  """A copy of the checkpoints whose run has not finished: its log is a
  copy of the run's up to run_stop (the stretch before the resume)."""
  import shutil  # pylint: disable=import-outside-toplevel
  shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
      'run_finished.json', '.lock'))
  lines = log.read_text().splitlines(keepends=True)
  stop = next(i for i, l in enumerate(lines) if '"key": "run_stop"' in l)
  copy = tmp_path / 'logs' / dst.name / 'mllog.txt'
  copy.parent.mkdir(parents=True)
  copy.write_text(''.join(lines[:stop]))
  for meta in dst.glob('*/meta/metadata'):
    d = json.loads(meta.read_text())
    d['log_path'] = str(copy)
    d.pop('log_path_from_checkpoint_dir', None)
    meta.write_text(json.dumps(d))
