# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""(5) DLRM: a mixed last batch, every sample once per epoch, and an epoch
grid that follows the data (no dropped partial batch)."""

import numpy as np
import pytest

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import criteo
from mlperf_jax.workloads import dlrm as dlrm_wl
from mlperf_jax.hparams import registry


def _write_bin(path, n):
  # Record i has label i % 2, dense[0] = i (an id we can read back) and
  # categoricals i % 7.
  rec = np.zeros((n, criteo.RECORD), np.int32)
  rec[:, 0] = np.arange(n) % 2
  rec[:, 1] = np.arange(n)
  rec[:, 1 + criteo.NUM_DENSE:] = (np.arange(n) % 7)[:, None]
  path.mkdir(parents=True, exist_ok=True)
  rec.tofile(criteo.bin_path(str(path), 'train'))


def _ids(batch):
  return np.rint(np.expm1(batch['dense'][:, 0])).astype(np.int64)


@pytest.mark.parametrize('n,gbs', [(81, 8), (10, 4), (7, 7), (5, 8)])
def test_every_record_once_per_epoch_with_a_mixed_last_batch(tmp_path, n, gbs):
  _write_bin(tmp_path, n)
  it = criteo.train_batches(str(tmp_path), global_batch_size=gbs, seed=4,
                            host=HostShard())
  epochs = 4
  steps = -(-epochs * n // gbs)
  stream = np.concatenate([_ids(next(it)) for _ in range(steps)])
  assert all(len(stream[i * gbs:(i + 1) * gbs]) == gbs for i in range(steps))
  for e in range(epochs):
    np.testing.assert_array_equal(np.sort(stream[e * n:(e + 1) * n]),
                                  np.arange(n))
  if n % gbs:
    # The batch that ends epoch 1 is mixed: its first n mod gbs samples end
    # epoch 1 (checked above: nothing dropped), the rest start epoch 2.
    k = n // gbs
    assert len(stream[k * gbs:n]) == n % gbs
  # Epoch orders differ (shuffled blocks), and the reference's blocks of
  # gbs contiguous records are kept within an epoch.
  assert n <= gbs or not np.array_equal(stream[:n], stream[n:2 * n])


def test_hosts_concatenate_and_resume_equals_skipping(tmp_path):
  _write_bin(tmp_path, 81)
  one = criteo.train_batches(str(tmp_path), global_batch_size=8, seed=2,
                             host=HostShard())
  b = [_ids(next(one)) for _ in range(25)]
  hosts = [criteo.train_batches(str(tmp_path), global_batch_size=8, seed=2,
                                host=HostShard(h, 4)) for h in range(4)]
  for want in b:
    np.testing.assert_array_equal(
        np.concatenate([_ids(next(h)) for h in hosts]), want)
  late = criteo.train_batches(str(tmp_path), global_batch_size=8, seed=2,
                              host=HostShard(), start_step=13)
  for want in b[13:]:
    np.testing.assert_array_equal(_ids(next(late)), want)


def test_epoch_grid_ends_each_epoch_after_its_mixed_batch():
  wl = dlrm_wl.DlrmWorkload('reference', synthetic=True)
  hp = registry.resolve(wl.hparams('sgd'), wl.variant.defaults, {},
                        division='closed')
  n, gbs = dlrm_wl.CRITEO_TRAIN, hp['global_batch_size']
  blocks = list(wl.blocks(hp, 3))
  ends = np.cumsum([b.steps for b in blocks])
  epoch_ends = [int(ends[20 * k - 1]) for k in (1, 2, 3)]
  # Epoch k ends with the step holding its last sample: ceil(k N / GBS)
  # (epoch 1: the reference's len(train_ld) = ceil(N / GBS) = 128,028).
  assert epoch_ends == [-(-k * n // gbs) for k in (1, 2, 3)]
  assert epoch_ends[0] == 128_028 and epoch_ends[1] == 256_055
  for k, end in enumerate(epoch_ends, 1):
    assert end * gbs >= k * n > (end - 1) * gbs
  assert [b.eval_epoch_num for b in blocks[19::20]] == [2.0, 3.0, 4.0]
  assert blocks[20].first_epoch_num == 2.0
