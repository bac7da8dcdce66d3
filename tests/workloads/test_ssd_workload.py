# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD workload: v1.1 eval epochs, model_bn_span, bad input, dry run,
reference smoke log, the prior-box baseline, the augmentation."""

import json
import subprocess
import sys

import numpy as np
import pytest

from mlperf_jax import compliance
from mlperf_jax import workloads
from mlperf_jax.hparams import registry
from mlperf_jax.input_pipelines import ssd_augment
from mlperf_jax.workloads import ssd as ssd_workload
from support import checker


def _train(*args, env=None):
  return subprocess.run([sys.executable, '-m', 'mlperf_jax.train',
                         '--workload', 'ssd', *args], capture_output=True,
                        text=True, timeout=1500, check=False, env=env)


def test_reference_evaluates_at_the_v11_rule_epochs():
  wl = workloads.get('ssd', 'reference')
  hp = wl.resolve_hparams()
  spe = wl.steps_per_epoch(hp)
  assert spe == -(-117_266 // 1024)
  blocks = list(wl.blocks(hp, 80))
  assert [b.eval_epoch_num for b in blocks] == [40, 50, 55, 60, 65, 70, 75,
                                                80]
  assert blocks[0].steps == 40 * spe and blocks[1].first_epoch_num == 41
  assert sum(b.steps for b in blocks) == 80 * spe
  assert [b.eval_epoch_num for b in wl.blocks(hp, 52)] == [40, 50]
  mini = workloads.get('ssd', 'mini')
  assert [b.eval_epoch_num for b in mini.blocks(mini.resolve_hparams(), 3)
          ] == [1, 2, 3]


def test_model_bn_span_is_the_real_span():
  wl = workloads.get('ssd', 'reference')
  assert wl.resolve_hparams()['model_bn_span'] == 1024
  # Derived from the batch: the span of one forward pass.
  assert wl.resolve_hparams({'global_batch_size': '2048'})[
      'model_bn_span'] == 2048
  assert wl.resolve_hparams({'global_batch_size': '2048',
                             'gradient_accumulation_steps': '2'})[
                                 'model_bn_span'] == 1024
  # An explicit false span is refused in the open division too.
  for division in ('closed', 'open'):
    with pytest.raises(registry.HParamError, match='= 1024'):
      wl.resolve_hparams({'model_bn_span': '64'}, division=division)
  mini = workloads.get('ssd', 'mini').resolve_hparams()
  assert mini['model_bn_span'] == mini['global_batch_size'] == 32


def test_missing_coco_is_exit_2_before_compute(tmp_path):
  proc = _train('--scale', 'reference', '--data-dir', str(tmp_path / 'no'),
                '--division', 'open', '--output-dir', str(tmp_path / 'out'))
  assert proc.returncode == 2, proc.stderr
  assert 'instances_train2017.json' in proc.stderr
  assert 'train2017.zip' in proc.stderr
  assert not (tmp_path / 'out').exists()


def test_prior_box_baseline_is_far_below_the_mini_target():
  wl = workloads.get('ssd', 'mini')
  base = ssd_workload.prior_box_baseline(wl, count=100)
  assert 0.0 <= base < 0.01 < wl.variant.target.value


@pytest.mark.slow
def test_reference_dry_run_prints_size_and_boxes(tmp_path):
  proc = _train('--scale', 'reference', '--dry-run', '--output-dir',
                str(tmp_path))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'parameters: 19,972,534' in proc.stdout
  assert 'default boxes: 8732 per image' in proc.stdout


@pytest.mark.slow
def test_reference_smoke_log_passes_1_1_0_except_target(tmp_path):
  proc = _train('--scale', 'reference', '--synthetic-data', '--max-steps',
                '1', '--set', 'global_batch_size=8', '--set',
                'model_bn_span=8', '--seed', '5', '--output-dir',
                str(tmp_path))
  assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
  log = sorted(tmp_path.rglob('mllog.txt'))[0]
  recs = [json.loads(line.split(':::MLLOG ', 1)[1])
          for line in log.read_text().splitlines() if ':::MLLOG ' in line]
  inits = [r for r in recs if r['key'] == 'weights_initialization']
  assert len(inits) == 119
  values = {r['key']: r['value'] for r in recs}
  assert values['model_bn_span'] == 8 and values['max_samples'] == 1
  assert values['opt_learning_rate_decay_boundary_epochs'] == [40, 50]
  checker.assert_only_the_target_fails(compliance.check(str(log), '1.1.0'),
                                       '0.230')


def _crop_cases():
  from PIL import Image
  rng = np.random.default_rng(0)
  img = Image.fromarray(rng.integers(0, 255, (80, 120, 3), np.uint8))
  boxes = np.array([[0.1, 0.1, 0.4, 0.5], [0.5, 0.4, 0.9, 0.95]], np.float32)
  return img, boxes, np.array([3, 7], np.int32)


def test_ssd_crop_invariants():
  img, boxes, labels = _crop_cases()
  rng = np.random.default_rng(1)
  sizes = set()
  for _ in range(60):
    out, b, lab = ssd_augment.ssd_crop(img, boxes, labels, rng, 50)
    sizes.add(out.size)
    assert len(b) == len(lab) >= 1 and set(lab) <= {3, 7}
    assert (b >= -1e-6).all() and (b <= 1 + 1e-6).all()
    assert (b[:, 2:] > b[:, :2]).all()
  assert (120, 80) in sizes and len(sizes) > 10   # mode 'none' and crops
  flipped, fb = ssd_augment.hflip(img, boxes, np.random.default_rng(0), p=1)
  np.testing.assert_allclose(fb[:, [0, 2]], 1 - boxes[:, [2, 0]])
  assert np.array_equal(np.asarray(flipped)[:, ::-1], np.asarray(img))


def test_train_and_eval_transforms():
  img, boxes, labels = _crop_cases()
  x, b, lab = ssd_augment.train_example(img, boxes, labels,
                                        np.random.default_rng(2), size=64)
  assert x.shape == (64, 64, 3) and x.dtype == np.float32
  ev = ssd_augment.eval_example(img, size=64)
  raw = np.asarray(img.resize((64, 64), 2), np.float32) / 255  # BILINEAR
  np.testing.assert_allclose(ev * ssd_augment.STD + ssd_augment.MEAN, raw,
                             atol=1e-5)
  j = ssd_augment.color_jitter(img, np.random.default_rng(3))
  assert j.size == img.size and not np.array_equal(np.asarray(j),
                                                   np.asarray(img))



def test_inference_responses_score_as_the_training_eval():
  """The same parameters: the official-layout responses of the inference
  spec, scored as accuracy-coco.py reads them, give the training eval's
  detections and AP (first eval batch of 128 canvases)."""
  import jax

  from mlperf_jax.api import HostShard
  from mlperf_jax.api import stack_samples
  wl = workloads.get('ssd', 'mini')
  hp = wl.resolve_hparams()
  import flax
  params, state = wl.init(jax.random.PRNGKey(3), hp)
  params = flax.linen.meta.unbox(params)
  batch = next(iter(wl.eval_batches(hp, host=HostShard())))
  out = jax.device_get(jax.jit(lambda b: wl.eval_step(params, state, b, hp))(
      batch))
  acc = wl.eval_accumulator()
  acc.add(out)
  spec = wl.inference()
  assert spec.count == 500 and spec.buckets('Offline')[-1] == 32
  n = len(batch['image_id'])
  assert n == 128
  rows = [spec.load_sample(i) for i in range(n)]
  pred = jax.device_get(jax.jit(lambda b: spec.predict(params, state, b))(
      stack_samples(rows, n)))
  responses = {i: spec.encode(pred, i) for i in range(n)}
  assert len(responses[0]) % 28 == 0                  # 7 float32 each
  first = np.frombuffer(responses[7], np.float32).reshape(-1, 7)
  assert (first[:, 0] == 7).all() and (first[:, 6] >= 1).all()
  got = spec.accuracy(responses)
  want = acc.result()
  assert got['samples'] == want['count'] == n
  assert got['mAP'] == pytest.approx(want['mAP'], abs=1e-12)
  results, _ = ssd_workload.responses_to_results(
      responses, lambda i: (i + 1, 64.0, 64.0))
  key = lambda r: (r['image_id'], -r['score'], r['category_id'])
  for a, b in zip(sorted(results, key=key), sorted(acc.results, key=key)):
    assert a['image_id'] == b['image_id']
    assert a['category_id'] == b['category_id']
    np.testing.assert_allclose(a['bbox'], b['bbox'], atol=1e-4)
  assert len(results) == len(acc.results) > 100
  with pytest.raises(ValueError, match='bucket'):
    spec.buckets('MultiStream')
  bad = {0: responses[1]}
  with pytest.raises(ValueError, match='sample 1'):
    spec.accuracy(bad)
