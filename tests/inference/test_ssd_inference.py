# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD served end to end: `infer --mode accuracy` on the cached mini run's
final parameters, scored by the project's accuracy script and, independently,
by reading `mlperf_log_accuracy.json` in the official layout (per detection
float32 `[sample index, ymin, xmin, ymax, xmax, score, class]`, as
mlcommons/inference `tools/accuracy-coco.py` reads it) straight into
pycocotools: both give the mAP the training run's last eval logged."""

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from support.devices import one_device_env

from mlperf_jax.input_pipelines import digit_canvas


def _independent_map(log_path):
  """accuracy-coco.py's reading: first response per qsl_idx, boxes scaled
  by the image size, only the logged images evaluated."""
  canvases = digit_canvas.load_split('eval')
  size = float(digit_canvas.CANVAS_SIZE)
  first = {}
  for e in json.loads(log_path.read_text()):
    first.setdefault(e['qsl_idx'], e['data'])
  dets, ids = [], []
  for idx, data in first.items():
    image_id = int(canvases.image_id[idx])
    ids.append(image_id)
    rows = np.frombuffer(bytes.fromhex(data), '<f4').reshape(-1, 7)
    assert (rows[:, 0] == idx).all()
    for _, ymin, xmin, ymax, xmax, score, cls in rows.tolist():
      dets.append({'image_id': image_id, 'category_id': int(cls),
                   'bbox': [xmin * size, ymin * size, (xmax - xmin) * size,
                            (ymax - ymin) * size], 'score': score})
  with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO()
    gt.dataset = digit_canvas.coco_ground_truth(canvases)
    gt.createIndex()
    ev = COCOeval(gt, gt.loadRes(dets), iouType='bbox')
    ev.params.imgIds = sorted(ids)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
  return ev.stats[0], len(first)


def test_accuracy_run_gives_the_training_eval_map(mini_run, tmp_path):
  run = mini_run('ssd')
  assert run.proc.returncode == 0, run.output()
  maps = [r['value'] for r in run.records() if r['key'] == 'eval_accuracy']
  (params,) = list(run.log.parent.rglob('final_params'))
  env = one_device_env()  # as the mini run trained
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'ssd',
       '--checkpoint', str(params), '--mode', 'accuracy', '--scenario',
       'Offline', '--output-dir', str(tmp_path)],
      capture_output=True, text=True, timeout=600, check=False, env=env)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  log = tmp_path / 'mlperf_log_accuracy.json'
  acc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.accuracy', '--workload', 'ssd',
       '--scale', 'mini', str(log)],
      capture_output=True, text=True, timeout=300, check=False, env=env)
  assert acc.returncode == 0, acc.stdout + acc.stderr
  line = [l for l in acc.stdout.splitlines() if 'mAP = ' in l][0]
  # The run stops at its last eval, so these are the parameters it scored
  # (the eval batches 128 canvases, serving 32, 8 or 1; measured equal to
  # the last digit). Printed to 6 decimals.
  assert float(line.split('mAP = ')[1].split()[0]) == pytest.approx(
      maps[-1], abs=1e-6)
  independent, samples = _independent_map(log)
  assert samples == 500
  assert independent == pytest.approx(maps[-1], abs=1e-6)
  assert maps[-1] >= 0.5
