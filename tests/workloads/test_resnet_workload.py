# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The reference ResNet workload end to end on (mock) ImageNet data."""

import json

import jax
import tensorflow_datasets as tfds

from mlperf_jax.runtime import loop
from mlperf_jax.runtime.mllog import RunLog
from mlperf_jax.workloads.resnet import ResNetWorkload


def test_reference_run_on_mock_imagenet_reads_the_whole_eval_set(tmp_path):
  # tfds mock data stands in for imagenet2012 prepared as ArrayRecord.
  version_dir = tmp_path / 'imagenet2012' / '5.1.0'
  version_dir.mkdir(parents=True)
  (version_dir / 'dataset_info.json').write_text(
      json.dumps({'fileFormat': 'array_record'}))
  wl = ResNetWorkload('reference', data_dir=str(tmp_path))
  hp = wl.resolve_hparams({'global_batch_size': '8'})
  log = RunLog(str(tmp_path / 'log.txt'))
  with tfds.testing.mock_data(num_examples=12):
    r = loop.run(wl, hp, loop.RunOptions(seed=0, max_steps=1, progress=False,
                                         mesh='data=8'), log)
  log.close()
  assert r.status == 'aborted' and r.steps == 1
  # 12 mock validation images in 2 padded batches of 8: each counted once.
  assert r.evals[0].metrics['count'] == 12
  assert jax.numpy.isfinite(r.losses[0])
  lines = [json.loads(l.split(':::MLLOG ', 1)[1])
           for l in (tmp_path / 'log.txt').read_text().splitlines()]
  keys = [l['key'] for l in lines]
  assert keys.index('init_stop') < keys.index('run_start') < keys.index(
      'block_start')
  assert keys.count('weights_initialization') == 161
  assert 'mlperf_jax_notice' not in keys  # a real-data reference run
