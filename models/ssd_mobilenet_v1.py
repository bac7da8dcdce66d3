# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD-MobileNet-v1, the MLPerf Inference v1.x edge detector (300x300, COCO).

The reference is the TF Object Detection API model
`ssd_mobilenet_v1_coco_2018_01_28` (mlcommons/inference
`vision/classification_and_detection`, FP32 mAP 0.22; the closed target is
99 % of it). Its config `ssd_mobilenet_v1_coco.config` and code:

* feature extractor `ssd_mobilenet_v1` (`mobilenet_v1.py`), depth
  multiplier 1.0, min depth 16: `Conv2d_0` 3x3/2 to 32, then 13
  depthwise-separable blocks `Conv2d_k_depthwise` (3x3 depthwise) +
  `Conv2d_k_pointwise` (1x1) to 64, 128/2, 128, 256/2, 256, 512/2, 512 x5,
  1024/2, 1024; every conv without bias, then BatchNorm (scale and centre,
  epsilon 1e-3, decay 0.9997) and ReLU6, TF 'SAME' padding;
* feature maps (`feature_map_generators.multi_resolution_feature_maps`):
  `Conv2d_11_pointwise` (19x19), `Conv2d_13_pointwise` (10x10), then four
  new layers of depth 512, 256, 256, 128, each a 1x1 conv to half the depth
  (`Conv2d_13_pointwise_1_Conv2d_{i}_1x1_{d/2}`) and a 3x3/2 conv
  (`Conv2d_13_pointwise_2_Conv2d_{i}_3x3_s2_{d}`), with BN and ReLU6:
  5x5, 3x3, 2x2, 1x1;
* `ConvolutionalBoxPredictor` per map (`BoxPredictor_k`), kernel 1x1, no
  layers before the predictor: `BoxEncodingPredictor` (A * 4 channels) and
  `ClassPredictor` (A * 91), both with bias and no BN; channel `a * w + j`
  is value `j` of anchor `a` (TF reshapes [B, H, W, A * w] to
  [B, H * W * A, w]), so the anchor index is (row, column, anchor);
* anchors and box coder: `models/grid_anchors.py` (1917 anchors);
* post-processing: sigmoid scores, the background column dropped, per-class
  NMS at IoU 0.6, 100 detections per class and 100 in all, boxes clipped
  to the image. The score threshold is that of the tarball's
  `pipeline.config`, from which its frozen graph (the one MLPerf serves)
  was exported: 0.3 (the repository's sample config says 1e-8, for its
  COCO eval); `score_threshold` in the config. The class index 1..90 is the
  COCO category id (the TF label map uses the COCO ids, gaps included), so
  no inverse map is needed when scoring.

Inputs are NHWC float images scaled to [-1, 1] (`preprocess`: the frozen
graph's `(2 / 255) * x - 1` after its 300x300 resize).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mlperf_jax.models import grid_anchors
from mlperf_jax.models import nms

CONV_AXES = ('conv_h', 'conv_w', 'conv_in', 'conv_out')
NORM_AXES = ('conv_out',)
LOGICAL_AXIS_RULES: tuple[tuple[str, str | None], ...] = (
    ('conv_h', None), ('conv_w', None), ('conv_in', None), ('conv_out', None))

# MobileNet-v1's depthwise-separable blocks 1..13: (stride, pointwise depth).
MOBILENET_V1_BLOCKS = ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256),
                       (2, 512), (1, 512), (1, 512), (1, 512), (1, 512),
                       (1, 512), (2, 1024), (1, 1024))
# The layers whose outputs feed the box predictors, then the new layers'
# depths (`layer_depth` [-1, -1, 512, 256, 256, 128]).
FROM_LAYERS = ('Conv2d_11_pointwise', 'Conv2d_13_pointwise')
EXTRA_DEPTHS = (512, 256, 256, 128)


@dataclasses.dataclass(frozen=True)
class SSDMobileNetConfig:
  """Architecture of an SSD-MobileNet-v1.

  Attributes:
    num_classes: class outputs per anchor, background (0) included (91).
    image_size: input side in pixels (300).
    depth_multiplier / min_depth: MobileNet's width scaling (1.0, 16).
    anchors: the anchor generator's spec.
    bn_epsilon: BatchNorm epsilon (1e-3) and momentum (decay 0.9997).
    score_threshold: detections need a sigmoid score above it (0.3).
    dtype: compute dtype.
  """
  num_classes: int = 91
  image_size: int = 300
  depth_multiplier: float = 1.0
  min_depth: int = 16
  anchors: grid_anchors.AnchorSpec = grid_anchors.SSD_MOBILENET_V1
  bn_epsilon: float = 1e-3
  bn_momentum: float = 0.9997
  score_threshold: float = 0.3
  dtype: Any = jnp.float32

  def depth(self, d: int) -> int:
    return max(int(d * self.depth_multiplier), self.min_depth)

  @property
  def feature_maps(self) -> tuple[int, ...]:
    """Map sides at the predictors ('SAME' padding: ceil(side / stride))."""
    side = math.ceil(self.image_size / 2)                   # Conv2d_0
    sides = []
    for k, (stride, _) in enumerate(MOBILENET_V1_BLOCKS, start=1):
      side = math.ceil(side / stride)
      if f'Conv2d_{k}_pointwise' in FROM_LAYERS:
        sides.append(side)
    for _ in EXTRA_DEPTHS:
      side = math.ceil(side / 2)
      sides.append(side)
    return tuple(sides)

  @property
  def num_anchors(self) -> int:
    return sum(f * f * a for f, a in zip(self.feature_maps,
                                         self.anchors.boxes_per_cell))


def reference_config(**overrides) -> SSDMobileNetConfig:
  """`ssd_mobilenet_v1_coco_2018_01_28`: 300x300, 91 classes, 1917 anchors."""
  return SSDMobileNetConfig(**overrides)


def extra_layer_names(cfg: SSDMobileNetConfig) -> list[tuple[str, str]]:
  """The TF scopes of the new layers: (1x1 name, 3x3/2 name) per layer."""
  base = FROM_LAYERS[-1]
  out = []
  for i, d in enumerate(EXTRA_DEPTHS, start=len(FROM_LAYERS)):
    out.append((f'{base}_1_Conv2d_{i}_1x1_{cfg.depth(d // 2)}',
                f'{base}_2_Conv2d_{i}_3x3_s2_{cfg.depth(d)}'))
  return out


class ConvBN(nn.Module):
  """Conv (no bias; depthwise when `depthwise`), BatchNorm, ReLU6 (one TF
  slim scope: `weights` or `depthwise_weights`, `BatchNorm/*`)."""
  cfg: SSDMobileNetConfig
  features: int
  kernel: int
  stride: int = 1
  depthwise: bool = False

  @nn.compact
  def __call__(self, x, train: bool):
    cfg = self.cfg
    groups = x.shape[-1] if self.depthwise else 1
    x = nn.Conv(
        self.features, (self.kernel, self.kernel), strides=self.stride,
        padding='SAME', feature_group_count=groups, use_bias=False,
        dtype=cfg.dtype, param_dtype=jnp.float32,
        kernel_init=nn.with_logical_partitioning(
            nn.initializers.truncated_normal(0.03), CONV_AXES),
        name='conv')(x)
    x = nn.BatchNorm(
        use_running_average=not train, momentum=cfg.bn_momentum,
        epsilon=cfg.bn_epsilon, dtype=cfg.dtype, param_dtype=jnp.float32,
        scale_init=nn.with_logical_partitioning(nn.initializers.ones,
                                                NORM_AXES),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros,
                                               NORM_AXES),
        name='BatchNorm')(x)
    return jnp.clip(x, 0.0, 6.0)


def _predictor(cfg: SSDMobileNetConfig, features: int, name: str):
  return nn.Conv(
      features, (1, 1), dtype=cfg.dtype, param_dtype=jnp.float32,
      kernel_init=nn.with_logical_partitioning(
          nn.initializers.truncated_normal(0.03), CONV_AXES),
      bias_init=nn.with_logical_partitioning(nn.initializers.zeros,
                                             ('conv_out',)),
      name=name)


class BoxPredictor(nn.Module):
  """One map's `ConvolutionalBoxPredictor` (kernel 1, no extra layers)."""
  cfg: SSDMobileNetConfig
  anchors_per_cell: int

  @nn.compact
  def __call__(self, x):
    b, h, w, _ = x.shape
    a, c = self.anchors_per_cell, self.cfg.num_classes
    box = _predictor(self.cfg, a * 4, 'BoxEncodingPredictor')(x)
    cls = _predictor(self.cfg, a * c, 'ClassPredictor')(x)
    return box.reshape(b, h * w * a, 4), cls.reshape(b, h * w * a, c)


class SSDMobileNetV1(nn.Module):
  """NHWC images in [-1, 1] -> (box codes [B, N, 4] as [ty, tx, th, tw],
  class logits [B, N, num_classes]), float32, TF anchor order."""
  cfg: SSDMobileNetConfig

  @nn.compact
  def __call__(self, x, train: bool = False):
    cfg = self.cfg
    x = x.astype(cfg.dtype)
    x = ConvBN(cfg, cfg.depth(32), 3, 2, name='Conv2d_0')(x, train)
    feats = []
    for k, (stride, d) in enumerate(MOBILENET_V1_BLOCKS, start=1):
      x = ConvBN(cfg, x.shape[-1], 3, stride, depthwise=True,
                 name=f'Conv2d_{k}_depthwise')(x, train)
      x = ConvBN(cfg, cfg.depth(d), 1, name=f'Conv2d_{k}_pointwise')(x, train)
      if f'Conv2d_{k}_pointwise' in FROM_LAYERS:
        feats.append(x)
    for (name1, name3), d in zip(extra_layer_names(cfg), EXTRA_DEPTHS):
      x = ConvBN(cfg, cfg.depth(d // 2), 1, name=name1)(x, train)
      x = ConvBN(cfg, cfg.depth(d), 3, 2, name=name3)(x, train)
      feats.append(x)
    sides = tuple(f.shape[1] for f in feats)
    if sides != cfg.feature_maps:
      raise ValueError(f'SSD-MobileNet feature maps {sides} do not match the '
                       f'config\'s {cfg.feature_maps} (image size '
                       f'{cfg.image_size}, input {x.shape})')
    boxes, logits = [], []
    for k, (f, a) in enumerate(zip(feats, cfg.anchors.boxes_per_cell)):
      box, cls = BoxPredictor(cfg, a, name=f'BoxPredictor_{k}')(f)
      boxes.append(box)
      logits.append(cls)
    return (jnp.concatenate(boxes, 1).astype(jnp.float32),
            jnp.concatenate(logits, 1).astype(jnp.float32))


def anchor_table(cfg: SSDMobileNetConfig) -> np.ndarray:
  """[N, 4] anchors [ymin, xmin, ymax, xmax] of `cfg`."""
  return grid_anchors.anchors(cfg.anchors, cfg.feature_maps)


def param_count(params) -> int:
  return sum(math.prod(p.shape) for p in jax.tree.leaves(nn.unbox(params)))


def preprocess(image_uint8: np.ndarray) -> np.ndarray:
  """A [H, W, 3] uint8 RGB image already resized to the model's size ->
  float32 in [-1, 1] (the graph's `(2 / 255) * x - 1`)."""
  return (np.asarray(image_uint8, np.float32) * (2.0 / 255.0) - 1.0)


def postprocess(box_codes, logits, anchors, *, iou_threshold: float = 0.6,
                score_threshold: float = 0.3, candidates_per_class: int = 200,
                max_total: int = 100) -> nms.Detections:
  """The reference post-processing: decode, sigmoid, scores above
  `score_threshold`, per-class NMS (IoU 0.6), the best 100 over classes,
  boxes clipped to [0, 1].

  Returns `nms.Detections` with boxes as [xmin, ymin, xmax, ymax] (the
  project's ltrb, as the SSD-ResNet-34 serving encodes them) and classes
  1..90 (COCO ids). TF runs NMS over every box above the threshold; here
  each class's `candidates_per_class` best boxes enter NMS (a fixed shape;
  the TF per-class cap of 100 never binds when 100 are kept in all).
  """
  yxyx = grid_anchors.decode(box_codes, jnp.asarray(anchors))
  ltrb = yxyx[..., jnp.array([1, 0, 3, 2])]
  scores = jax.nn.sigmoid(logits)
  det = nms.batched_nms(ltrb, scores, score_threshold=score_threshold,
                        iou_threshold=iou_threshold,
                        max_per_class=candidates_per_class,
                        max_total=max_total, background_class=0)
  return det._replace(boxes=jnp.where(det.valid[..., None],
                                      jnp.clip(det.boxes, 0.0, 1.0), 0.0))
