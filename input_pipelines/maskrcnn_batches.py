# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mask R-CNN batches with static shapes: digit canvases (mini) and COCO.

Every batch is a dict of fixed-shape arrays (see `models.maskrcnn.MaskRCNN`):
`image` [N, H, W, C] float32, `image_hw` [N, 2] int32 (the size before
padding), `gt_boxes` [N, G, 4] float32 in the reference's inclusive pixel
convention (`BoxList.convert('xyxy')`: `x2 = x + w - 1`), `gt_classes`
[N, G] int32 (0: padding), `gt_masks` [N, G, M, M] uint8 and
`gt_mask_frames` [N, G, 4] float32 (the continuous box each mask grid
covers); eval batches carry `image_id` [N] and `mask` [N] (0: padding).

Mini: `input_pipelines.digit_canvas` (64x64 canvases, at most 3 digits,
exact masks). Each mask is the whole 64x64 canvas grid (its frame is the
canvas). No horizontal flip: a mirrored digit is not that digit.

Reference (`maskrcnn_benchmark/data/`): COCO train2017 with crowd boxes
removed and images without usable annotations dropped
(`COCODataset(remove_images_without_annotations=True)`), resized to a short
side of 800 (long side at most 1333, `transforms.Resize`), flipped with
probability 0.5, BGR in 0..255 minus `PIXEL_MEAN`, grouped by aspect ratio
(`GroupedBatchSampler`) and zero-padded to a multiple of 32
(`SIZE_DIVISIBILITY`). The static shapes are two buckets, landscape
800 x 1344 and portrait 1344 x 800: the padded extent of every resized
COCO image fits one of them. Polygons are rasterised on the host
(pycocotools) into `M x M` grids over each object's box.
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np

from mlperf_jax.api import HostShard

PIXEL_MEAN_BGR = (102.9801, 115.9465, 122.7717)
MIN_SIZE, MAX_SIZE, SIZE_DIVISIBILITY = 800, 1333, 32
REFERENCE_BUCKETS = ((800, 1344), (1344, 800))   # (H, W) padded
MAX_GT = 100                      # COCO train2017 has at most 93 per image
MASK_GRID = 64                    # reference: box-local mask grid


def legacy_boxes(ltrb_exclusive: np.ndarray) -> np.ndarray:
  """ltrb with exclusive right/bottom (x + w) -> the reference's inclusive
  `x + w - 1`."""
  b = np.asarray(ltrb_exclusive, np.float32).copy()
  b[..., 2:] -= 1
  return b


# ---- mini: digit canvases ---------------------------------------------------

def _canvas_batch(cs, idx: np.ndarray) -> dict[str, np.ndarray]:
  n = len(idx)
  size = cs.image.shape[1]
  valid = cs.labels[idx] > 0
  boxes = np.where(valid[..., None], legacy_boxes(cs.boxes[idx]), 0.0)
  frames = np.tile(np.array([0, 0, size, size], np.float32),
                   (n, cs.labels.shape[1], 1))
  return {'image': np.asarray(cs.image[idx], np.float32),
          'image_hw': np.full((n, 2), size, np.int32),
          'gt_boxes': boxes.astype(np.float32),
          'gt_classes': np.asarray(cs.labels[idx], np.int32),
          'gt_masks': np.asarray(cs.masks[idx], np.uint8),
          'gt_mask_frames': frames}


def canvas_train_batches(global_batch_size: int, *, seed: int,
                         start_step: int = 0, host: HostShard = HostShard()
                         ) -> Iterator[dict[str, np.ndarray]]:
  """Endless shuffled training batches (a new permutation per epoch; the
  last partial batch of an epoch is dropped); this host's slice."""
  from mlperf_jax.input_pipelines import digit_canvas  # pylint: disable=import-outside-toplevel
  cs = digit_canvas.load_split('train')
  per_host = global_batch_size // host.count
  steps_per_epoch = len(cs) // global_batch_size
  step = start_step
  while True:
    epoch, k = divmod(step, steps_per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(len(cs))
    idx = order[k * global_batch_size:(k + 1) * global_batch_size]
    yield _canvas_batch(cs, idx[host.index * per_host:
                                (host.index + 1) * per_host])
    step += 1


def canvas_eval_batches(global_batch_size: int, *,
                        host: HostShard = HostShard()
                        ) -> Iterator[dict[str, np.ndarray]]:
  """The 500 eval canvases once, the last batch padded (mask 0)."""
  from mlperf_jax.input_pipelines import digit_canvas  # pylint: disable=import-outside-toplevel
  cs = digit_canvas.load_split('eval')
  per_host = global_batch_size // host.count
  for start in range(0, len(cs), global_batch_size):
    idx = np.arange(start, start + global_batch_size)
    idx = idx[host.index * per_host:(host.index + 1) * per_host]
    real = idx < len(cs)
    full = _canvas_batch(cs, np.minimum(idx, len(cs) - 1))
    b = {k: full[k] for k in ('image', 'image_hw')}
    b['image_id'] = np.asarray(cs.image_id[np.minimum(idx, len(cs) - 1)],
                               np.int32)
    b['mask'] = real.astype(np.float32)
    yield b


def canvas_ground_truth() -> dict:
  from mlperf_jax.input_pipelines import digit_canvas  # pylint: disable=import-outside-toplevel
  return digit_canvas.coco_ground_truth(digit_canvas.load_split('eval'))


# ---- reference: COCO 2017 ---------------------------------------------------

def resized_size(h: int, w: int, min_size: int = MIN_SIZE,
                 max_size: int = MAX_SIZE) -> tuple[int, int]:
  """`transforms.Resize.get_size`: short side `min_size` unless the long
  side would pass `max_size` (then the short side shrinks), truncated."""
  size = float(min_size)
  lo, hi = float(min(h, w)), float(max(h, w))
  if hi / lo * size > max_size:
    size = float(int(round(max_size * lo / hi)))
  if (w <= h and w == size) or (h <= w and h == size):
    return h, w
  if w < h:
    return int(size * h / w), int(size)
  return int(size), int(size * w / h)


def bucket_of(h: int, w: int) -> int:
  """The aspect-ratio group (`GroupedBatchSampler`): 0 landscape (w >= h),
  1 portrait."""
  return 0 if w >= h else 1


def padded_size(h: int, w: int) -> tuple[int, int]:
  d = SIZE_DIVISIBILITY
  return int(math.ceil(h / d) * d), int(math.ceil(w / d) * d)


def box_masks(segmentations: Sequence, boxes_xywh: np.ndarray, height: int,
              width: int, grid: int = MASK_GRID) -> np.ndarray:
  """Each object's polygons (or RLE) rasterised on a `grid^2` lattice over
  its box: [n, grid, grid] uint8 (cell centres inside the polygon)."""
  from pycocotools import mask as mask_util  # pylint: disable=import-outside-toplevel
  out = np.zeros((len(segmentations), grid, grid), np.uint8)
  for i, (seg, (x, y, w, h)) in enumerate(zip(segmentations, boxes_xywh)):
    w, h = max(w, 1e-3), max(h, 1e-3)
    if isinstance(seg, list):
      polys = [[(c - (x if k % 2 == 0 else y)) * grid /
                (w if k % 2 == 0 else h) for k, c in enumerate(p)]
               for p in seg if len(p) >= 6]
      if not polys:
        continue
      rle = mask_util.merge(mask_util.frPyObjects(polys, grid, grid))
      out[i] = mask_util.decode(rle)
    else:
      if isinstance(seg.get('counts'), list):
        seg = mask_util.frPyObjects(seg, height, width)
      full = mask_util.decode(seg)
      ys = np.clip(((np.arange(grid) + 0.5) * h / grid + y).astype(int), 0,
                   height - 1)
      xs = np.clip(((np.arange(grid) + 0.5) * w / grid + x).astype(int), 0,
                   width - 1)
      out[i] = full[ys[:, None], xs[None, :]]
  return out


def coco_example(split, i: int, *, flip: bool, max_gt: int = MAX_GT
                 ) -> dict[str, np.ndarray]:
  """One training image of `split` (a `coco.CocoSplit`), resized, flipped
  if asked, mean-subtracted BGR, with its non-crowd objects (unpadded)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import coco  # pylint: disable=import-outside-toplevel
  rec = split.images[i]
  anns = [a for a in rec.annotations if not a.get('iscrowd', 0)][:max_gt]
  img = coco.decode_image(split.image_path(i))
  h, w = resized_size(rec.height, rec.width)
  img = np.asarray(Image.fromarray(img).resize((w, h),
                                               Image.Resampling.BILINEAR),
                   np.float32)
  sx, sy = w / rec.width, h / rec.height
  xywh = np.asarray([a['bbox'] for a in anns], np.float64).reshape(-1, 4)
  masks = box_masks([a['segmentation'] for a in anns], xywh, rec.height,
                    rec.width)
  frames = np.stack([xywh[:, 0] * sx, xywh[:, 1] * sy,
                     (xywh[:, 0] + xywh[:, 2]) * sx,
                     (xywh[:, 1] + xywh[:, 3]) * sy], 1)
  boxes = legacy_boxes(frames)
  if flip:
    img = img[:, ::-1]
    boxes = np.stack([w - 1 - boxes[:, 2], boxes[:, 1], w - 1 - boxes[:, 0],
                      boxes[:, 3]], 1)
    frames = np.stack([w - frames[:, 2], frames[:, 1], w - frames[:, 0],
                       frames[:, 3]], 1)
    masks = masks[:, :, ::-1]
  bgr = img[..., ::-1] - np.asarray(PIXEL_MEAN_BGR, np.float32)
  labels = np.asarray([split.label_of[a['category_id']] for a in anns],
                      np.int32)
  return {'image': bgr, 'image_hw': np.array([h, w], np.int32),
          'gt_boxes': boxes.astype(np.float32), 'gt_classes': labels,
          'gt_masks': masks, 'gt_mask_frames': frames.astype(np.float32)}


def collate(examples: Sequence[dict], bucket_hw: tuple[int, int],
            max_gt: int = MAX_GT, grid: int = MASK_GRID
            ) -> dict[str, np.ndarray]:
  """Zero-pads examples into one static-shape batch of `bucket_hw`."""
  n, (bh, bw) = len(examples), bucket_hw
  c = examples[0]['image'].shape[-1]
  out = {'image': np.zeros((n, bh, bw, c), np.float32),
         'image_hw': np.zeros((n, 2), np.int32),
         'gt_boxes': np.zeros((n, max_gt, 4), np.float32),
         'gt_classes': np.zeros((n, max_gt), np.int32),
         'gt_masks': np.zeros((n, max_gt, grid, grid), np.uint8),
         'gt_mask_frames': np.tile(np.array([0, 0, 1, 1], np.float32),
                                   (n, max_gt, 1))}
  for k, ex in enumerate(examples):
    h, w = ex['image'].shape[:2]
    if h > bh or w > bw:
      raise ValueError(f'image of {h}x{w} does not fit bucket {bh}x{bw}')
    out['image'][k, :h, :w] = ex['image']
    out['image_hw'][k] = ex['image_hw']
    g = min(len(ex['gt_classes']), max_gt)
    for key in ('gt_boxes', 'gt_classes', 'gt_masks', 'gt_mask_frames'):
      out[key][k, :g] = ex[key][:g]
  return out


def _has_valid_annotation(rec) -> bool:
  """`COCODataset` filter: a non-crowd object whose box is over 1 px."""
  return any(not a.get('iscrowd', 0) and a['bbox'][2] > 1 and a['bbox'][3] > 1
             for a in rec.annotations)


def _bucket_index(rec) -> int:
  return bucket_of(*resized_size(rec.height, rec.width))


def coco_train_batches(data_dir: str, global_batch_size: int, *, seed: int,
                       start_step: int = 0, host: HostShard = HostShard()
                       ) -> Iterator[dict[str, np.ndarray]]:
  """Endless aspect-grouped COCO train2017 batches (`GroupedBatchSampler`:
  a seeded shuffle per epoch, each batch from one orientation group);
  this host's slice of each global batch."""
  from mlperf_jax.input_pipelines import coco  # pylint: disable=import-outside-toplevel
  split = coco.open_split(data_dir, 'train')
  keep = [i for i, r in enumerate(split.images) if _has_valid_annotation(r)]
  groups = np.array([_bucket_index(split.images[i]) for i in keep])
  per_host = global_batch_size // host.count
  step, epoch = 0, 0
  while True:
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(keep))
    pending: dict[int, list[int]] = {0: [], 1: []}
    for j in order:
      g = int(groups[j])
      pending[g].append(keep[j])
      if len(pending[g]) < global_batch_size:
        continue
      idx, pending[g] = pending[g], []
      if step >= start_step:
        mine = idx[host.index * per_host:(host.index + 1) * per_host]
        flips = rng.uniform(size=len(idx)) < 0.5
        flips = flips[host.index * per_host:(host.index + 1) * per_host]
        yield collate([coco_example(split, i, flip=bool(f))
                       for i, f in zip(mine, flips)], REFERENCE_BUCKETS[g])
      step += 1
    epoch += 1


def coco_eval_batches(data_dir: str, global_batch_size: int, *,
                      host: HostShard = HostShard()
                      ) -> Iterator[dict[str, np.ndarray]]:
  """All 5,000 val2017 images once, grouped by orientation, each group's
  last batch padded (mask 0); `image_scale` maps boxes back."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import coco  # pylint: disable=import-outside-toplevel
  split = coco.open_split(data_dir, 'val', drop_empty=False)
  per_host = global_batch_size // host.count
  for g, bucket in enumerate(REFERENCE_BUCKETS):
    ids = [i for i, r in enumerate(split.images) if _bucket_index(r) == g]
    for start in range(0, len(ids), global_batch_size):
      chunk = ids[start:start + global_batch_size]
      real = np.arange(global_batch_size) < len(chunk)
      chunk = chunk + [chunk[-1]] * (global_batch_size - len(chunk))
      sl = slice(host.index * per_host, (host.index + 1) * per_host)
      out = {'image': np.zeros((per_host, *bucket, 3), np.float32),
             'image_hw': np.zeros((per_host, 2), np.int32),
             'image_id': np.zeros(per_host, np.int32),
             'image_scale': np.zeros(per_host, np.float32),
             'mask': real[sl].astype(np.float32)}
      for k, i in enumerate(chunk[sl]):
        rec = split.images[i]
        h, w = resized_size(rec.height, rec.width)
        img = np.asarray(Image.fromarray(coco.decode_image(
            split.image_path(i))).resize((w, h), Image.Resampling.BILINEAR),
                         np.float32)
        out['image'][k, :h, :w] = img[..., ::-1] - np.asarray(
            PIXEL_MEAN_BGR, np.float32)
        out['image_hw'][k] = (h, w)
        out['image_id'][k] = rec.image_id
        out['image_scale'][k] = h / rec.height
      yield out
