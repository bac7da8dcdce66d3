# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Criteo reference format (converter, memory-mapped reader, host sharding)
and the synthetic click log."""

import os

import numpy as np
import pytest

from mlperf_jax.input_pipelines import criteo
from mlperf_jax.input_pipelines import synthetic_clicks
from mlperf_jax.api import HostShard
from mlperf_jax.workloads import dlrm as dlrm_wl


def _write_raw(d, days=3, n=37, seed=0):
  rng = np.random.default_rng(seed)
  rows = []
  for i in range(days):
    lines = []
    for _ in range(n + i):
      ints = [str(v) if rng.random() > 0.2 else ''
              for v in rng.integers(-3, 50, 13)]
      cats = [format(int(v), 'x') if rng.random() > 0.1 else ''
              for v in rng.integers(0, 2**32, 26) % (7 + np.arange(26) * 3)]
      label = str(int(rng.random() < 0.3))
      lines.append('\t'.join([label] + ints + cats))
      rows.append((label, ints, cats))
    with open(os.path.join(d, f'day_{i}'), 'w') as f:
      f.write('\n'.join(lines) + '\n')
  return rows


def test_convert_and_read_reference_format(tmp_path):
  raw, out = tmp_path / 'raw', tmp_path / 'out'
  raw.mkdir()
  rows = _write_raw(raw)
  counts = criteo.convert(str(raw), str(out), days=3, max_ind_range=11)
  assert counts == {'train': 37 + 38, 'test': 20, 'val': 19}
  for name in ('day_fea_count.npz', 'day_day_count.npz', 'day_0_reordered.npz',
               'day_2_reordered.npz'):
    assert (out / name).exists()
  fea = criteo.table_counts(str(out))
  hashed = np.array([[int(c or '0', 16) % 11 for c in cats]
                     for _, _, cats in rows])
  assert list(fea) == [len(set(hashed[:, j])) for j in range(26)]
  train = criteo.open_bin(str(out), 'train')
  test = criteo.open_bin(str(out), 'test')
  assert isinstance(train, np.memmap) and train.shape == (75, 40)
  # Eval day is not shuffled: test = first ceil(n/2) lines of day 2.
  day2 = rows[75:]
  np.testing.assert_array_equal(test[:, 0], [int(r[0]) for r in day2[:20]])
  np.testing.assert_array_equal(
      test[:, 1:14], [[max(0, int(v or 0)) for v in r[1]] for r in day2[:20]])
  # Categorical indices: first appearance order over the days, per feature.
  for j in (0, 5, 25):
    first = {}
    for v in hashed[:, j]:
      first.setdefault(v, len(first))
    np.testing.assert_array_equal(test[:, 14 + j],
                                  [first[v] for v in hashed[75:95, j]])
  # Training days: a permutation of days 0-1 (labels/ints multiset kept).
  raw_train = sorted(tuple([int(r[0])] + [max(0, int(v or 0)) for v in r[1]])
                     for r in rows[:75])
  assert sorted(map(tuple, np.asarray(train[:, :14]).tolist())) == raw_train
  npz = np.load(out / 'day_0_reordered.npz')
  assert set(npz.files) == {'X_int', 'X_cat', 'y'}


def test_reader_batches_hosts_and_eval_padding(tmp_path):
  raw, out = tmp_path / 'raw', tmp_path / 'out'
  raw.mkdir()
  _write_raw(raw, n=40)
  criteo.convert(str(raw), str(out), days=3, shuffle=False)
  data = criteo.open_bin(str(out), 'train')
  one = criteo.train_batches(str(out), global_batch_size=8, seed=3,
                             host=HostShard(0, 1))
  b1 = [next(one) for _ in range(20)]
  again = criteo.train_batches(str(out), global_batch_size=8, seed=3,
                               host=HostShard(0, 1))
  assert all(np.array_equal(a['sparse'], next(again)['sparse']) for a in b1)
  h0 = criteo.train_batches(str(out), global_batch_size=8, seed=3,
                            host=HostShard(0, 2))
  h1 = criteo.train_batches(str(out), global_batch_size=8, seed=3,
                            host=HostShard(1, 2))
  for a in b1[:5]:
    x, y = next(h0), next(h1)
    np.testing.assert_array_equal(np.concatenate([x['dense'], y['dense']]),
                                  a['dense'])
  # One epoch: the first 81 samples of the stream (10 batches and 1 of the
  # 11th, mixed with the next epoch) are the 81 records, each once.
  rows = lambda x: sorted(map(tuple, np.round(x, 5).tolist()))
  epoch = np.concatenate([b['dense'] for b in b1[:11]])[:81]
  ref = criteo.to_model_inputs(np.asarray(data[:81]), 40_000_000)['dense']
  assert rows(epoch) == rows(ref)
  np.testing.assert_array_equal(b1[0]['sparse'] % 1, 0)
  ev = list(criteo.eval_batches(str(out), global_batch_size=8,
                                host=HostShard(0, 1)))
  assert sum(b['mask'].sum() for b in ev) == 21
  assert ev[-1]['mask'].tolist() == [1] * 5 + [0] * 3
  with pytest.raises(FileNotFoundError, match='criteo'):
    criteo.open_bin(str(tmp_path), 'train')


def test_synthetic_clicks_deterministic_and_bayes_auc():
  spec = synthetic_clicks.ClickSpec(dlrm_wl.mini_rows(), train_samples=1000,
                                    eval_samples=500)
  a, b = synthetic_clicks.generate(spec), synthetic_clicks._split(spec, 1000, 1)
  np.testing.assert_array_equal(a[0].sparse, b.sparse)
  assert a[0].sparse.min() >= 0
  assert (a[0].sparse < np.array(dlrm_wl.mini_rows())).all()
  # Power law: the most frequent id of a 1000-row table is far above uniform.
  _, c = np.unique(a[0].sparse[:, 0], return_counts=True)
  assert c.max() > 20 * 1000 / 1000
  assert synthetic_clicks.bayes_auc(dlrm_wl.mini_spec()) == pytest.approx(
      dlrm_wl.MINI_BAYES_AUC, abs=1e-12)
  assert dlrm_wl.MINI_TARGET == round(0.88 * dlrm_wl.MINI_BAYES_AUC, 4)
