# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Sliding-window inference over whole volumes, as the reference evaluates.

mlcommons/training `image_segmentation/pytorch/runtime/inference.py`
(`sliding_window_inference`, mode 'gaussian'), split into a host-side plan
and a host-side aggregation so the device only ever runs fixed-shape batches
of windows (one executable per window batch shape, whatever the volumes'
shapes):

1. strides = int(roi * (1 - overlap)); each axis whose remainder modulo the
   stride is below half a stride is trimmed by it (floor half at the start);
2. the trimmed volume is padded with `pad_value` (-2.2) up to a stride
   multiple that is at least one roi (floor half of the padding at the
   start);
3. windows start at every stride multiple that fits, in (d, h, w) order;
4. each window's logits times the importance map are summed into the padded
   volume, as are the maps themselves; the sum is divided by the map sum
   and cropped back to the trimmed volume, on which labels are scored.

The importance map is cbrt(g (x) g (x) g) normalised to max 1, with
g = `scipy.signal.windows.gaussian(roi, 0.125 * roi)` (the reference calls
`scipy.signal.gaussian`, removed from SciPy). The reference crops with the
untrimmed shape (`image_shape[i] + paddings`), which equals the trimmed one
whenever the label shapes agree, i.e. whenever the reference runs.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from scipy.signal import windows

PAD_VALUE = -2.2


@functools.lru_cache(maxsize=8)
def gaussian_importance(roi: int) -> np.ndarray:
  """float32 [roi]^3: cbrt of the outer product of three Gaussians, max 1."""
  g = windows.gaussian(roi, 0.125 * roi)
  g3 = np.cbrt(np.einsum('i,j,k->ijk', g, g, g))
  g3 = (g3 / g3.max()).astype(np.float32)
  g3.flags.writeable = False
  return g3


@dataclasses.dataclass(frozen=True)
class WindowPlan:
  """Where the windows of one volume lie.

  Attributes:
    shape: the volume's shape (D, H, W).
    roi: window side.
    trim: per axis, (start, stop) of the trimmed volume in the original.
    pad: per axis, (before, after) padding of the trimmed volume.
    origins: window corners in the padded volume, [n, 3] int, in the
      reference's loop order.
  """
  shape: tuple[int, int, int]
  roi: int
  trim: tuple[tuple[int, int], ...]
  pad: tuple[tuple[int, int], ...]
  origins: np.ndarray

  @property
  def trimmed_shape(self) -> tuple[int, ...]:
    return tuple(hi - lo for lo, hi in self.trim)

  @property
  def padded_shape(self) -> tuple[int, ...]:
    return tuple(t + a + b for t, (a, b) in zip(self.trimmed_shape, self.pad))

  def padded_image(self, image: np.ndarray, pad_value: float = PAD_VALUE
                   ) -> np.ndarray:
    """The trimmed, padded volume ([D, H, W] or with trailing channels)."""
    sl = tuple(slice(lo, hi) for lo, hi in self.trim)
    extra = ((0, 0),) * (image.ndim - 3)
    return np.pad(image[sl], tuple(self.pad) + extra,
                  constant_values=pad_value)

  def trimmed(self, volume: np.ndarray) -> np.ndarray:
    """The trimmed region of `volume` (e.g. the label scored against)."""
    return volume[tuple(slice(lo, hi) for lo, hi in self.trim)]


def plan_windows(shape, roi: int, overlap: float) -> WindowPlan:
  """The reference's trim, padding and window corners for one volume."""
  shape = tuple(int(s) for s in shape)
  stride = int(roi * (1 - overlap))
  if stride < 1:
    raise ValueError(f'overlap {overlap} leaves no stride for roi {roi}')
  trim, pad, counts = [], [], []
  for s in shape:
    b = s % stride
    b = b if b < stride // 2 else 0
    lo, hi = b // 2, s - (b - b // 2)
    trim.append((lo, hi))
    t = hi - lo
    p = (stride - t % stride) % stride
    if t + p < roi:
      p += stride
    pad.append((p // 2, p - p // 2))
    counts.append((t + p - roi) // stride + 1)
  grids = np.meshgrid(*[np.arange(c) * stride for c in counts], indexing='ij')
  origins = np.stack([g.reshape(-1) for g in grids], axis=1).astype(np.int64)
  return WindowPlan(shape=shape, roi=roi, trim=tuple(trim), pad=tuple(pad),
                    origins=origins)


def crop_window(padded: np.ndarray, origin, roi: int) -> np.ndarray:
  d, h, w = (int(o) for o in origin)
  return padded[d:d + roi, h:h + roi, w:w + roi]


class VolumeAggregator:
  """Sums importance-weighted window logits of one volume (see module doc).

  With `weighted`, `add` receives logits already multiplied by the
  importance map (the eval step does it on the device).
  """

  def __init__(self, plan: WindowPlan, num_classes: int,
               weighted: bool = False):
    self.plan = plan
    self.weighted = weighted
    self.result = np.zeros(plan.padded_shape + (num_classes,), np.float32)
    self.norm = np.zeros(plan.padded_shape, np.float32)
    self.seen = 0

  def add(self, origin, logits: np.ndarray) -> None:
    """Adds one window's logits ([roi]^3 x classes) times the map."""
    r = self.plan.roi
    imp = gaussian_importance(r)
    d, h, w = (int(o) for o in origin)
    self.result[d:d + r, h:h + r, w:w + r] += (
        logits if self.weighted else logits * imp[..., None])
    self.norm[d:d + r, h:h + r, w:w + r] += imp
    self.seen += 1

  @property
  def complete(self) -> bool:
    return self.seen == len(self.plan.origins)

  def logits(self) -> np.ndarray:
    """The averaged logits over the trimmed volume [D', H', W', classes]."""
    out = self.result / self.norm[..., None]
    sl = tuple(slice(a, a + t) for (a, _), t in
               zip(self.plan.pad, self.plan.trimmed_shape))
    return out[sl]


def sliding_window_logits(predict, image: np.ndarray, roi: int,
                          overlap: float, num_classes: int,
                          batch: int = 1, pad_value: float = PAD_VALUE
                          ) -> tuple[np.ndarray, WindowPlan]:
  """Whole-volume inference: `predict(windows [n, roi^3, 1]) -> logits` run
  over batches of `batch` windows (the last one padded). Returns the averaged
  logits over the trimmed volume and the plan."""
  plan = plan_windows(image.shape[:3], roi, overlap)
  padded = plan.padded_image(image, pad_value)
  agg = VolumeAggregator(plan, num_classes)
  origins = plan.origins
  for i in range(0, len(origins), batch):
    chunk = origins[i:i + batch]
    wins = np.stack([crop_window(padded, o, roi) for o in chunk])
    wins = np.concatenate([wins, np.repeat(wins[-1:], batch - len(chunk), 0)])
    logits = np.asarray(predict(wins[..., None] if wins.ndim == 4 else wins))
    for o, lg in zip(chunk, logits):
      agg.add(o, lg)
  return agg.logits(), plan


def volumes_logits(predict, images, roi: int, overlap: float,
                   num_classes: int, batch: int, *, weighted: bool = False,
                   pad_value: float = PAD_VALUE
                   ) -> list[tuple[np.ndarray, WindowPlan]]:
  """`sliding_window_logits` of several volumes (of any shapes) at once:
  their windows, in volume then plan order, run in batches of `batch`
  (the last one padded with `pad_value` windows), so a batch may hold the
  windows of two volumes. With `weighted`, `predict` returns logits
  already times the importance map (as the eval step does). Batches are
  dispatched one ahead of the host-side aggregation. Returns, per volume,
  the averaged logits over its trimmed volume and its plan."""
  plans = [plan_windows(np.shape(x)[:3], roi, overlap) for x in images]
  padded = [p.padded_image(np.asarray(x, np.float32), pad_value)
            for p, x in zip(plans, images)]
  aggs = [VolumeAggregator(p, num_classes, weighted=weighted) for p in plans]
  items = [(k, o) for k, p in enumerate(plans) for o in p.origins]
  blank = np.full((roi,) * 3, pad_value, np.float32)

  def launch(chunk):
    wins = [crop_window(padded[k], o, roi) for k, o in chunk]
    wins += [blank] * (batch - len(chunk))
    return chunk, predict(np.stack(wins)[..., None])

  def finish(chunk, out):
    for (k, o), lg in zip(chunk, np.asarray(out)):
      aggs[k].add(o, lg)

  in_flight = None
  for start in range(0, len(items), batch):
    nxt = launch(items[start:start + batch])
    if in_flight is not None:
      finish(*in_flight)
    in_flight = nxt
  if in_flight is not None:
    finish(*in_flight)
  return [(a.logits(), a.plan) for a in aggs]
