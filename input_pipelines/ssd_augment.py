# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD training augmentation and eval preprocessing, host-side (PIL/numpy).

mlcommons/training `single_stage_detector/ssd/utils.py` `SSDTransformer`:
training applies `SSDCropping`, then `RandomHorizontalFlip` (p 0.5), then
resize to 300x300, `ColorJitter(brightness=0.125, contrast=0.5,
saturation=0.5, hue=0.05)`, `ToTensor` (/255) and ImageNet mean/std
normalisation; eval only resizes and normalises.

`ssd_crop` is `SSDCropping`: pick one of 7 modes uniformly (keep the image;
minimum IoU 0.1/0.3/0.5/0.7/0.9; no constraint). A mode tries `max_samples`
crops (the reference: 1; the rules allow 1 or 50) of width and height
U(0.3, 1) (relative), aspect ratio w/h in [0.5, 2], position uniform; a
crop is accepted when every box's IoU with it lies strictly between the
mode's bounds and at least one box centre lies strictly inside it. Boxes
are clipped to the crop, those with their centre outside dropped, and
re-expressed relative to it; the pixel crop is `int(edge * size)`. When a
mode's tries all fail, another mode is drawn (the reference's `while True`).

Random numbers come from the numpy generator the batching layer gives each
batch (seeded by run seed and step), not from Python's global `random`.
"""

from __future__ import annotations

import numpy as np

# ImageNet statistics of torchvision's Normalize in the reference.
MEAN = np.asarray([0.485, 0.456, 0.406], np.float32)
STD = np.asarray([0.229, 0.224, 0.225], np.float32)
CROP_MODES = (None, (0.1, None), (0.3, None), (0.5, None), (0.7, None),
              (0.9, None), (None, None))
JITTER = {'brightness': 0.125, 'contrast': 0.5, 'saturation': 0.5,
          'hue': 0.05}


def _iou_with(boxes: np.ndarray, crop: np.ndarray) -> np.ndarray:
  lt = np.maximum(boxes[:, :2], crop[:2])
  rb = np.minimum(boxes[:, 2:], crop[2:])
  wh = np.clip(rb - lt, 0, None)
  inter = wh[:, 0] * wh[:, 1]
  a = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
  c = (crop[2] - crop[0]) * (crop[3] - crop[1])
  return inter / (a + c - inter)


def ssd_crop(image, boxes: np.ndarray, labels: np.ndarray,
             rng: np.random.Generator, max_samples: int = 1):
  """`SSDCropping` on a PIL image with normalised ltrb boxes.

  Returns:
    (image, boxes, labels): possibly cropped, boxes relative to the crop.
  """
  wtot, htot = image.size
  while True:
    mode = CROP_MODES[int(rng.integers(len(CROP_MODES)))]
    if mode is None:
      return image, boxes, labels
    lo = -np.inf if mode[0] is None else mode[0]
    hi = np.inf if mode[1] is None else mode[1]
    for _ in range(max_samples):
      w, h = rng.uniform(0.3, 1.0, 2)
      if w / h < 0.5 or w / h > 2:
        continue
      left = rng.uniform(0, 1.0 - w)
      top = rng.uniform(0, 1.0 - h)
      crop = np.array([left, top, left + w, top + h])
      ious = _iou_with(boxes, crop)
      if not ((ious > lo) & (ious < hi)).all():
        continue
      xc = 0.5 * (boxes[:, 0] + boxes[:, 2])
      yc = 0.5 * (boxes[:, 1] + boxes[:, 3])
      inside = ((xc > crop[0]) & (xc < crop[2]) & (yc > crop[1]) &
                (yc < crop[3]))
      if not inside.any():
        continue
      out = boxes.copy()
      out[:, :2] = np.maximum(out[:, :2], crop[:2])
      out[:, 2:] = np.minimum(out[:, 2:], crop[2:])
      out = out[inside]
      out = (out - np.tile(crop[:2], 2)) / np.array([w, h, w, h])
      pixels = (int(crop[0] * wtot), int(crop[1] * htot),
                int(crop[2] * wtot), int(crop[3] * htot))
      return image.crop(pixels), out.astype(np.float32), labels[inside]


def hflip(image, boxes: np.ndarray, rng: np.random.Generator,
          p: float = 0.5):
  """`RandomHorizontalFlip`: mirror image and boxes with probability p."""
  if rng.random() < p:
    from PIL import Image  # pylint: disable=import-outside-toplevel
    out = boxes.copy()
    out[:, 0], out[:, 2] = 1.0 - boxes[:, 2], 1.0 - boxes[:, 0]
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), out
  return image, boxes


def color_jitter(image, rng: np.random.Generator, brightness: float = 0.125,
                 contrast: float = 0.5, saturation: float = 0.5,
                 hue: float = 0.05):
  """torchvision `ColorJitter` on a PIL RGB image: the four adjustments in a
  random order, factors U(1 - x, 1 + x), hue shift U(-hue, hue) of a turn."""
  from PIL import Image, ImageEnhance  # pylint: disable=import-outside-toplevel
  factors = {
      'brightness': rng.uniform(max(0, 1 - brightness), 1 + brightness),
      'contrast': rng.uniform(max(0, 1 - contrast), 1 + contrast),
      'saturation': rng.uniform(max(0, 1 - saturation), 1 + saturation),
      'hue': rng.uniform(-hue, hue)}
  for name in np.asarray(list(factors))[rng.permutation(4)]:
    f = factors[str(name)]
    if name == 'brightness':
      image = ImageEnhance.Brightness(image).enhance(f)
    elif name == 'contrast':
      image = ImageEnhance.Contrast(image).enhance(f)
    elif name == 'saturation':
      image = ImageEnhance.Color(image).enhance(f)
    else:
      h, s, v = image.convert('HSV').split()
      shifted = (np.asarray(h, np.int16) + int(round(f * 255))) % 256
      image = Image.merge('HSV', (Image.fromarray(shifted.astype(np.uint8)),
                                  s, v)).convert('RGB')
  return image


def normalize(pixels: np.ndarray) -> np.ndarray:
  """uint8 RGB [H, W, 3] -> float32 (x / 255 - mean) / std."""
  return (np.asarray(pixels, np.float32) / 255.0 - MEAN) / STD


def train_example(image, boxes: np.ndarray, labels: np.ndarray,
                  rng: np.random.Generator, *, size: int = 300,
                  max_samples: int = 1):
  """The reference training transform of one PIL image: (float32 [size,
  size, 3], boxes, labels)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  image, boxes, labels = ssd_crop(image, boxes, labels, rng, max_samples)
  image, boxes = hflip(image, boxes, rng)
  image = image.resize((size, size), Image.Resampling.BILINEAR)
  image = color_jitter(image, rng, **JITTER)
  return normalize(np.asarray(image)), boxes, labels


def eval_example(image, *, size: int = 300) -> np.ndarray:
  """The reference eval transform: resize, normalise."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  image = image.resize((size, size), Image.Resampling.BILINEAR)
  return normalize(np.asarray(image))
