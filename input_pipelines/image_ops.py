# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MLPerf ResNet-50 image preprocessing in numpy and PIL (no TensorFlow).

Facts from the MLPerf reference, mlcommons/training
`image_classification/tensorflow2/imagenet_preprocessing.py` (the v1.0/v1.1
reference; the v0.5 one in `image_classification/tensorflow/official/resnet`
uses the same values and logs `INPUT_CROP_USES_BBOXES = False`):

* train: `tf.image.sample_distorted_bounding_box` over the whole image with
  `min_object_covered=0.1`, `aspect_ratio_range=[0.75, 1.33]`,
  `area_range=[0.05, 1.0]`, `max_attempts=100`, and
  `use_image_if_no_bounding_boxes=True`; when no attempt succeeds the op
  returns the *whole image* (no centre-crop fallback). Then a random
  left-right flip, then a bilinear resize to 224 x 224 (no aspect preservation)
  with `tf.compat.v1.image.resize(..., align_corners=False)`, i.e. the legacy
  TF1 sampling without half-pixel centres and without antialiasing.
* eval: aspect-preserving bilinear resize so the shorter side is 256
  (`int(side * 256 / shorter_side)` in float32), central crop 224 with offsets
  `(side - 224) // 2`.
* both: subtract the channel means (123.68, 116.78, 103.94) on 0-255 pixels.
  The reference does not divide by a standard deviation.

`sample_crop_box` ports the op's algorithm (TF
`core/kernels/image/sample_distorted_bounding_box_op.cc`: aspect ratio
uniform, then the crop *height* uniform between the heights giving the minimum
and maximum area, then the offsets uniform), so with a whole-image "object" the
`min_object_covered=0.1` test also raises the effective minimum area to 0.1.
Only the random stream (numpy instead of TF's Philox) and float64 arithmetic
differ.

`INCEPTION_CROP` is the other common recipe (Google's Cloud-TPU/flax
`resnet_preprocessing`: area (0.08, 1.0), aspect (3/4, 4/3), 10 attempts,
falling back to a centre crop of 224/256 of the shorter side when the sampler
returns the whole image); it is offered for comparison and open-division runs.

Normalisation is the reference's by default: the channel means only
(`std=None`). Dividing by a standard deviation is an explicit option
(`std=STDDEV_RGB`; the ResNet workload's `input_normalization=mean_std`),
for the open division: the closed division must use the reference's
preprocessing (training_rules.adoc v1.1, "Preprocessing During the Run"),
and the rules' "Equivalence exceptions" list no normalisation change, so a
closed submission dividing by a std (as NVIDIA's MXNet ones do) needs an
exemption approved in advance. `STDDEV_RGB` (58.393, 57.12, 57.375) is the
MXNet/GluonCV convention, the `--rgb-std` default of NVIDIA's MXNet
ResNet-50 v1.5 code (next to `--rgb-mean` 123.68, 116.779, 103.939);
torchvision and Google's TPU code use 0.229 * 255 = 58.395 for red.
"""

import dataclasses
import io
from typing import Any

import numpy as np
import PIL.Image

IMAGE_SIZE = 224
# Shorter side before the eval centre crop: 224 / 0.875.
RESIZE_MIN = 256
# Centre-crop padding of the Inception-style eval/fallback crop: the crop keeps
# IMAGE_SIZE / (IMAGE_SIZE + CROP_PADDING) of the shorter side.
CROP_PADDING = 32
MEAN_RGB = (123.68, 116.78, 103.94)
STDDEV_RGB = (58.393, 57.12, 57.375)


@dataclasses.dataclass(frozen=True)
class CropConfig:
  """Parameters of the random "distorted bounding box" crop.

  Attributes:
    area_range: (min, max) crop area as a fraction of the image area.
    aspect_ratio_range: (min, max) crop width / height.
    max_attempts: samples tried before falling back.
    min_object_covered: minimum fraction of the (whole-image) object the crop
      must cover; with a whole-image object this is a minimum area fraction.
    fallback: 'whole_image' (TF op semantics, the MLPerf reference) or
      'center_crop' (Inception recipe: a centre crop of
      IMAGE_SIZE / (IMAGE_SIZE + CROP_PADDING) of the shorter side whenever
      the sampled box is the whole image).
  """
  area_range: tuple[float, float]
  aspect_ratio_range: tuple[float, float]
  max_attempts: int
  min_object_covered: float = 0.1
  fallback: str = 'whole_image'

  def __post_init__(self):
    if self.fallback not in ('whole_image', 'center_crop'):
      raise ValueError(f'Unknown crop fallback {self.fallback!r}.')
    lo, hi = self.area_range
    if not 0 < lo <= hi <= 1:
      raise ValueError(f'area_range must satisfy 0 < min <= max <= 1, got '
                       f'{self.area_range}.')
    if not 0 < self.aspect_ratio_range[0] <= self.aspect_ratio_range[1]:
      raise ValueError(f'Bad aspect_ratio_range {self.aspect_ratio_range}.')
    if self.max_attempts <= 0:
      raise ValueError('max_attempts must be positive.')


MLPERF_CROP = CropConfig(area_range=(0.05, 1.0),
                         aspect_ratio_range=(0.75, 1.33), max_attempts=100,
                         min_object_covered=0.1, fallback='whole_image')
INCEPTION_CROP = CropConfig(area_range=(0.08, 1.0),
                            aspect_ratio_range=(3 / 4, 4 / 3), max_attempts=10,
                            min_object_covered=0.1, fallback='center_crop')


def decode_image(data: Any) -> np.ndarray:
  """Returns an RGB [H, W, 3] array from encoded bytes or an image.

  Args:
    data: JPEG/PNG/... bytes (or bytearray/memoryview), a `PIL.Image.Image`,
      or an array [H, W], [H, W, 1], [H, W, 3] or [H, W, 4] (alpha dropped).

  Returns:
    uint8 [H, W, 3] for encoded and PIL input; arrays keep their dtype (values
    are taken as 0-255 pixels and never re-quantised).
  """
  if isinstance(data, (bytes, bytearray, memoryview)):
    with PIL.Image.open(io.BytesIO(bytes(data))) as img:
      # convert() also handles the grayscale and CMYK JPEGs found in ImageNet.
      return np.asarray(img.convert('RGB'))
  if isinstance(data, PIL.Image.Image):
    return np.asarray(data.convert('RGB'))
  arr = np.asarray(data)
  if arr.dtype == object and arr.ndim == 0:
    return decode_image(arr.item())
  if arr.ndim == 2:
    arr = arr[:, :, None]
  if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
    raise ValueError(f'Expected an image [H, W, 1|3|4], got {arr.shape}.')
  if arr.shape[-1] == 1:
    arr = np.repeat(arr, 3, axis=-1)
  elif arr.shape[-1] == 4:
    arr = arr[:, :, :3]
  if not (np.issubdtype(arr.dtype, np.integer) or
          np.issubdtype(arr.dtype, np.floating)):
    raise ValueError(f'Expected real pixel values, got dtype {arr.dtype}.')
  return arr


def _lrint(x: float) -> int:
  # C's lrintf under the default rounding mode: round half to even, which is
  # what Python's round() does.
  return int(round(x))


def _generate_random_crop(height: int, width: int, min_area_frac: float,
                          max_area_frac: float, aspect_ratio: float,
                          rng: np.random.Generator):
  """One attempt of TF's GenerateRandomCrop; returns (y, x, h, w) or None."""
  min_area = min_area_frac * width * height
  max_area = max_area_frac * width * height
  crop_h = _lrint(np.sqrt(min_area / aspect_ratio))
  max_h = _lrint(np.sqrt(max_area / aspect_ratio))
  if _lrint(max_h * aspect_ratio) > width:
    # Largest height whose rounded width still fits.
    max_h = int((width + 0.5 - 1e-7) / aspect_ratio)
    if _lrint(max_h * aspect_ratio) > width:
      max_h -= 1
  max_h = min(max_h, height)
  crop_h = min(crop_h, max_h)
  if crop_h < max_h:
    crop_h += int(rng.integers(0, max_h - crop_h + 1))
  crop_w = _lrint(crop_h * aspect_ratio)
  # Nudge once in each direction to absorb rounding, as TF does.
  area = crop_w * crop_h
  if area < min_area:
    crop_h += 1
    crop_w = _lrint(crop_h * aspect_ratio)
    area = crop_w * crop_h
  if area > max_area:
    crop_h -= 1
    crop_w = _lrint(crop_h * aspect_ratio)
    area = crop_w * crop_h
  if (area < min_area or area > max_area or crop_w > width or
      crop_h > height or crop_w <= 0 or crop_h <= 0):
    return None
  # TF draws offsets in [0, side - size): the last offset is never chosen.
  y = int(rng.integers(0, height - crop_h)) if crop_h < height else 0
  x = int(rng.integers(0, width - crop_w)) if crop_w < width else 0
  return y, x, crop_h, crop_w


def center_crop_box(height: int, width: int, image_size: int = IMAGE_SIZE,
                    crop_padding: int = CROP_PADDING
                    ) -> tuple[int, int, int, int]:
  """Centre square crop box of the Inception recipe: (y, x, size, size)."""
  size = int(image_size / (image_size + crop_padding) * min(height, width))
  size = max(size, 1)
  return (height - size + 1) // 2, (width - size + 1) // 2, size, size


def sample_crop_box(height: int, width: int, rng: np.random.Generator,
                    crop: CropConfig = MLPERF_CROP
                    ) -> tuple[int, int, int, int]:
  """Samples a training crop box `(y, x, h, w)` of an image of that size.

  Args:
    height: image height in pixels.
    width: image width in pixels.
    rng: random generator.
    crop: crop parameters (default: the MLPerf reference's).

  Returns:
    Offsets and size of the crop, inside the image.
  """
  lo_ar, hi_ar = crop.aspect_ratio_range
  image_area = float(height * width)
  for _ in range(crop.max_attempts):
    aspect_ratio = float(rng.random()) * (hi_ar - lo_ar) + lo_ar
    box = _generate_random_crop(height, width, crop.area_range[0],
                                crop.area_range[1], aspect_ratio, rng)
    # The overlap test of the op against the whole-image object.
    if (box is not None and box[2] * box[3] >= 1 and
        box[2] * box[3] / image_area >= crop.min_object_covered):
      break
  else:
    box = (0, 0, height, width)
  if crop.fallback == 'center_crop' and box[2:] == (height, width):
    # Inception recipe: its "bad crop" test compares the crop's shape with the
    # image's, so a drawn whole-image crop also falls back.
    return center_crop_box(height, width)
  return box


def _resize_coords(in_size: int, out_size: int, start: int = 0,
                   count: int | None = None):
  """Source rows for output rows [start, start+count) of a TF1 bilinear resize.

  TF1 `resize_bilinear(align_corners=False, half_pixel_centers=False)` maps
  output pixel `o` to source coordinate `o * in_size / out_size`.
  """
  count = out_size - start if count is None else count
  scale = np.float32(in_size) / np.float32(out_size)
  src = np.arange(start, start + count, dtype=np.float32) * scale
  lo = np.floor(src).astype(np.int64)
  frac = (src - lo).astype(np.float32)
  lo = np.minimum(lo, in_size - 1)
  hi = np.minimum(lo + 1, in_size - 1)
  return lo, hi, frac


def resize_bilinear(image: np.ndarray, out_height: int, out_width: int, *,
                    window: tuple[int, int, int, int] | None = None
                    ) -> np.ndarray:
  """Bilinear resize with TF1 legacy sampling (the MLPerf reference's), float32.

  Args:
    image: [H, W, C] array (any real dtype).
    out_height: resized height.
    out_width: resized width.
    window: optional `(top, left, h, w)` sub-window of the resized image to
      compute; only those output pixels are evaluated (resize-then-crop at the
      cost of the crop).

  Returns:
    float32 [h, w, C] (the window, or the whole resized image).
  """
  top, left, h, w = window or (0, 0, out_height, out_width)
  if (top < 0 or left < 0 or top + h > out_height or left + w > out_width or
      h <= 0 or w <= 0):
    raise ValueError(f'Window {window} outside {out_height}x{out_width}.')
  in_h, in_w = image.shape[:2]
  y0, y1, fy = _resize_coords(in_h, out_height, top, h)
  x0, x1, fx = _resize_coords(in_w, out_width, left, w)
  # Separable: rows first (only the needed source rows), then columns.
  top_rows = image[y0].astype(np.float32)
  bottom_rows = image[y1].astype(np.float32)
  rows = top_rows + (bottom_rows - top_rows) * fy[:, None, None]
  left_cols = rows[:, x0]
  right_cols = rows[:, x1]
  return left_cols + (right_cols - left_cols) * fx[None, :, None]


def normalize(image: np.ndarray, mean=MEAN_RGB, std=None) -> np.ndarray:
  """Per-channel `x - mean` (and `/ std` when given) on 0-255 pixels, float32.

  Args:
    image: [..., C] array of 0-255 values.
    mean: per-channel means (None: no subtraction).
    std: per-channel standard deviations (None: no division, as the MLPerf
      reference).

  Returns:
    float32 array of the same shape.
  """
  out = np.asarray(image, dtype=np.float32)
  if mean is not None:
    out = out - np.asarray(mean, np.float32)
  if std is not None:
    out = out * (1.0 / np.asarray(std, np.float32))
  return out.astype(np.float32, copy=False)


def preprocess_for_train(image: Any, rng: np.random.Generator, *,
                         image_size: int = IMAGE_SIZE,
                         crop: CropConfig = MLPERF_CROP, mean=MEAN_RGB,
                         std=None) -> np.ndarray:
  """Random crop, random flip, resize, normalise: float32 [S, S, 3].

  Follows the reference's order: crop, flip the crop, then resize (the TF1
  sampling is not mirror-symmetric, so the order matters at the pixel level).

  Args:
    image: encoded bytes or an image array (see `decode_image`).
    rng: random generator for the crop and the flip.
    image_size: output side.
    crop: crop parameters.
    mean: channel means (None to skip).
    std: channel standard deviations (None, the reference: no division).

  Returns:
    float32 [image_size, image_size, 3].
  """
  pixels = decode_image(image)
  y, x, h, w = sample_crop_box(pixels.shape[0], pixels.shape[1], rng, crop)
  pixels = pixels[y:y + h, x:x + w]
  if rng.random() < 0.5:
    pixels = pixels[:, ::-1]
  resized = resize_bilinear(pixels, image_size, image_size)
  return normalize(resized, mean, std)


def eval_resize_shape(height: int, width: int,
                      resize_min: int = RESIZE_MIN) -> tuple[int, int]:
  """Aspect-preserving size with shorter side `resize_min` (reference math)."""
  # float32 and truncation, as the reference's _smallest_size_at_least.
  scale = np.float32(resize_min) / np.float32(min(height, width))
  return (int(np.float32(height) * scale), int(np.float32(width) * scale))


def preprocess_for_eval(image: Any, *, image_size: int = IMAGE_SIZE,
                        resize_min: int = RESIZE_MIN, mean=MEAN_RGB,
                        std=None) -> np.ndarray:
  """Resize the shorter side to `resize_min`, centre-crop, normalise.

  Args:
    image: encoded bytes or an image array (see `decode_image`).
    image_size: output side (the centre crop).
    resize_min: shorter side after the aspect-preserving resize.
    mean: channel means (None to skip).
    std: channel standard deviations (None, the reference: no division).

  Returns:
    float32 [image_size, image_size, 3].
  """
  if resize_min < image_size:
    raise ValueError(f'resize_min ({resize_min}) must be >= image_size '
                     f'({image_size}).')
  pixels = decode_image(image)
  new_h, new_w = eval_resize_shape(pixels.shape[0], pixels.shape[1],
                                   resize_min)
  top, left = (new_h - image_size) // 2, (new_w - image_size) // 2
  cropped = resize_bilinear(pixels, new_h, new_w,
                            window=(top, left, image_size, image_size))
  return normalize(cropped, mean, std)
