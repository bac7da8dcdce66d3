# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD (single-shot detector) with a ResNet trunk, its loss and its decode.

The reference is mlcommons/training `single_stage_detector/ssd/` (v1.1):
`ssd300.py` `SSD300`, `base_model.py` `Loss`, `utils.py` `Encoder`.

* Trunk: `resnet34_backbone` (ResNet-34 to layer3, stride 8).
* Extra blocks (`_build_additional_features`): each a 1x1 conv (+bias),
  ReLU, 3x3 conv (+bias, stride/padding per block), ReLU; no BN. SSD300:
  256->(256)->512 /2, 512->(256)->512 /2, 512->(128)->256 /2,
  256->(128)->256 valid, 256->(128)->256 valid: maps 38, 19, 10, 5, 3, 1.
* Heads: per map a 3x3 pad-1 conv of `nd * 4` locations and one of
  `nd * num_classes` confidences (stride 1; stride 3 in the inference
  SSD-ResNet-34 1200, whose heads subsample the maps). The reference reads them with
  `view(N, 4, -1)` / `view(N, C, -1)` on NCHW outputs, so channel
  `coord * nd + d` is coordinate `coord` of default box `d`, and the
  flattened box index within a map is `d * H * W + cell`; concatenated over
  maps that is `default_boxes`' order. We keep that channel layout, so the
  reference's weights load as they are and logits compare one to one.
* Init (`_init_weights`): xavier-uniform kernels in the extra blocks and
  heads; biases as torch's Conv2d default, U(+-1/sqrt(fan_in)).
* Loss: Smooth-L1 (beta 1) over the 4 offsets of positives, plus softmax
  cross-entropy over positives and the `3 * P` hardest negatives (ranked by
  CE with positives zeroed, by a double sort, capped at the box count);
  per image divided by P, images without positives contribute 0.

The model returns (locs [B, D, 4], confs [B, D, C]) in float32.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from mlperf_jax.models import box_ops
from mlperf_jax.models import default_boxes as dboxes_lib
from mlperf_jax.models import nms
from mlperf_jax.models import resnet34_backbone as trunk_lib

LOGICAL_AXIS_RULES: tuple[tuple[str, str | None], ...] = (
    ('conv_h', None), ('conv_w', None), ('conv_in', None), ('conv_out', None))


@dataclasses.dataclass(frozen=True)
class ExtraBlock:
  """1x1 conv to `mid`, ReLU, 3x3 conv to `out` (stride, padding), ReLU."""
  mid: int
  out: int
  stride: int
  padding: int


@dataclasses.dataclass(frozen=True)
class SSDConfig:
  """Architecture of an SSD.

  Attributes:
    num_classes: confidence outputs per box, background (0) included (81
      for COCO).
    backbone: the trunk.
    extra: the extra blocks after the trunk.
    boxes: the default-box spec (its maps must match the feature maps).
    image_size: input side in pixels.
    image_channels: input channels.
    dtype: compute dtype.
    head_stride: stride of the loc/conf convs (the default boxes' maps are
      the heads' outputs).
  """
  num_classes: int
  backbone: trunk_lib.BackboneConfig
  extra: tuple[ExtraBlock, ...]
  boxes: dboxes_lib.DefaultBoxSpec
  image_size: int
  image_channels: int = 3
  dtype: Any = jnp.float32
  head_stride: int = 1

  @property
  def num_defaults(self) -> tuple[int, ...]:
    return self.boxes.boxes_per_cell


def ssd300_config(num_classes: int = 81, **overrides) -> SSDConfig:
  """The reference SSD300-ResNet-34: 19,972,534 parameters, 8732 boxes."""
  fields = dict(
      num_classes=num_classes, backbone=trunk_lib.RESNET34_TO_LAYER3,
      extra=(ExtraBlock(256, 512, 2, 1), ExtraBlock(256, 512, 2, 1),
             ExtraBlock(128, 256, 2, 1), ExtraBlock(128, 256, 1, 0),
             ExtraBlock(128, 256, 1, 0)),
      boxes=dboxes_lib.SSD300, image_size=300)
  fields.update(overrides)
  return SSDConfig(**fields)


def ssd_r34_1200_config(num_classes: int = 81, **overrides) -> SSDConfig:
  """The MLPerf Inference v1.x SSD-ResNet-34 at 1200x1200
  (mlcommons/inference `vision/classification_and_detection/python/models/
  ssd_r34.py` `SSD_R34`, strides [3, 3, 2, 2, 2, 2]): the same trunk
  (maps of 150 px), extra blocks at stride 2, 2, 2 (padding 1), 2 and 1
  (padding 0) giving maps 150/75/38/19/9/7, loc and conf heads at stride 3
  (maps 50/25/13/7/3/3) and 15,130 default boxes. Not the training
  network: a separately trained checkpoint (`resnet34-ssd1200.pytorch`)."""
  fields = dict(
      num_classes=num_classes, backbone=trunk_lib.RESNET34_TO_LAYER3,
      extra=(ExtraBlock(256, 512, 2, 1), ExtraBlock(256, 512, 2, 1),
             ExtraBlock(128, 256, 2, 1), ExtraBlock(128, 256, 2, 0),
             ExtraBlock(128, 256, 1, 0)),
      boxes=dboxes_lib.SSD_R34_1200, image_size=1200, head_stride=3)
  fields.update(overrides)
  return SSDConfig(**fields)


# The mini SSD on 64x64 digit canvases: maps 16, 8, 4 with scales 8/16/32/64
# px (1472 default boxes by the reference formula).
MINI_BOXES = dboxes_lib.DefaultBoxSpec(
    fig_size=64, feat_size=(16, 8, 4), steps=(4, 8, 16),
    scales=(8, 16, 32, 64), aspect_ratios=((2,), (2, 3), (2,)))


def mini_config(**overrides) -> SSDConfig:
  """A small SSD for the digit canvases (11 classes, one grey channel)."""
  fields = dict(
      num_classes=11,
      backbone=trunk_lib.BackboneConfig(
          stem='small', stem_width=24, stem_stride=2,
          layers=((1, 32, 1), (1, 64, 2), (1, 96, 1)),
          # XLA's own convolution, as when the mini RCPs were made: 'auto'
          # would move two trunk convs to im2col (float rounding only, ~3 %
          # faster on CPU; benchmarks/RESULTS.md).
          conv_lowering='xla'),
      extra=(ExtraBlock(48, 96, 2, 1), ExtraBlock(48, 96, 2, 1)),
      boxes=MINI_BOXES, image_size=64, image_channels=1)
  fields.update(overrides)
  return SSDConfig(**fields)


def _torch_bias_init(fan_in: int):
  bound = 1.0 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return nn.with_logical_partitioning(init, ('conv_out',))


def _conv(cfg: SSDConfig, features: int, k: int, in_ch: int, stride: int = 1,
          padding: int = 0, name: str = ''):
  return nn.Conv(
      features, (k, k), strides=stride, padding=((padding,) * 2,) * 2,
      dtype=cfg.dtype, param_dtype=jnp.float32,
      kernel_init=nn.with_logical_partitioning(
          nn.initializers.xavier_uniform(), trunk_lib.CONV_AXES),
      bias_init=_torch_bias_init(in_ch * k * k), name=name)


class SSD(nn.Module):
  """NHWC images -> (locs [B, D, 4], confs [B, D, C]), reference order."""
  cfg: SSDConfig

  @nn.compact
  def __call__(self, x, train: bool):
    cfg = self.cfg
    feats = [trunk_lib.ResNetTrunk(cfg.backbone, name='backbone')(x, train)]
    ch = cfg.backbone.out_channels
    for i, blk in enumerate(cfg.extra):
      y = nn.relu(_conv(cfg, blk.mid, 1, ch, name=f'extra{i}_conv1')(
          feats[-1]))
      feats.append(nn.relu(_conv(cfg, blk.out, 3, blk.mid, blk.stride,
                                 blk.padding, name=f'extra{i}_conv2')(y)))
      ch = blk.out
    locs, confs = [], []
    for k, (f, nd) in enumerate(zip(feats, cfg.num_defaults)):
      c_in = f.shape[-1]
      loc = _conv(cfg, nd * 4, 3, c_in, cfg.head_stride, padding=1,
                  name=f'loc{k}')(f)
      conf = _conv(cfg, nd * cfg.num_classes, 3, c_in, cfg.head_stride,
                   padding=1, name=f'conf{k}')(f)
      locs.append(_reference_order(loc, 4, nd))
      confs.append(_reference_order(conf, cfg.num_classes, nd))
    sizes = tuple(c.shape[1] // nd for c, nd in zip(confs, cfg.num_defaults))
    want = tuple(f * f for f in cfg.boxes.feat_size)
    if len(feats) != len(want) or sizes != want:
      raise ValueError(f'SSD feature maps of {sizes} cells (at the heads) '
                       'do not match the default boxes\' '
                       f'{cfg.boxes.feat_size} squared')
    return (jnp.concatenate(locs, 1).astype(jnp.float32),
            jnp.concatenate(confs, 1).astype(jnp.float32))


def _reference_order(y, width: int, nd: int):
  """[B, H, W, width * nd] (channel = j * nd + d) -> [B, nd * H * W, width]
  with box index d * H * W + cell, as the reference's NCHW `view`."""
  b, h, w, _ = y.shape
  y = y.reshape(b, h, w, width, nd)
  return jnp.transpose(y, (0, 4, 1, 2, 3)).reshape(b, nd * h * w, width)


def param_count(params) -> int:
  return sum(math.prod(p.shape) for p in jax.tree.leaves(nn.unbox(params)))


# ---- loss ------------------------------------------------------------------

def ssd_loss(ploc, plabel, gloc_xywh, glabel, defaults_xywh):
  """The reference `Loss.forward`, per image.

  Args:
    ploc: [B, D, 4] predicted offsets.
    plabel: [B, D, C] logits.
    gloc_xywh: [B, D, 4] matched boxes (centre form; `box_ops.match_ssd`).
    glabel: [B, D] int matched labels (0 background).
    defaults_xywh: [D, 4].

  Returns:
    [B] per-image losses (the reference's mean over the batch is theirs
    divided by B).
  """
  mask = glabel > 0
  pos = jnp.sum(mask, axis=1)
  target = box_ops.encode_offsets(gloc_xywh, defaults_xywh)
  diff = jnp.abs(ploc - target)
  sl1 = jnp.sum(jnp.where(diff < 1.0, 0.5 * diff * diff, diff - 0.5), -1)
  sl1 = jnp.sum(jnp.where(mask, sl1, 0.0), axis=1)
  logp = jax.nn.log_softmax(plabel, axis=-1)
  con = -jnp.take_along_axis(logp, glabel[..., None], axis=-1)[..., 0]
  con_neg = jnp.where(mask, 0.0, con)
  # Rank of each box by descending negative CE (torch's double sort).
  order = jnp.argsort(-con_neg, axis=1, stable=True)
  rank = jnp.argsort(order, axis=1, stable=True)
  neg_num = jnp.minimum(3 * pos, mask.shape[1])[:, None]
  neg = rank < neg_num
  closs = jnp.sum(con * (mask.astype(con.dtype) + neg.astype(con.dtype)), 1)
  total = sl1 + closs
  return jnp.where(pos > 0, total / jnp.maximum(pos, 1).astype(total.dtype),
                   0.0)


def encode_targets(gt_boxes, gt_labels, defaults_ltrb, criteria: float = 0.5):
  """`box_ops.match_ssd` over a batch: padded ground truth [B, G, 4] / [B, G]
  (label 0 = padding) -> (boxes [B, D, 4] centre form, labels [B, D])."""
  return jax.vmap(lambda b, lab: box_ops.match_ssd(
      b, lab, lab > 0, defaults_ltrb, criteria))(gt_boxes, gt_labels)


# ---- decode ----------------------------------------------------------------

def decode(ploc, plabel, defaults_xywh, *, iou_threshold: float = 0.5,
           score_threshold: float = 0.05, max_per_class: int = 200,
           max_total: int = 200) -> nms.Detections:
  """The reference eval post-processing (`decode_batch(..., 0.50, 200)`):
  offsets -> ltrb boxes, softmax, per-class NMS, best 200 overall."""
  boxes = box_ops.decode_offsets(ploc, defaults_xywh)
  scores = jax.nn.softmax(plabel, axis=-1)
  return nms.batched_nms(boxes, scores, score_threshold=score_threshold,
                         iou_threshold=iou_threshold,
                         max_per_class=max_per_class, max_total=max_total)


# ---- MLLOG tensor names ----------------------------------------------------

def weight_names(params: Mapping[str, Any]) -> dict[tuple[str, ...], str]:
  """Each parameter path -> its 1.1.0 `weights_initialization` name.

  `closed_ssd.yaml` lists NVIDIA's MXNet names: the trunk as
  `ssd0_resnetmlperf0_[stageN_]{conv,batchnorm}K_{weight,gamma,beta}` with
  convs numbered in order within a stage (a block's conv1, conv2, then its
  downsample), the extra blocks as `ssd0_expand_trans_conv{i}` (1x1) and
  `ssd0_expand_conv{i}` (3x3), and one fused loc+conf predictor per map,
  `ssd0_convpredictor{k}_conv0`; our separate `loc{k}` and `conf{k}` both
  map to that name (it is logged once).
  """
  flat = traverse_util.flatten_dict(nn.unbox(params))
  pre = 'ssd0_resnetmlperf0_'
  position = {'conv1': 0, 'bn1': 0, 'conv2': 1, 'bn2': 1,
              'downsample_conv': 2, 'downsample_bn': 2}
  # Convs per trunk block (2, or 3 with a downsample), to number a stage's
  # convs in order.
  block_convs: dict[str, int] = {}
  for path in flat:
    if path[0] == 'backbone' and path[1].startswith('layer'):
      block_convs[path[1]] = max(block_convs.get(path[1], 0),
                                 position[path[2]] + 1)

  def conv_number(block: str, module: str) -> int:
    layer, _, j = block.partition('_')
    before = sum(block_convs[f'{layer}_{i}'] for i in range(int(j)))
    return before + position[module]

  names = {}
  for path in flat:
    *mods, leaf = path
    if mods[0] == 'backbone':
      if mods[1] in ('conv1', 'bn1'):
        base = pre + ('conv0' if mods[1] == 'conv1' else 'batchnorm0')
      else:
        stage = mods[1].split('_')[0].replace('layer', 'stage')
        n = conv_number(mods[1], mods[2])
        kind = 'batchnorm' if 'bn' in mods[2] else 'conv'
        base = f'{pre}{stage}_{kind}{n}'
      suffix = {'kernel': 'weight', 'scale': 'gamma', 'bias': 'beta'}[leaf]
    elif mods[0].startswith('extra'):
      i, conv = mods[0][5:].split('_')
      base = f'ssd0_expand_{"trans_conv" if conv == "conv1" else "conv"}{i}'
      suffix = 'weight' if leaf == 'kernel' else 'bias'
    else:
      k = mods[0].lstrip('locnf')
      base = f'ssd0_convpredictor{k}_conv0'
      suffix = 'weight' if leaf == 'kernel' else 'bias'
    names[path] = f'{base}_{suffix}'
  return names


def default_tables(cfg: SSDConfig) -> tuple[np.ndarray, np.ndarray]:
  """(xywh, ltrb) default boxes of `cfg` (host float32 arrays)."""
  return (dboxes_lib.default_boxes_xywh(cfg.boxes),
          dboxes_lib.default_boxes_ltrb(cfg.boxes))
