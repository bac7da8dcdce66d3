# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""benchmarks/pipeline_throughput.py: the files it writes are what the real
readers take, the measurement counts what it consumed, the rates and cores
are the stated arithmetic, and bad input is refused before any work."""

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'benchmarks'))

import pipeline_throughput as pt  # noqa: E402

from mlperf_jax.input_pipelines import coco  # noqa: E402
from mlperf_jax.input_pipelines import image_ops  # noqa: E402
from mlperf_jax.input_pipelines import librispeech  # noqa: E402


def test_written_files_are_what_the_real_readers_read(tmp_path):
  (path,) = pt.write_imagenet(str(tmp_path), 1)
  with open(path, 'rb') as f:
    assert image_ops.decode_image(f.read()).shape == (375, 500, 3)
  split = coco.open_split(pt.write_coco(str(tmp_path), 3), 'train')
  assert len(split) == 3 and split.images[0].width == 640
  for i in range(3):
    boxes, labels = coco.boxes_and_labels(split, i)
    assert 1 <= len(boxes) <= 8 and ((labels >= 1) & (labels <= 80)).all()
    assert (boxes >= 0).all() and (boxes <= 1).all()
    for ann in split.images[i].annotations:   # polygons inside their boxes
      x, y, w, h = ann['bbox']
      poly = np.asarray(ann['segmentation'][0]).reshape(-1, 2)
      assert (poly >= [x - 0.01, y - 0.01]).all()
      assert (poly <= [x + w + 0.01, y + h + 0.01]).all()
  root = pt.write_librispeech(str(tmp_path), 2)
  utts = librispeech.read_split(root, 'train-clean-100')
  assert len(utts) == 2 and all(8 <= u.duration <= 16.7 for u in utts)
  assert all(u.transcript == librispeech.normalize_transcript(u.transcript)
             for u in utts)
  assert not librispeech.check_layout(root)


def test_worker_processes_count_every_item_and_check_batches(tmp_path):
  files = pt.write_files(str(tmp_path), ['resnet'], n_images=4)
  m = pt.measure_workers('resnet', files, items=3, batch=2, workers=2)
  assert m['items'] == 2 * 4   # two whole batches of 2 in each worker
  assert m['cpu_s'] > 0 and m['wall_s'] > 0
  with pytest.raises(AssertionError, match='expected'):
    pt._check('resnet', {'image': np.zeros((2, 200, 224, 3))}, 2)


def test_published_rates_and_cores():
  rates = pt.published_rates()
  assert set(rates) == set(pt.PIPELINES)
  # v1.1 dgxa100_ngc21.09_mxnet ResNet: 35 epochs x 1,281,167 images in
  # 29.147 min on 8 chips = 3,205.08 img/s per chip; SSD: 50 x 117,266 in
  # 8.258 min = 1,479.20.
  assert rates['resnet'][0] == pytest.approx(3205.08, abs=0.01)
  assert rates['ssd'][0] == pytest.approx(1479.20, abs=0.01)
  assert pt.cores_needed(250.0, 8000.0) == 32.0
  assert pt.parse_rates(['ssd=10', 'ssd=20.5']) == {'ssd': [10.0, 20.5]}
  for bad in ('ssd', 'bert=10', 'ssd=-1', 'ssd=fast'):
    with pytest.raises(ValueError, match='NAME=ITEMS_PER_S'):
      pt.parse_rates([bad])


def test_bad_arguments_exit_2_before_any_work(tmp_path, capsys):
  out = tmp_path / 'r.json'
  assert pt.main(['--pipelines', 'resnet,imagenet', '--rate', 'x=1',
                  '--items', '0', '--json', str(out)]) == 2
  err = capsys.readouterr().err
  assert "unknown pipeline 'imagenet'" in err and "--rate 'x=1'" in err
  assert '--items' in err and not out.exists()


def test_results_are_json(tmp_path):
  r = pt.run(['rnnt'], items=1, batch=1, decode_min_cpu_s=0.01,
             n_utterances=2, verbose=False, work_dir=str(tmp_path))
  p = json.loads(json.dumps(r))['pipelines']['rnnt']
  assert p['items'] == 1 and p['items_per_cpu_s'] == 1 / p['cpu_s']
  assert 'soundfile (flac)' in p['decode_cpu_ms']
  (feed,) = p['feeds']
  assert feed['cores'] == feed['rate'] / p['items_per_cpu_s']
  assert not os.listdir(tmp_path)  # the files are cleaned up
