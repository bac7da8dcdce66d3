# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Input-bound or compute-bound: the rule, the train loop's host seconds in
a real mini run (reported in the summary and metrics.json), and the dry
run's input estimate."""

import json
import time

import pytest

from mlperf_jax import workloads
from mlperf_jax.api import Block, HostShard
from mlperf_jax.runtime import dry_run, loop, run_report
from mlperf_jax.runtime.input_stats import (COMPUTE_BOUND, INPUT_BOUND,
                                            InputStats, classify, predicted)
from mlperf_jax.runtime.mllog import RunLog
from mlperf_jax.workloads.resnet import ResNetWorkload


@pytest.mark.parametrize('input_s, wait_s, loop_s, want', [
    (5.0, 4.9, 10.0, INPUT_BOUND),     # more input than waiting
    (5.0, 5.0, 10.0, COMPUTE_BOUND),   # as much: not more
    (4.9, 5.0, 10.0, COMPUTE_BOUND),
    (1.0, 0.0, 10.0, INPUT_BOUND),     # exactly 10 % of the loop
    (0.99, 0.0, 10.0, COMPUTE_BOUND),  # just under 10 %, never waited
    (0.0, 0.0, 0.0, COMPUTE_BOUND),    # nothing ran
])
def test_classify_both_sides_of_each_threshold(input_s, wait_s, loop_s, want):
  assert classify(input_s, wait_s, loop_s) == want
  assert InputStats(input_s, wait_s, loop_s, 1).verdict == want


def test_predicted_verdict_follows_the_rule_for_one_step_in_flight():
  # The host waits step - input: input-bound from half the device's step.
  assert predicted(0.6, 1.0) == INPUT_BOUND
  assert predicted(0.4, 1.0) == COMPUTE_BOUND
  assert predicted(2.0, 1.0) == INPUT_BOUND
  assert predicted(0.0, 1.0) == COMPUTE_BOUND


class _OneSlowBlock(ResNetWorkload):
  """One block of `STEPS` steps and no evaluation; each batch takes
  `SLEEP_S` longer than the digits pipeline."""
  STEPS = 4
  SLEEP_S = 0.0

  def blocks(self, hp, max_epochs):
    del hp, max_epochs
    yield Block(first_epoch_num=1, epoch_count=1, steps=self.STEPS,
                eval_epoch_num=None)

  def train_batches(self, hp, *, seed, host, start_step=0):
    for b in super().train_batches(hp, seed=seed, host=host,
                                   start_step=start_step):
      time.sleep(self.SLEEP_S)
      yield b


def test_a_slow_input_pipeline_is_reported_input_bound(tmp_path):
  wl = _OneSlowBlock('mini')
  # Far longer than a mini ResNet step of 128 digits on 8 CPU devices
  # (~0.05 s): the host never waits on the device for long.
  wl.SLEEP_S = 0.5
  hp = wl.resolve_hparams()
  log = RunLog(str(tmp_path / 'log.txt'))
  try:
    r = loop.run(wl, hp, loop.RunOptions(seed=0, progress=False), log)
  finally:
    log.close()
  s = r.input_stats
  assert r.steps == s.steps == wl.STEPS
  assert s.input_s >= wl.STEPS * wl.SLEEP_S
  assert s.input_s + s.device_wait_s <= s.loop_s * 1.05
  assert s.verdict == INPUT_BOUND
  # The summary's line and metrics.json carry it.
  (tmp_path / 'run').mkdir()
  paths = run_report.RunPaths(
      dir=str(tmp_path / 'run'), log=str(tmp_path / 'log.txt'),
      metrics=str(tmp_path / 'run' / 'metrics.json'),
      plot=str(tmp_path / 'run' / 'no_plot.png'))
  line, = [l for l in run_report.summary(wl.variant, r, paths).splitlines()
           if l.startswith('input pipeline: ')]
  assert line.endswith(': input-bound') and 'in the train loop' in line
  run_report.write(paths, wl, hp, loop.RunOptions(seed=0), r)
  stats = json.loads((tmp_path / 'run' / 'metrics.json').read_text())[
      'input_stats']
  assert stats['verdict'] == INPUT_BOUND and stats['steps'] == wl.STEPS
  assert stats['input_s'] == pytest.approx(s.input_s)
  # Timing is not in the MLLOG log (its content is fixed by the rules).
  text = (tmp_path / 'log.txt').read_text()
  assert 'input_s' not in text and INPUT_BOUND not in text


def test_the_mini_run_reports_its_loop_seconds(mini_run):
  # The session's cached mini ResNet run (its verdict depends on the
  # machine: only the figures' consistency is checked).
  run = mini_run('resnet')
  assert run.proc.returncode == 0, run.output()
  line, = [l for l in run.proc.stdout.splitlines()
           if l.startswith('input pipeline: ')]
  assert line.endswith((': input-bound', ': compute-bound')), line
  stats = json.loads((run.log.parent / 'metrics.json').read_text())[
      'input_stats']
  for key in ('input_s', 'device_wait_s', 'loop_s'):
    assert stats[key] >= 0, stats
  assert stats['loop_s'] > 0 and stats['steps'] > 0
  assert stats['input_s'] + stats['device_wait_s'] <= stats['loop_s'] * 1.05
  assert stats['verdict'] == classify(stats['input_s'],
                                      stats['device_wait_s'],
                                      stats['loop_s'])


def test_dry_run_estimates_the_mini_input_against_the_step():
  wl = workloads.get('resnet', 'mini')
  hp = wl.resolve_hparams()
  text = dry_run.report(wl, hp, loop.RunOptions(seed=0, mesh='data=8'),
                        estimate_input=True)
  line, = [l for l in text.splitlines() if l.startswith('input: ')]
  assert 'per global batch on this host' in line
  assert 'vs est. step' in line and 'x 50 %' in line
  assert line.endswith((': input-bound', ': compute-bound')), line
  # The existing report is unchanged around it.
  assert 'train step FLOPs per device' in text
  assert text.splitlines()[-1] == 'dry run: nothing was allocated or trained'
  assert 'input: ' not in dry_run.report(
      wl, hp, loop.RunOptions(seed=0, mesh='data=8'))


def _fake_dry_run(flops=1e9):
  return dry_run.DryRun(param_count=1, flops_per_step_per_device=flops,
                        state_bytes_per_device=0, argument_bytes=0,
                        output_bytes=0, temp_bytes=0, mesh='data=1',
                        num_devices=1, global_batch_size=128)


def test_dry_run_input_line_verdict_and_when_it_reads_nothing(monkeypatch):
  wl = workloads.get('resnet', 'mini')
  hp = wl.resolve_hparams()
  peak = dry_run.MatmulPeak(flops_per_s=1e12, dtype='float32', size=2048,
                            device='cpu')
  for per_batch, want in ((0.01, INPUT_BOUND), (0.0001, COMPUTE_BOUND)):
    monkeypatch.setattr(dry_run, 'measure_input', lambda *a, p=per_batch, **k:
                        dry_run.InputProbe(p, 0.1, 3))
    # 1e9 FLOPs / (1e12 x 50 %) = 2 ms a step.
    line = dry_run.input_line(wl, hp, _fake_dry_run(), seed=0,
                              host=HostShard(), peak=peak)
    assert 'vs est. step 0.002 s' in line and line.endswith(want), line
  synthetic = workloads.get('resnet', 'mini', synthetic=True)
  assert 'not measured (--synthetic-data' in dry_run.input_line(
      synthetic, hp, _fake_dry_run(), seed=0, peak=peak)
  ref = workloads.get('resnet', 'reference')
  assert 'not measured (no --data-dir' in dry_run.input_line(
      ref, ref.resolve_hparams(), _fake_dry_run(), seed=0, peak=peak)
