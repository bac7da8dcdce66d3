# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""benchmarks/gpu_suite.sh --dry: the suite's code paths on CPU, tiny."""

import json
import os
import subprocess
import sys

from support.devices import one_device_env

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
SCRIPT = os.path.join(ROOT, 'benchmarks', 'gpu_suite.sh')


def test_dry_suite_writes_json_and_table(tmp_path):
  out = tmp_path / 'suite'
  p = subprocess.run(
      ['bash', SCRIPT, str(out), '--dry', '--items', 'step:dlrm,pipeline'],
      capture_output=True, text=True, timeout=300, check=False,
      env=dict(one_device_env(), PYTHON=sys.executable))
  assert p.returncode == 0, p.stdout + p.stderr
  summary = json.loads((out / 'results.json').read_text())
  items = {r['item']: r for r in summary['items']}
  assert set(items) == {'step:dlrm', 'pipeline'}
  for r in items.values():
    assert r['status'] == 'ok', r
  step = items['step:dlrm']['result']
  assert step['global_batch'] == 8 and step['scale'] == 'mini'
  assert step['flops_per_step'] > 0
  assert step['mfu'] == step['achieved_flops'] / step['peak_bf16_flops']
  assert 0 < step['mfu'] < 1  # against the CPU's theoretical bf16 peak
  pipes = items['pipeline']['result']['pipelines']
  assert set(pipes) == {'resnet', 'ssd', 'maskrcnn', 'rnnt'}
  for p in pipes.values():  # one batch of 2 through each real pipeline
    assert p['items'] == 2 and p['workers'] == 1
    assert p['items_per_cpu_s'] == p['items'] / p['cpu_s']
    assert p['feeds'] and p['decode_cpu_ms']
  (goal,) = [f for f in pipes['resnet']['feeds'] if f['rate'] == 8000]
  assert goal['cores'] == 8000 / pipes['resnet']['items_per_cpu_s']
  table = (out / 'results.md').read_text()
  assert '| dlrm (mini) | 8 |' in table and 'img/s per core' in table
  assert 'utt/s per core' in table


def test_bad_usage_is_exit_2(tmp_path):
  p = subprocess.run(['bash', SCRIPT], capture_output=True, text=True,
                     check=False)
  assert p.returncode == 2 and 'usage' in p.stderr
  p = subprocess.run(['bash', SCRIPT, str(tmp_path), '--dry', '--items',
                      'step:nope'], capture_output=True, text=True,
                     check=False)
  assert p.returncode == 2 and 'step:nope' in p.stderr
  assert not list(tmp_path.iterdir())  # nothing written
