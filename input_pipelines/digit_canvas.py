# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mini detection data: real handwritten digits composed onto canvases.

The mini scale of the detection benchmarks (SSD, Mask R-CNN) needs objects
with exact boxes and exact instance masks and no download. scikit-learn's
1,797 real 8x8 digits provide the objects:

* glyph pools: a fixed permutation (constant seed, independent of any run)
  splits the 1,797 glyphs into 1,400 for training canvases and 397 for eval
  canvases, so no eval object was ever seen in training;
* each canvas is `CANVAS_SIZE`^2 grey pixels holding 1..`MAX_INSTANCES`
  glyphs, each bilinearly upscaled to a random side of 12..26 px
  (values 0..1) and placed so that the glyphs' squares do not overlap;
  Gaussian noise (sigma 0.15) is added to the whole canvas;
* an instance's mask is its upscaled glyph's pixels > 0.3 and its box the
  tight pixel bounds of that mask, so both are exact;
* class ids are `digit + 1` (1..10); 0 is background and padding.

The two splits are fixed datasets (3,000 train and 500 eval canvases, drawn
with constant seeds), like a real dataset: a run's seed changes the order
and augmentation, never the data. `coco_ground_truth` returns a split in the
COCO annotation format (bbox, area, RLE segmentation) for pycocotools.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

CANVAS_SIZE = 64
NUM_CLASSES = 10          # digit classes; ids 1..10, 0 is background
MAX_INSTANCES = 3
TRAIN_CANVASES = 3000
EVAL_CANVASES = 500
TRAIN_GLYPHS = 1400
EVAL_GLYPHS = 397
GLYPH_SIZES = (12, 26)    # inclusive range of glyph sides in pixels
NOISE_SIGMA = 0.15
MASK_THRESHOLD = 0.3
SPLITS = ('train', 'eval')
# Fixed seeds of the glyph split and of each split's canvases.
_GLYPH_SEED = 20260201
_CANVAS_SEED = {'train': 20260202, 'eval': 20260203}
_PLACEMENT_TRIES = 50


@dataclasses.dataclass(frozen=True)
class CanvasSet:
  """One split's canvases (read-only arrays).

  image: float32 [N, S, S, 1]; boxes: float32 [N, M, 4] ltrb in pixels
  (right/bottom exclusive: a box covers columns x0..x1-1); labels: int32
  [N, M] (1..10, 0 padding); masks: bool [N, M, S, S]; num_instances: int32
  [N]; image_id: int32 [N] (COCO image ids, 1-based).
  """
  image: np.ndarray
  boxes: np.ndarray
  labels: np.ndarray
  masks: np.ndarray
  num_instances: np.ndarray
  image_id: np.ndarray

  def __len__(self) -> int:
    return len(self.image_id)


@functools.lru_cache(maxsize=1)
def glyph_pools() -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """split -> (glyphs float32 [G, 8, 8] in 0..1, digits int32 [G])."""
  from sklearn import datasets  # Deferred: sklearn import costs ~1 s.
  raw = datasets.load_digits()
  images = (raw.images / 16.0).astype(np.float32)
  digits = raw.target.astype(np.int32)
  if len(digits) != TRAIN_GLYPHS + EVAL_GLYPHS:
    raise RuntimeError(f'expected {TRAIN_GLYPHS + EVAL_GLYPHS} digits from '
                       f'scikit-learn, got {len(digits)}')
  order = np.random.default_rng(_GLYPH_SEED).permutation(len(digits))
  picks = {'train': order[:TRAIN_GLYPHS], 'eval': order[TRAIN_GLYPHS:]}
  return {s: (images[i], digits[i]) for s, i in picks.items()}


def _upscale(glyph: np.ndarray, side: int) -> np.ndarray:
  from PIL import Image  # pylint: disable=import-outside-toplevel
  img = Image.fromarray(glyph).resize((side, side),
                                                Image.Resampling.BILINEAR)
  return np.clip(np.asarray(img, np.float32), 0.0, 1.0)


def make_canvases(split: str, count: int, seed: int) -> CanvasSet:
  """Draws `count` canvases from `split`'s glyph pool with `seed`."""
  if split not in SPLITS:
    raise ValueError(f'unknown split {split!r}; valid: {SPLITS}')
  glyphs, digits = glyph_pools()[split]
  rng = np.random.default_rng(seed)
  s, m = CANVAS_SIZE, MAX_INSTANCES
  image = np.zeros((count, s, s), np.float32)
  boxes = np.zeros((count, m, 4), np.float32)
  labels = np.zeros((count, m), np.int32)
  masks = np.zeros((count, m, s, s), bool)
  num = np.zeros(count, np.int32)
  for n in range(count):
    squares: list[tuple[int, int, int]] = []
    for _ in range(int(rng.integers(1, m + 1))):
      g = int(rng.integers(len(glyphs)))
      side = int(rng.integers(GLYPH_SIZES[0], GLYPH_SIZES[1] + 1))
      for _ in range(_PLACEMENT_TRIES):
        y, x = (int(v) for v in rng.integers(0, s - side + 1, 2))
        if all(x + side <= qx or qx + q <= x or y + side <= qy or qy + q <= y
               for qy, qx, q in squares):
          break
      else:
        continue  # no free place: the canvas holds fewer glyphs
      squares.append((y, x, side))
      patch = _upscale(glyphs[g], side)
      k = num[n]
      region = image[n, y:y + side, x:x + side]
      np.maximum(region, patch, out=region)
      masks[n, k, y:y + side, x:x + side] = patch > MASK_THRESHOLD
      rows = np.flatnonzero(masks[n, k].any(1))
      cols = np.flatnonzero(masks[n, k].any(0))
      boxes[n, k] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
      labels[n, k] = digits[g] + 1
      num[n] += 1
  image += rng.normal(0.0, NOISE_SIGMA, image.shape).astype(np.float32)
  out = CanvasSet(image=image[..., None], boxes=boxes, labels=labels,
                  masks=masks, num_instances=num,
                  image_id=np.arange(1, count + 1, dtype=np.int32))
  for v in dataclasses.astuple(out):
    v.flags.writeable = False
  return out


@functools.lru_cache(maxsize=2)
def load_split(split: str) -> CanvasSet:
  """The fixed dataset of `split` ('train': 3,000, 'eval': 500 canvases)."""
  count = TRAIN_CANVASES if split == 'train' else EVAL_CANVASES
  if split not in SPLITS:
    raise ValueError(f'unknown split {split!r}; valid: {SPLITS}')
  return make_canvases(split, count, _CANVAS_SEED[split])


def coco_ground_truth(canvases: CanvasSet) -> dict:
  """The canvases as a COCO annotation dict (bbox, area, RLE masks).

  Boxes are COCO `[x, y, w, h]` in pixels; `area` is the mask's pixel count
  (COCO's area of the segmentation); category ids are 1..10 named '0'..'9'.
  """
  from pycocotools import mask as mask_util  # pylint: disable=import-outside-toplevel
  images, annotations = [], []
  for n, image_id in enumerate(canvases.image_id.tolist()):
    images.append({'id': image_id, 'width': CANVAS_SIZE,
                   'height': CANVAS_SIZE, 'file_name': f'{image_id}.png'})
    for k in range(int(canvases.num_instances[n])):
      x0, y0, x1, y1 = (float(v) for v in canvases.boxes[n, k])
      rle = mask_util.encode(np.asfortranarray(
          canvases.masks[n, k].astype(np.uint8)))
      rle['counts'] = rle['counts'].decode('ascii')
      annotations.append({
          'id': len(annotations) + 1, 'image_id': image_id,
          'category_id': int(canvases.labels[n, k]),
          'bbox': [x0, y0, x1 - x0, y1 - y0],
          'area': float(canvases.masks[n, k].sum()), 'iscrowd': 0,
          'segmentation': rle})
  categories = [{'id': c + 1, 'name': str(c), 'supercategory': 'digit'}
                for c in range(NUM_CLASSES)]
  return {'images': images, 'annotations': annotations,
          'categories': categories}
