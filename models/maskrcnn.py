# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mask R-CNN (ResNet-50-FPN) for MLPerf Training object detection, in Flax.

Reference: mlcommons/training `object_detection/pytorch` (maskrcnn-benchmark),
config `configs/e2e_mask_rcnn_R_50_FPN_1x.yaml` over
`maskrcnn_benchmark/config/defaults.py`. Layout is NHWC.

* Backbone (`modeling/backbone/resnet.py`): ResNet-50 with
  `STRIDE_IN_1X1 = True` (a downsampling bottleneck's stride sits on its
  first 1x1 conv), convs without bias, `FrozenBatchNorm2d` after each
  (`y = x * w / sqrt(var) + (b - mean * w / sqrt(var))`, no epsilon, fixed
  buffers from the ImageNet checkpoint), `FREEZE_CONV_BODY_AT = 2`: the stem
  and res2 weights are not trained. Frozen weights live in the `frozen`
  collection, norm buffers in `frozen_bn`, so `params` holds exactly the
  trainable tensors (44,125,173); with the frozen ones 44,347,573, the
  reference's `sum(p.numel() for p in model.parameters())`.
* FPN (`modeling/backbone/fpn.py`): 1x1 inner and 3x3 output convs with bias
  (kaiming-uniform `a=1`, bias 0), nearest 2x top-down upsampling, P6 by a
  stride-2 1x1 max-pool of P5 (`LastLevelMaxPool`).
* RPN head (`modeling/rpn/rpn.py`): shared 3x3 conv + ReLU, 1x1 objectness
  (A) and deltas (4A), N(0, 0.01) weights, bias 0.
* Box head (`roi_box_feature_extractors.py` `FPN2MLPFeatureExtractor`,
  `roi_box_predictors.py` `FPNPredictor`): 7x7 ROIAlign, fc6/fc7 1024 + ReLU
  (kaiming-uniform `a=1`), class scores N(0, 0.01), class-specific deltas
  N(0, 0.001). The flatten is NHWC (the reference flattens NCHW; only the
  order of fc6's rows differs, which no imported checkpoint constrains).
* Mask head (`roi_mask_feature_extractors.py`, `roi_mask_predictors.py`):
  14x14 ROIAlign, four 3x3 convs + ReLU, a 2x2 stride-2 transposed conv + ReLU
  and a 1x1 conv to the classes (kaiming-normal fan-out, bias 0).

The whole forward pass of training, with targets and losses, and of
inference, with post-processing, is `MaskRCNN.__call__`; the non-learned
parts are in `maskrcnn_targets` and `roi_align`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mlperf_jax.models import maskrcnn_targets as tg
from mlperf_jax.models import roi_align as ra

# Every parameter replicated (data parallelism, as the reference's DDP).
LOGICAL_AXIS_RULES: tuple[tuple[str, str | None], ...] = (
    ('conv_h', None), ('conv_w', None), ('conv_in', None), ('conv_out', None),
    ('embed', None), ('mlp', None))
_CONV_AXES = ('conv_h', 'conv_w', 'conv_in', 'conv_out')
_BIAS_AXES = ('conv_out',)
_DENSE_AXES = ('embed', 'mlp')

# maskrcnn-benchmark initialisers. kaiming_uniform_(a=1): U(+-sqrt(3/fan_in)).
_KAIMING_A1 = nn.initializers.variance_scaling(1.0, 'fan_in', 'uniform')
# kaiming_normal_(mode='fan_out', nonlinearity='relu'): N(0, 2 / fan_out).
_KAIMING_OUT = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


@dataclasses.dataclass(frozen=True)
class MaskRCNNConfig:
  """Architecture and the fixed (non-logged) detection constants.

  Attributes:
    stage_sizes: bottleneck units per ResNet stage (the FPN uses them all).
    width: inner width of the first stage (output 4x), doubling per stage.
    stem: 'imagenet' (7x7/2 conv + 3x3/2 max-pool) or 'small' (3x3/2 conv +
      3x3/2 max-pool): both give stride 4 at the first stage.
    norm: 'frozen_bn' (reference) or 'group' (trainable GroupNorm, 8 groups:
      the mini trains its backbone from scratch).
    frozen_stages: 2 freezes the stem and the first stage (reference), 0
      trains everything.
    fpn_channels: FPN width.
    extra_p6: add P6 by max-pooling the last level (reference).
    anchor_sizes / anchor_strides / aspect_ratios: one size per level.
    rpn_*: RPN matcher, sampler, proposal counts and NMS threshold.
    roi_*: RoI matcher and sampler; box_* the box head; mask_* the mask head.
    roi_align_impl: `roi_align.roi_align`'s `impl` ('matmul' for small maps).
    test_*: inference post-processing.
    dtype: compute dtype; parameters stay float32.
  """
  stage_sizes: tuple[int, ...] = (3, 4, 6, 3)
  width: int = 64
  stem: str = 'imagenet'
  norm: str = 'frozen_bn'
  frozen_stages: int = 2
  fpn_channels: int = 256
  extra_p6: bool = True
  anchor_sizes: tuple[float, ...] = (32, 64, 128, 256, 512)
  anchor_strides: tuple[int, ...] = (4, 8, 16, 32, 64)
  aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
  rpn_fg_iou: float = 0.7
  rpn_bg_iou: float = 0.3
  rpn_batch_per_image: int = 256
  rpn_positive_fraction: float = 0.5
  rpn_pre_nms_train: int = 2000
  rpn_pre_nms_test: int = 1000
  rpn_post_nms_test: int = 1000
  rpn_nms: float = 0.7
  rpn_beta: float = 1.0 / 9
  roi_fg_iou: float = 0.5
  roi_batch_per_image: int = 512
  roi_positive_fraction: float = 0.25
  box_pool: int = 7
  box_fc: int = 1024
  num_classes: int = 81
  box_weights: tuple[float, ...] = (10.0, 10.0, 5.0, 5.0)
  sampling_ratio: int = 2
  roi_align_impl: str = 'gather'
  canonical_scale: float = 224.0
  canonical_level: int = 4
  mask_pool: int = 14
  mask_convs: tuple[int, ...] = (256, 256, 256, 256)
  mask_resolution: int = 28
  test_score: float = 0.05
  test_nms: float = 0.5
  test_detections: int = 100
  dtype: Any = jnp.float32

  @property
  def num_anchors(self) -> int:
    return len(self.aspect_ratios)

  @property
  def pooler_scales(self) -> tuple[float, ...]:
    """RoI pooling levels: the backbone's (not P6), 1/4 to 1/32."""
    return tuple(1.0 / s for s in self.anchor_strides[:len(self.stage_sizes)])

  @property
  def mask_positives(self) -> int:
    """Mask-head slots per image: the sampler's most positives."""
    return int(self.roi_batch_per_image * self.roi_positive_fraction)


def reference_config(**overrides) -> MaskRCNNConfig:
  """`e2e_mask_rcnn_R_50_FPN_1x`: 44,347,573 parameters, 44,125,173 trained."""
  return MaskRCNNConfig(**overrides)


def mini_config(**overrides) -> MaskRCNNConfig:
  """The mini: a one-unit-per-stage ResNet with three FPN levels (strides 4,
  8, 16) on 64x64 digit canvases; same RPN, RoI and mask-head structure.
  32 RoIs per image (8 positive slots for at most 3 digits): the RoI heads
  dominate a CPU step, which 64 RoIs made 2.2x slower."""
  cfg = dict(
      stage_sizes=(1, 1, 1), width=16, stem='small', norm='group',
      frozen_stages=0, fpn_channels=64, extra_p6=False,
      anchor_sizes=(16, 32, 64), anchor_strides=(4, 8, 16),
      rpn_pre_nms_train=300, rpn_pre_nms_test=150, rpn_post_nms_test=100,
      roi_batch_per_image=32, box_fc=256, num_classes=11,
      roi_align_impl='matmul',
      mask_convs=(32, 32), test_detections=20)
  cfg.update(overrides)
  return MaskRCNNConfig(**cfg)


# ---- layers -----------------------------------------------------------------

class Conv(nn.Module):
  """A conv whose kernel is trainable (`params`) or frozen (`frozen`)."""
  features: int
  kernel: int
  stride: int = 1
  use_bias: bool = False
  frozen: bool = False
  init: Any = _KAIMING_A1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    shape = (self.kernel, self.kernel, x.shape[-1], self.features)
    if self.frozen:
      w = self.variable('frozen', 'kernel',
                        lambda: self.init(self.make_rng('params'), shape)
                        ).value
    else:
      w = self.param('kernel', nn.with_logical_partitioning(
          self.init, _CONV_AXES), shape)
    pad = self.kernel // 2
    y = jax.lax.conv_general_dilated(
        x.astype(self.dtype), jnp.asarray(w, self.dtype),
        (self.stride, self.stride), [(pad, pad), (pad, pad)],
        dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    if self.use_bias:
      b = self.param('bias', nn.with_logical_partitioning(
          nn.initializers.zeros, _BIAS_AXES), (self.features,))
      y = y + jnp.asarray(b, self.dtype)
    return y


class FrozenBN(nn.Module):
  """`FrozenBatchNorm2d`: an affine map from fixed buffers (no epsilon)."""

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    get = lambda name, v: self.variable('frozen_bn', name,
                                        lambda: jnp.full((c,), v)).value
    w, b = get('weight', 1.0), get('bias', 0.0)
    mean, var = get('running_mean', 0.0), get('running_var', 1.0)
    scale = w * jax.lax.rsqrt(var)
    return x * scale.astype(x.dtype) + (b - mean * scale).astype(x.dtype)


def _norm(cfg: MaskRCNNConfig, name: str):
  if cfg.norm == 'frozen_bn':
    return FrozenBN(name=name)
  return nn.GroupNorm(num_groups=8, dtype=cfg.dtype, name=name)


class Bottleneck(nn.Module):
  """`BottleneckWithFixedBatchNorm` with the stride on the first 1x1."""
  cfg: MaskRCNNConfig
  inner: int
  out: int
  stride: int
  frozen: bool

  @nn.compact
  def __call__(self, x):
    c = dict(frozen=self.frozen, dtype=self.cfg.dtype)
    shortcut = x
    if x.shape[-1] != self.out:
      shortcut = Conv(self.out, 1, self.stride, name='downsample', **c)(x)
      shortcut = _norm(self.cfg, 'downsample_bn')(shortcut)
    y = Conv(self.inner, 1, self.stride, name='conv1', **c)(x)
    y = nn.relu(_norm(self.cfg, 'bn1')(y))
    y = Conv(self.inner, 3, 1, name='conv2', **c)(y)
    y = nn.relu(_norm(self.cfg, 'bn2')(y))
    y = Conv(self.out, 1, 1, name='conv3', **c)(y)
    y = _norm(self.cfg, 'bn3')(y)
    return nn.relu(y + shortcut)


def _max_pool_3x3_s2(x):
  return nn.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))


class Backbone(nn.Module):
  """ResNet body (stem + stages) and FPN: the P levels, finest first."""
  cfg: MaskRCNNConfig

  @nn.compact
  def __call__(self, x):
    cfg = self.cfg
    frozen = cfg.frozen_stages >= 1
    k = 7 if cfg.stem == 'imagenet' else 3
    x = Conv(cfg.width, k, 2, frozen=frozen, dtype=cfg.dtype,
             name='stem_conv')(x)
    x = _max_pool_3x3_s2(nn.relu(_norm(cfg, 'stem_bn')(x)))
    feats = []
    for s, units in enumerate(cfg.stage_sizes):
      inner = cfg.width * 2 ** s
      for u in range(units):
        x = Bottleneck(cfg, inner, 4 * inner, 2 if (u == 0 and s > 0) else 1,
                       frozen=cfg.frozen_stages >= s + 2,
                       name=f'res{s + 2}_{u}')(x)
      feats.append(x)
    c = dict(use_bias=True, dtype=cfg.dtype)
    n = len(feats)
    inner = Conv(cfg.fpn_channels, 1, name=f'fpn_inner{n}', **c)(feats[-1])
    outs = [Conv(cfg.fpn_channels, 3, name=f'fpn_layer{n}', **c)(inner)]
    for i in range(n - 2, -1, -1):
      up = jnp.repeat(jnp.repeat(inner, 2, axis=1), 2, axis=2)
      lateral = Conv(cfg.fpn_channels, 1, name=f'fpn_inner{i + 1}', **c)(
          feats[i])
      inner = lateral + up[:, :lateral.shape[1], :lateral.shape[2]]
      outs.insert(0, Conv(cfg.fpn_channels, 3, name=f'fpn_layer{i + 1}',
                          **c)(inner))
    if cfg.extra_p6:
      outs.append(outs[-1][:, ::2, ::2])
    return outs


class RPNHead(nn.Module):
  """Shared over levels: per level ([N, H*W*A] logits, [N, H*W*A, 4])."""
  cfg: MaskRCNNConfig

  @nn.compact
  def __call__(self, feats):
    cfg = self.cfg
    init = nn.initializers.normal(0.01)
    conv = Conv(cfg.fpn_channels, 3, use_bias=True, init=init,
                dtype=cfg.dtype, name='conv')
    cls = Conv(cfg.num_anchors, 1, use_bias=True, init=init, dtype=cfg.dtype,
               name='cls_logits')
    box = Conv(4 * cfg.num_anchors, 1, use_bias=True, init=init,
               dtype=cfg.dtype, name='bbox_pred')
    logits, deltas = [], []
    for f in feats:
      t = nn.relu(conv(f))
      n = f.shape[0]
      logits.append(cls(t).reshape(n, -1).astype(jnp.float32))
      deltas.append(box(t).reshape(n, -1, 4).astype(jnp.float32))
    return logits, deltas


def _dense(features, name, init, dtype):
  return nn.Dense(features, dtype=dtype, name=name, kernel_init=(
      nn.with_logical_partitioning(init, _DENSE_AXES)),
                  bias_init=nn.with_logical_partitioning(
                      nn.initializers.zeros, ('mlp',)))


class BoxHead(nn.Module):
  """fc6, fc7, class scores and class-specific deltas of pooled RoIs."""
  cfg: MaskRCNNConfig

  @nn.compact
  def __call__(self, pooled):
    cfg = self.cfg
    x = pooled.reshape(*pooled.shape[:-3], -1)
    x = nn.relu(_dense(cfg.box_fc, 'fc6', _KAIMING_A1, cfg.dtype)(x))
    x = nn.relu(_dense(cfg.box_fc, 'fc7', _KAIMING_A1, cfg.dtype)(x))
    scores = _dense(cfg.num_classes, 'cls_score',
                    nn.initializers.normal(0.01), cfg.dtype)(x)
    deltas = _dense(4 * cfg.num_classes, 'bbox_pred',
                    nn.initializers.normal(0.001), cfg.dtype)(x)
    return (scores.astype(jnp.float32),
            deltas.reshape(*deltas.shape[:-1], cfg.num_classes, 4
                           ).astype(jnp.float32))


class Upsample2x(nn.Module):
  """`ConvTranspose2d(k=2, stride=2)`: each input cell writes its own 2x2
  output block, `y[2i+a, 2j+b] = x[i, j] @ K[a, b] + bias` (torch's weight
  `W[c, o, a, b]` is `K[a, b, c, o]`); written as one contraction and a
  depth-to-space, whose gradient XLA:CPU runs far faster than a transposed
  convolution's."""
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    k = self.param('kernel', nn.with_logical_partitioning(
        nn.initializers.variance_scaling(2.0, 'fan_out', 'normal',
                                         in_axis=-1, out_axis=-2),
        _CONV_AXES), (2, 2, x.shape[-1], self.features))
    b = self.param('bias', nn.with_logical_partitioning(
        nn.initializers.zeros, _BIAS_AXES), (self.features,))
    y = jnp.einsum('nhwc,abco->nhawbo', x.astype(self.dtype),
                   jnp.asarray(k, self.dtype))
    n, h, _, w, _, o = y.shape
    return y.reshape(n, 2 * h, 2 * w, o) + jnp.asarray(b, self.dtype)


class MaskHead(nn.Module):
  """Convs, 2x transposed conv and per-class logits of pooled RoIs."""
  cfg: MaskRCNNConfig

  @nn.compact
  def __call__(self, pooled):
    cfg = self.cfg
    lead = pooled.shape[:-3]
    x = pooled.reshape(-1, *pooled.shape[-3:])
    for i, ch in enumerate(cfg.mask_convs):
      x = nn.relu(Conv(ch, 3, use_bias=True, init=_KAIMING_OUT,
                       dtype=cfg.dtype, name=f'mask_fcn{i + 1}')(x))
    ch = cfg.mask_convs[-1]
    x = Upsample2x(ch, dtype=cfg.dtype, name='conv5_mask')(x)
    x = nn.relu(x)
    x = Conv(cfg.num_classes, 1, use_bias=True, init=_KAIMING_OUT,
             dtype=cfg.dtype, name='mask_fcn_logits')(x)
    return x.reshape(*lead, *x.shape[1:]).astype(jnp.float32)


# ---- the detector -----------------------------------------------------------

def level_anchors(cfg: MaskRCNNConfig, image_hw: tuple[int, int]
                  ) -> list[np.ndarray]:
  """Anchors of every level for a padded image size (static)."""
  h, w = image_hw
  out = []
  for stride, size in zip(cfg.anchor_strides, cfg.anchor_sizes):
    out.append(tg.grid_anchors(stride, size, cfg.aspect_ratios,
                               math.ceil(h / stride), math.ceil(w / stride)))
  return out


def _bce(logits, targets):
  return (jnp.maximum(logits, 0) - logits * targets +
          jnp.log1p(jnp.exp(-jnp.abs(logits))))


class MaskRCNN(nn.Module):
  """Mask R-CNN; `__call__` is training (losses) or inference (detections).

  Batch features: `image` [N, H, W, C] (normalised, zero-padded),
  `image_hw` [N, 2] int32 unpadded sizes; for training also `gt_boxes`
  [N, G, 4] (legacy inclusive pixel boxes), `gt_classes` [N, G] int32 (0:
  padding), `gt_masks` [N, G, M, M] and `gt_mask_frames` [N, G, 4] (see
  `maskrcnn_targets.crop_masks`).
  """
  cfg: MaskRCNNConfig

  def setup(self):
    self.backbone = Backbone(self.cfg)
    self.rpn = RPNHead(self.cfg)
    self.box_head = BoxHead(self.cfg)
    self.mask_head = MaskHead(self.cfg)

  def _pool(self, feats, boxes, size):
    cfg = self.cfg
    n = len(cfg.pooler_scales)
    return ra.multilevel_roi_align(
        feats[:n], boxes, size, cfg.pooler_scales, cfg.sampling_ratio,
        cfg.canonical_scale, cfg.canonical_level, cfg.roi_align_impl)

  def __call__(self, batch: Mapping[str, Any], *, train: bool,
               candidates: int = 2000, group: int = 1):
    cfg = self.cfg
    image = batch['image']
    feats = self.backbone(image)
    logits, deltas = self.rpn(feats)
    anchors = [jnp.asarray(a) for a in level_anchors(cfg, image.shape[1:3])]
    if train:
      return self._losses(batch, feats, logits, deltas, anchors, candidates,
                          group)
    return self._detect(batch, feats, logits, deltas, anchors)

  def _proposals(self, logits, deltas, anchors, image_hw, pre_nms):
    got = [tg.level_proposals(jax.lax.stop_gradient(lg),
                              jax.lax.stop_gradient(dl), a, image_hw,
                              pre_nms, self.cfg.rpn_nms)
           for lg, dl, a in zip(logits, deltas, anchors)]
    return [jnp.concatenate(x, axis=1) for x in zip(*got)]

  def _losses(self, batch, feats, logits, deltas, anchors, candidates, group):
    cfg = self.cfg
    n = batch['image'].shape[0]
    image_hw = batch['image_hw']
    gt_boxes = batch['gt_boxes'].astype(jnp.float32)
    gt_classes = batch['gt_classes']
    gt_valid = gt_classes > 0
    rng = self.make_rng('sampling')
    k_rpn, k_roi = jax.random.split(rng)

    # RPN targets and losses over all anchors of all levels.
    all_anchors = jnp.concatenate(anchors, 0)
    all_logits = jnp.concatenate(logits, 1)
    all_deltas = jnp.concatenate(deltas, 1)
    iou = tg.box_iou(gt_boxes, all_anchors[None])            # [N, G, A]
    matched = jax.vmap(lambda i, v: tg.match(
        i, v, cfg.rpn_fg_iou, cfg.rpn_bg_iou, True))(iou, gt_valid)
    labels = jnp.where(matched >= 0, 1, jnp.where(matched == tg.BELOW_LOW,
                                                  0, -1))
    labels = jnp.where(tg.visible(all_anchors[None], image_hw[:, None]),
                       labels, -1)
    pos, neg = jax.vmap(lambda k, lb: tg.sample(
        k, lb, cfg.rpn_batch_per_image, cfg.rpn_positive_fraction))(
            jax.random.split(k_rpn, n), labels)
    sampled = jnp.maximum(jnp.sum(pos | neg), 1).astype(jnp.float32)
    obj = jnp.sum(jnp.where(pos | neg, _bce(all_logits, pos.astype(
        jnp.float32)), 0.0)) / sampled
    tgt_boxes = jnp.take_along_axis(gt_boxes, jnp.maximum(matched, 0)[
        ..., None], axis=1)
    reg = tg.encode(tgt_boxes, all_anchors[None])
    rpn_box = jnp.sum(jnp.where(pos[..., None], tg.smooth_l1(
        all_deltas, reg, cfg.rpn_beta), 0.0)) / sampled

    # Proposals: top N over each group of images, then the GT boxes.
    boxes, scores, valid = self._proposals(logits, deltas, anchors, image_hw,
                                           cfg.rpn_pre_nms_train)
    boxes, valid = tg.select_proposals(boxes, scores, valid, candidates,
                                       group)
    boxes = jnp.concatenate([boxes, gt_boxes], 1)
    valid = jnp.concatenate([valid, gt_valid], 1)

    # RoI sampling.
    iou = tg.box_iou(gt_boxes, boxes)
    matched = jax.vmap(lambda i, v: tg.match(
        i, v, cfg.roi_fg_iou, cfg.roi_fg_iou, False))(iou, gt_valid)
    labels = jnp.where(matched >= 0, 1, 0)
    labels = jnp.where(valid, labels, -1)
    pos, neg = jax.vmap(lambda k, lb: tg.sample(
        k, lb, cfg.roi_batch_per_image, cfg.roi_positive_fraction))(
            jax.random.split(k_roi, n), labels)
    slots, slot_ok = jax.vmap(lambda p, q: tg.sampled_slots(
        p, q, cfg.roi_batch_per_image))(pos, neg)
    take = lambda a: jnp.take_along_axis(a, slots, axis=1)
    rois = jnp.take_along_axis(boxes, slots[..., None], axis=1)
    roi_match = jnp.maximum(take(matched), 0)
    roi_pos = take(pos) & slot_ok
    roi_cls = jnp.where(roi_pos, jnp.take_along_axis(gt_classes, roi_match,
                                                     axis=1), 0)
    roi_gt = jnp.take_along_axis(gt_boxes, roi_match[..., None], axis=1)
    rois = jax.lax.stop_gradient(rois)

    # Box head.
    cls_logits, box_deltas = self.box_head(self._pool(feats, rois,
                                                      cfg.box_pool))
    count = jnp.maximum(jnp.sum(slot_ok), 1).astype(jnp.float32)
    ce = -jnp.take_along_axis(jax.nn.log_softmax(cls_logits),
                              roi_cls[..., None], axis=-1)[..., 0]
    cls_loss = jnp.sum(jnp.where(slot_ok, ce, 0.0)) / count
    d = jnp.take_along_axis(box_deltas, roi_cls[..., None, None], axis=2)[
        ..., 0, :]
    reg = tg.encode(roi_gt, rois, cfg.box_weights)
    box_loss = jnp.sum(jnp.where(roi_pos[..., None],
                                 tg.smooth_l1(d, reg, 1.0), 0.0)) / count

    # Mask head on the positive slots (they come first).
    p = cfg.mask_positives
    m_rois, m_pos = rois[:, :p], roi_pos[:, :p]
    m_cls, m_match = roi_cls[:, :p], roi_match[:, :p]
    mask_logits = self.mask_head(self._pool(feats, m_rois, cfg.mask_pool))
    mask_logits = jnp.take_along_axis(
        mask_logits, m_cls[:, :, None, None, None], axis=-1)[..., 0]
    gm = jnp.take_along_axis(batch['gt_masks'], m_match[
        :, :, None, None], axis=1)
    gf = jnp.take_along_axis(batch['gt_mask_frames'].astype(jnp.float32),
                             m_match[..., None], axis=1)
    res = cfg.mask_resolution
    targets = tg.crop_masks(gm.reshape(-1, *gm.shape[2:]),
                            gf.reshape(-1, 4), m_rois.reshape(-1, 4), res
                            ).reshape(n, p, res, res)
    pixels = jnp.maximum(jnp.sum(m_pos), 1).astype(jnp.float32) * res * res
    mask_loss = jnp.sum(jnp.where(m_pos[..., None, None],
                                  _bce(mask_logits, targets), 0.0)) / pixels
    return {'loss_objectness': obj, 'loss_rpn_box_reg': rpn_box,
            'loss_classifier': cls_loss, 'loss_box_reg': box_loss,
            'loss_mask': mask_loss}

  def _detect(self, batch, feats, logits, deltas, anchors):
    cfg = self.cfg
    image_hw = batch['image_hw']
    boxes, scores, valid = self._proposals(logits, deltas, anchors, image_hw,
                                           cfg.rpn_pre_nms_test)
    props, pvalid = tg.select_proposals(boxes, scores, valid,
                                        cfg.rpn_post_nms_test, 1)
    cls_logits, box_deltas = self.box_head(self._pool(feats, props,
                                                      cfg.box_pool))
    probs = jax.nn.softmax(cls_logits)[..., 1:]               # [N, R, K-1]
    per_class = tg.decode(box_deltas[:, :, 1:], props[:, :, None],
                          cfg.box_weights)
    per_class = tg.clip_to_image(per_class, image_hw[:, None, None])
    ok = pvalid[..., None] & (probs > cfg.test_score)

    def image_nms(b, s, v):      # [R, K-1, 4], [R, K-1], [R, K-1]
      keep = jax.vmap(tg.nms_keep, in_axes=(1, 1, 1, None), out_axes=1)(
          b, s, v, cfg.test_nms)
      return jnp.where(keep, s, -1.0)

    kept = jax.vmap(image_nms)(per_class, probs, ok)
    n, r, k = kept.shape
    top, idx = jax.lax.top_k(kept.reshape(n, r * k), cfg.test_detections)
    det_boxes = jnp.take_along_axis(per_class.reshape(n, r * k, 4),
                                    idx[..., None], axis=1)
    det_classes = (idx % k + 1).astype(jnp.int32)
    det_valid = top > 0
    mask_logits = self.mask_head(self._pool(feats, det_boxes, cfg.mask_pool))
    mask_probs = jax.nn.sigmoid(jnp.take_along_axis(
        mask_logits, det_classes[:, :, None, None, None], axis=-1)[..., 0])
    return {'boxes': det_boxes, 'scores': jnp.where(det_valid, top, 0.0),
            'classes': det_classes, 'valid': det_valid, 'masks': mask_probs}


def parameter_counts(variables: Mapping[str, Any]) -> tuple[int, int]:
  """(all, trainable): `params` plus the frozen convs, and `params` alone
  (norm buffers are buffers in the reference and are not counted)."""
  size = lambda tree: sum(int(np.prod(x.shape)) for x in
                          jax.tree.leaves(tree))
  trainable = size(variables.get('params', {}))
  return trainable + size(variables.get('frozen', {})), trainable
