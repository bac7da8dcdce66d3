# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""TF Object Detection anchors and box coding (SSD-MobileNet-v1).

The MLPerf Inference v1.x SSD-MobileNet-v1 is the TF Object Detection API
model `ssd_mobilenet_v1_coco_2018_01_28`. Its anchors come from
`anchor_generators/multiple_grid_anchor_generator.py` `create_ssd_anchors`
(num_layers 6, min_scale 0.2, max_scale 0.95, aspect ratios 1, 2, 1/2, 3,
1/3, reduce_boxes_in_lowest_layer, interpolated_scale_aspect_ratio 1.0,
base anchor size 1x1):

* scales `s_i = min + (max - min) * i / (L - 1)` for i < L, then 1.0;
* layer 0 (reduced): (0.1, 1), (s_0, 2), (s_0, 1/2);
* layer i > 0: (s_i, a) for every aspect ratio a, then
  (sqrt(s_i * s_{i+1}), 1);
* a (scale, ratio) box is `height = scale / sqrt(ratio)`,
  `width = scale * sqrt(ratio)` (square images);
* centres `(r + 0.5) / H`, `(c + 0.5) / W` (stride 1/H, offset half a
  stride), order row, column, box (`grid_anchor_generator.tile_anchors`);
* corners [ymin, xmin, ymax, xmax], not clipped.

At 300x300 the maps are 19, 10, 5, 3, 2, 1 and there are 1917 anchors.

Box coding is `box_coders/faster_rcnn_box_coder.py` with scale factors
(10, 10, 5, 5): codes [ty, tx, th, tw], `y = ty / 10 * h_a + y_a`,
`h = exp(th / 5) * h_a` (x, w alike).
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class AnchorSpec:
  """`create_ssd_anchors`' arguments (the ssd_mobilenet_v1_coco config)."""
  num_layers: int = 6
  min_scale: float = 0.2
  max_scale: float = 0.95
  aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)
  interpolated_scale_aspect_ratio: float = 1.0
  reduce_boxes_in_lowest_layer: bool = True

  def box_specs(self) -> list[list[tuple[float, float]]]:
    """Per layer, its (scale, aspect ratio) pairs in anchor order."""
    n = self.num_layers
    scales = [self.min_scale + (self.max_scale - self.min_scale) * i /
              (n - 1) for i in range(n)] + [1.0]
    layers = []
    for i in range(n):
      if i == 0 and self.reduce_boxes_in_lowest_layer:
        layers.append([(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)])
        continue
      specs = [(scales[i], a) for a in self.aspect_ratios]
      if self.interpolated_scale_aspect_ratio > 0:
        specs.append((math.sqrt(scales[i] * scales[i + 1]),
                      self.interpolated_scale_aspect_ratio))
      layers.append(specs)
    return layers

  @property
  def boxes_per_cell(self) -> tuple[int, ...]:
    return tuple(len(s) for s in self.box_specs())


SSD_MOBILENET_V1 = AnchorSpec()
# Feature maps of SSD-MobileNet-v1 at 300x300.
FEATURE_MAPS_300 = (19, 10, 5, 3, 2, 1)


def anchors(spec: AnchorSpec, feature_maps) -> np.ndarray:
  """[N, 4] float32 anchors [ymin, xmin, ymax, xmax] for the given map
  sizes (ints for square maps, or (H, W) pairs)."""
  if len(feature_maps) != spec.num_layers:
    raise ValueError(f'{len(feature_maps)} feature maps given, the anchor '
                     f'spec has {spec.num_layers} layers')
  out = []
  for shape, specs in zip(feature_maps, spec.box_specs()):
    h, w = (shape, shape) if isinstance(shape, int) else shape
    scale = np.array([s for s, _ in specs], np.float64)
    ratio = np.sqrt(np.array([a for _, a in specs], np.float64))
    bh, bw = scale / ratio, scale * ratio                    # [A]
    cy = (np.arange(h) + 0.5) / h
    cx = (np.arange(w) + 0.5) / w
    cy, cx = np.meshgrid(cy, cx, indexing='ij')              # [H, W]
    cy = np.broadcast_to(cy[..., None], (h, w, len(specs)))
    cx = np.broadcast_to(cx[..., None], (h, w, len(specs)))
    bh = np.broadcast_to(bh, (h, w, len(specs)))
    bw = np.broadcast_to(bw, (h, w, len(specs)))
    out.append(np.stack([cy - bh / 2, cx - bw / 2, cy + bh / 2, cx + bw / 2],
                        -1).reshape(-1, 4))
  return np.concatenate(out).astype(np.float32)


SCALE_FACTORS = (10.0, 10.0, 5.0, 5.0)


def decode(codes, anchor_boxes, scale_factors=SCALE_FACTORS):
  """FasterRcnnBoxCoder.decode: codes [..., N, 4] (ty, tx, th, tw) against
  anchors [N, 4] (ymin, xmin, ymax, xmax) -> boxes [..., N, 4] in the
  anchors' corner order."""
  ymin, xmin, ymax, xmax = (anchor_boxes[:, i] for i in range(4))
  ha, wa = ymax - ymin, xmax - xmin
  ya, xa = ymin + ha / 2, xmin + wa / 2
  ty, tx, th, tw = (codes[..., i] / scale_factors[i] for i in range(4))
  h, w = jnp.exp(th) * ha, jnp.exp(tw) * wa
  y, x = ty * ha + ya, tx * wa + xa
  return jnp.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], -1)
