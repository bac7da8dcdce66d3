# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The project's mini RCPs (`mlperf_jax/rules/rcps_mini.json` and `.md`).

Checks the committed records without training anything: one record per mini
workload at its default batch size with at least 2N values, values on the
workload's evaluation grid, loadable by the official `rcp_checker` (whose
mean, stdev and minimum acceptable mean are checked against NumPy/SciPy
computed here), and the command that made each one written in the `.md`.
Also the record builder of `make_rcps` on hand-made logs.
"""

import io
import json
import math
import os
import re

import numpy as np
import pytest
import scipy.stats
from mlperf_logging.rcp_checker import rcp_checker

from mlperf_jax.submission import rcps as make_rcps
from mlperf_jax.submission import result_log
from mlperf_jax import workloads

WORKLOADS = ('resnet', 'bert', 'dlrm', 'ssd', 'rnnt', 'maskrcnn', 'unet3d')
JSON = make_rcps.DEFAULT_JSON
MD = os.path.splitext(JSON)[0] + '.md'


def _data():
  with open(JSON) as f:
    return json.load(f)


def _mini(name):
  w = workloads.get(name, 'mini')
  return w, w.variant, w.variant.defaults['global_batch_size']


def _eval_grid(w):
  """Every `epoch_num` a default mini run can log an evaluation at."""
  hp = dict(w.variant.defaults)
  return {round(float(b.eval_epoch_num), 3)
          for b in w.blocks(hp, w.default_max_epochs(hp))
          if b.eval_epoch_num is not None}


@pytest.mark.parametrize('name', WORKLOADS)
def test_record_per_mini_workload(name):
  w, cfg, bs = _mini(name)
  key = f'{cfg.benchmark}_ref_{bs}'
  rec = _data().get(key)
  assert rec is not None, f'{key} missing from {JSON}'
  assert rec['Benchmark'] == cfg.benchmark and rec['BS'] == bs
  values = rec['Epochs to converge']
  assert len(values) >= 2 * cfg.num_runs
  assert set(values) <= _eval_grid(w), 'values off the evaluation grid'
  hp = rec['Hyperparams']
  assert 'train_samples' not in hp and 'eval_samples' not in hp
  assert hp['global_batch_size'] == bs
  shared = set(hp) & set(cfg.defaults)  # defaults cover every optimizer
  assert len(shared) >= 4
  assert {k: hp[k] for k in shared} == {k: cfg.defaults[k] for k in shared}


@pytest.mark.parametrize('name', WORKLOADS)
def test_official_loader_statistics(name, monkeypatch):
  _, cfg, bs = _mini(name)
  monkeypatch.setitem(rcp_checker.submission_runs['training'],
                      cfg.benchmark, cfg.num_runs)
  records = {k: v for k, v in _data().items()
             if v['Benchmark'] == cfg.benchmark}
  checker = rcp_checker.RCP_Checker('training', '1.1.0', cfg.benchmark,
                                    False, io.StringIO(json.dumps(records)))
  got = checker._find_rcp(bs, 'pruned_rcps')  # pylint: disable=protected-access
  assert got is not None
  values = sorted(records[f'{cfg.benchmark}_ref_{bs}']['Epochs to converge'])
  mean, sd = np.mean(values[1:-1]), np.std(values)
  assert got['RCP Mean'] == pytest.approx(mean)
  assert got['RCP Stdev'] == pytest.approx(sd)
  lo = got['Min Epochs']
  assert 0 < lo <= mean
  if sd > 0:  # the one-sided pooled t-test is at p = 0.05 at the bound
    n_ref, n_subm = len(values) - 2, cfg.num_runs - 2
    t = (mean - lo) / (sd * math.sqrt(1 / n_ref + 1 / n_subm))
    p = scipy.stats.t.sf(t, n_ref + n_subm - 2)
    assert p == pytest.approx(0.05, abs=2e-3)
  stats = make_rcps.rcp_stats(records, cfg.benchmark, bs, '1.1.0', cfg.num_runs)
  assert stats == pytest.approx({'bs': bs, 'mean': mean, 'stdev': sd,
                                 'min': lo})


@pytest.mark.parametrize('name', WORKLOADS)
def test_markdown_records_command_and_runs(name):
  _, cfg, bs = _mini(name)
  key = f'{cfg.benchmark}_ref_{bs}'
  with open(MD) as f:
    sections = {s.split('`')[1]: s for s in f.read().split('\n## ')[1:]}
  assert key in sections
  text = sections[key]
  assert re.search(r'python -m mlperf_jax\.make_rcps --workload '
                   rf'{name} --runs \d+', text), 'command not recorded'
  rows = re.findall(r'^\| \d+ \| (\d+) \| success \| ([\d.]+) \|', text,
                    flags=re.M)
  values = _data()[key]['Epochs to converge']
  assert sorted(float(v) for _, v in rows) == sorted(values)
  assert len({s for s, _ in rows}) == len(rows), 'a seed used twice'


def _log(epochs, status='success', seed=1):
  return result_log.ResultLog(
      path='x', benchmark='mini_x', seeds=[seed], global_batch_size=8,
      status=status, run_start_ms=0, run_stop_ms=1000,
      evals=[(epochs, 0.9)],
      hparams={'global_batch_size': 8, 'opt_base_learning_rate': 0.1,
               'num_warmup_steps': 3, 'train_samples': 100})


def test_record_from_logs_needs_2n_converged():
  logs = [_log(float(i), seed=i) for i in range(3)]
  logs.append(_log(9.0, status='aborted', seed=9))
  with pytest.raises(ValueError, match='3 of 4 runs converged.*at least 4'):
    make_rcps.record_from_logs(logs, name='', runs_needed=2)
  rec = make_rcps.record_from_logs(logs[:3] + [_log(5.0, seed=5)], name='',
                                   runs_needed=2)
  assert rec['Epochs to converge'] == [0.0, 1.0, 2.0, 5.0]
  assert rec['Hyperparams'] == {'global_batch_size': 8,
                                'opt_base_learning_rate': 0.1,
                                'num_warmup_steps': 3}
