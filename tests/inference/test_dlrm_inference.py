# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""DLRM inference: aggregated users as the v1.x reference draws them, the
batch layout, and the AUC of a LoadGen accuracy run against the training
eval of the same parameters and an independent sklearn reading of the log."""

import json
import subprocess
import sys

import numpy as np
import pytest
from support.devices import one_device_env
from sklearn.metrics import roc_auc_score

from mlperf_jax.workloads import dlrm


def test_aggregation_draws_reference_quantiles_and_covers_the_split():
  n = 1_000_003
  off = dlrm.aggregation_offsets(n, seed=3)
  lengths = np.diff(off)
  assert off[0] == 0 and off[-1] == n and (lengths > 0).all()
  assert set(lengths[:-1]) <= set(dlrm.AGGREGATION_QUANTILES)
  # Inverse-transform sampling of the 20 quantiles: mean 270 rows a user.
  assert lengths[:-1].mean() == pytest.approx(
      np.mean(dlrm.AGGREGATION_QUANTILES), rel=0.02)
  share_200 = np.mean(lengths[:-1] == 200)
  assert share_200 == pytest.approx(12 / 20, abs=0.01)
  np.testing.assert_array_equal(off, dlrm.aggregation_offsets(n, seed=3))


def test_collate_and_encode_keep_each_users_rows():
  rng = np.random.default_rng(0)
  users = [{'dense': rng.normal(size=(k, 13)).astype(np.float32),
            'sparse': rng.integers(0, 9, (k, 26)).astype(np.int32)}
           for k in (100, 700, 3)]
  batch = dlrm.collate_users(users, 4)
  assert batch['dense'].shape == (4 * dlrm.MAX_USER_ROWS, 13)
  np.testing.assert_array_equal(batch['offsets'], [0, 100, 800, 803, 803])
  np.testing.assert_array_equal(batch['sparse'][100:800], users[1]['sparse'])
  assert not batch['dense'][803:].any()
  out = {'score': batch['dense'][:, 0], 'offsets': batch['offsets']}
  for k, u in enumerate(users):
    got = np.frombuffer(dlrm.encode_scores(out, k), '<f4')
    np.testing.assert_array_equal(got, u['dense'][:, 0])
  assert dlrm.encode_scores(out, 3) == b''


def test_auc_of_responses_is_sklearns_over_all_rows():
  rng = np.random.default_rng(1)
  labels = {i: rng.integers(0, 2, 50 + i).astype(np.float32)
            for i in range(6)}
  scores = {i: rng.random(len(y)).astype(np.float32)
            for i, y in labels.items()}
  got = dlrm.auc_of_responses({i: s.tobytes() for i, s in scores.items()},
                              labels.__getitem__)
  want = roc_auc_score(np.concatenate([labels[i] for i in range(6)]),
                       np.concatenate([scores[i] for i in range(6)]))
  assert got['auc'] == pytest.approx(want, abs=1e-12)
  assert got['samples'] == 6 and got['failed'] == 0


def _independent_auc(log_path):
  """AUC of an accuracy log from the raw JSON, the synthetic eval labels and
  the aggregation offsets, with sklearn (no project scoring code)."""
  from mlperf_jax.input_pipelines import synthetic_clicks  # pylint: disable=import-outside-toplevel
  _, ev = synthetic_clicks.generate(dlrm.mini_spec())
  off = dlrm.aggregation_offsets(len(ev.label), dlrm.AGGREGATION_SEED)
  first = {}
  for e in json.loads(log_path.read_text()):
    first.setdefault(e['qsl_idx'], e['data'])
  assert sorted(first) == list(range(len(off) - 1))
  scores = np.concatenate([np.frombuffer(bytes.fromhex(first[i]), '<f4')
                           for i in sorted(first)])
  return roc_auc_score(ev.label, scores)


@pytest.mark.parametrize('scenario, loadgen', [
    ('Offline', 'official'), ('Server', 'python'),
    pytest.param('Server', 'official', marks=pytest.mark.slow),
    pytest.param('Offline', 'python', marks=pytest.mark.slow)])
def test_accuracy_run_equals_training_eval_auc(mini_run, tmp_path, scenario,
                                               loadgen):
  run = mini_run('dlrm')
  assert run.log is not None, run.output()
  evals = [r['value'] for r in run.records() if r['key'] == 'eval_accuracy']
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'dlrm',
       '--scenario', scenario, '--mode', 'accuracy', '--loadgen', loadgen,
       '--checkpoint', str(run.log.parent / 'final_params'),
       '--output-dir', str(tmp_path)],
      capture_output=True, text=True, timeout=300, check=False,
      # The mini run trains on one device (tests/conftest.py) and DLRM's
      # table layout follows the device count: serve on the same one.
      env=one_device_env())
  assert proc.returncode == 0, proc.stdout + proc.stderr
  # The run stops at its last eval, so the final parameters are the ones
  # that eval scored: serving all 65,536 rows as users gives its AUC.
  independent = _independent_auc(tmp_path / 'mlperf_log_accuracy.json')
  assert independent == pytest.approx(evals[-1], abs=1e-6)
  printed = float(proc.stdout.split('auc = ')[1].split()[0])
  assert printed == pytest.approx(evals[-1], abs=2e-6)  # 6 decimals
  assert 'rows = 65536' in proc.stdout
