# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD batches from the digit canvases (mini) and COCO 2017 (reference).

Training batches: 'image' float32 [B, S, S, C], 'boxes' float32 [B, G, 4]
(normalised ltrb, padded) and 'labels' int32 [B, G] (0 = padding). The
target encoding (`box_ops.match_ssd`) runs on the device, in the loss, on
these padded ground truths; the reference runs the same `Encoder.encode`
per image on the host. Eval batches: 'image', 'image_id' int32 [B] and
'image_size' float32 [B, 2] (width, height: decoded boxes are normalised
and scaled back for COCO), padded and masked by `batching.eval_batches`.

The reference pads eval ground truth to 200 boxes (`SSDTransformer`
`max_num=200`); training uses the same bound here (COCO 2017's largest
image has 93 annotations), with a clear error beyond it.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import batching
from mlperf_jax.input_pipelines import coco
from mlperf_jax.input_pipelines import digit_canvas
from mlperf_jax.input_pipelines import ssd_augment

COCO_MAX_BOXES = 200


def _pad_boxes(boxes: list[np.ndarray], labels: list[np.ndarray],
               max_boxes: int) -> tuple[np.ndarray, np.ndarray]:
  out_b = np.zeros((len(boxes), max_boxes, 4), np.float32)
  out_l = np.zeros((len(boxes), max_boxes), np.int32)
  for i, (b, lab) in enumerate(zip(boxes, labels)):
    if len(b) > max_boxes:
      raise ValueError(f'an image has {len(b)} boxes, more than the '
                       f'{max_boxes} an SSD batch holds')
    out_b[i, :len(b)] = b
    out_l[i, :len(b)] = lab
  return out_b, out_l


# ---- mini: digit canvases ---------------------------------------------------

def canvas_train_batches(*, global_batch_size: int, seed: int,
                         host: HostShard = HostShard(), start_step: int = 0):
  """Training batches of the 3,000 training canvases (no augmentation)."""
  data = digit_canvas.load_split('train')
  scale = np.float32(digit_canvas.CANVAS_SIZE)

  def load(idx, rng):
    del rng
    return {'image': data.image[idx], 'boxes': data.boxes[idx] / scale,
            'labels': data.labels[idx]}
  return batching.train_batches(len(data), load,
                                global_batch_size=global_batch_size,
                                seed=seed, host=host, start_step=start_step)


def canvas_eval_batches(*, global_batch_size: int,
                        host: HostShard = HostShard()):
  """The 500 eval canvases once, padded and masked."""
  data = digit_canvas.load_split('eval')
  size = np.full((1, 2), digit_canvas.CANVAS_SIZE, np.float32)

  def load(idx, rng):
    del rng
    return {'image': data.image[idx], 'image_id': data.image_id[idx],
            'image_size': np.repeat(size, len(idx), 0)}
  return batching.eval_batches(len(data), load,
                               global_batch_size=global_batch_size, host=host)


@functools.lru_cache(maxsize=1)
def canvas_ground_truth() -> dict:
  """The eval canvases as a COCO annotation dict."""
  return digit_canvas.coco_ground_truth(digit_canvas.load_split('eval'))


# ---- reference: COCO 2017 ---------------------------------------------------

@functools.lru_cache(maxsize=4)
def coco_split(data_dir: str, split: str) -> coco.CocoSplit:
  return coco.open_split(data_dir, split)


def _threads() -> int:
  return min(16, os.cpu_count() or 1)


def coco_train_batches(data_dir: str, *, global_batch_size: int, seed: int,
                       host: HostShard = HostShard(), start_step: int = 0,
                       size: int = 300, max_samples: int = 1):
  """Training batches of train2017 with the reference augmentation."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  split = coco_split(data_dir, 'train')

  def load(idx, rng):
    images, boxes, labels = [], [], []
    for i in idx:
      b, lab = coco.boxes_and_labels(split, int(i))
      with Image.open(split.image_path(int(i))) as img:
        x, b, lab = ssd_augment.train_example(
            img.convert('RGB'), b, lab, rng, size=size,
            max_samples=max_samples)
      images.append(x)
      boxes.append(b)
      labels.append(lab)
    pb, pl = _pad_boxes(boxes, labels, COCO_MAX_BOXES)
    return {'image': np.stack(images), 'boxes': pb, 'labels': pl}
  return batching.train_batches(len(split), load,
                                global_batch_size=global_batch_size,
                                seed=seed, host=host, start_step=start_step,
                                num_threads=_threads())


def coco_eval_batches(data_dir: str, *, global_batch_size: int,
                      host: HostShard = HostShard(), size: int = 300):
  """val2017 images with annotations (4,952), resized and normalised."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  split = coco_split(data_dir, 'val')

  def load(idx, rng):
    del rng
    images, ids, sizes = [], [], []
    for i in idx:
      rec = split.images[int(i)]
      with Image.open(split.image_path(int(i))) as img:
        images.append(ssd_augment.eval_example(img.convert('RGB'), size=size))
      ids.append(rec.image_id)
      sizes.append((rec.width, rec.height))
    return {'image': np.stack(images), 'image_id': np.asarray(ids, np.int32),
            'image_size': np.asarray(sizes, np.float32)}
  return batching.eval_batches(len(split), load,
                               global_batch_size=global_batch_size,
                               host=host, num_threads=_threads())
