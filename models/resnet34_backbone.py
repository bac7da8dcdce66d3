# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The SSD backbone: torchvision ResNet-34 to layer3, layer3 at stride 1.

mlcommons/training `single_stage_detector/ssd/base_model.py` `ResNet34`:
torchvision `resnet34` children conv1, bn1, relu, maxpool, layer1, layer2,
layer3, with `_ModifyBlock` setting the stride of layer3's first block (its
`conv1` and its 1x1 downsample conv) to 1, so a 300x300 image gives a
38x38x256 map (stride 8, no dilation). conv5_x and the classifier are
dropped. BasicBlocks are torch's: 3x3 conv (stride s, symmetric padding 1),
BN, ReLU, 3x3 conv, BN, plus the shortcut (1x1 conv + BN when the shape
changes), ReLU. BatchNorm is torch's default (momentum 0.1, i.e. Flax 0.9;
eps 1e-5), trainable; statistics are taken over the batch `apply` sees,
which under `jax.jit` with a data-sharded batch is the global batch.

Convolutions pad explicitly and symmetrically, as torch does: Flax 'SAME'
pads (0, 1) at stride 2 and would shift every strided map by a pixel.

Without ImageNet weights the convs start as torchvision's
(`kaiming_normal_(mode='fan_out', nonlinearity='relu')`), BN at (1, 0).
Module names follow torchvision's state-dict keys (`layer2_0/downsample_conv`
for `layer2.0.downsample.0`), see `torchvision_name`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from mlperf_jax.models import batch_norm, conv_lowering, max_pool

CONV_AXES = ('conv_h', 'conv_w', 'conv_in', 'conv_out')
NORM_AXES = ('conv_out',)


@dataclasses.dataclass(frozen=True)
class BackboneConfig:
  """A BasicBlock ResNet trunk.

  Attributes:
    stem: 'imagenet' (7x7/2 conv, BN, ReLU, 3x3/2 max-pool, as torchvision)
      or 'small' (3x3 conv of `stem_stride`, BN, ReLU; for mini images).
    stem_width: channels of the stem conv.
    layers: (blocks, width, stride) per layer.
    stem_stride: stride of the 'small' stem.
    bn_momentum / bn_epsilon: torch BatchNorm2d defaults (0.1 -> 0.9, 1e-5).
    dtype: compute dtype (parameters stay float32).
    conv_lowering: how convolutions are computed, as ResNet-50's
      (`conv_lowering.py`: 'auto' = im2col + dot for large 1x1 and strided
      ones on CPU, XLA's native convolution elsewhere; the same function up
      to float32 rounding).
  """
  stem: str = 'imagenet'
  stem_width: int = 64
  layers: tuple[tuple[int, int, int], ...] = ((3, 64, 1), (4, 128, 2),
                                              (6, 256, 1))
  stem_stride: int = 1
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-5
  dtype: Any = jnp.float32
  conv_lowering: str = 'auto'

  def __post_init__(self):
    conv_lowering.validate(self.conv_lowering)
    object.__setattr__(self, 'layers',
                       tuple(tuple(int(v) for v in x) for x in self.layers))
    if self.stem not in ('imagenet', 'small'):
      raise ValueError(f"stem must be 'imagenet' or 'small', got {self.stem!r}")

  @property
  def out_channels(self) -> int:
    return self.layers[-1][1]


# The reference trunk: ResNet-34's layer1-3, layer3 at stride 1.
RESNET34_TO_LAYER3 = BackboneConfig()


def _pad(k: int):
  return ((k // 2, k // 2), (k // 2, k // 2))


def _layers(cfg: BackboneConfig, train: bool):
  kernel_init = nn.with_logical_partitioning(
      nn.initializers.variance_scaling(2.0, 'fan_out', 'normal'), CONV_AXES)

  def conv(features: int, k: int, stride: int = 1, name: str = ''):
    return nn.Conv(features, (k, k), strides=stride, padding=_pad(k),
                   use_bias=False, dtype=cfg.dtype, param_dtype=jnp.float32,
                   kernel_init=kernel_init, name=name,
                   conv_general_dilated=conv_lowering.conv_general_dilated(
                       cfg.conv_lowering))

  def norm(name: str, relu: bool = False):
    return batch_norm.BatchNorm(
        use_running_average=not train, momentum=cfg.bn_momentum,
        epsilon=cfg.bn_epsilon, dtype=cfg.dtype, param_dtype=jnp.float32,
        scale_init=nn.with_logical_partitioning(nn.initializers.ones,
                                                NORM_AXES),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros,
                                               NORM_AXES),
        relu=relu, name=name)
  return conv, norm


class BasicBlock(nn.Module):
  """torchvision's BasicBlock (expansion 1)."""
  cfg: BackboneConfig
  width: int
  stride: int = 1

  @nn.compact
  def __call__(self, x, train: bool):
    conv, norm = _layers(self.cfg, train)
    y = norm('bn1', relu=True)(conv(self.width, 3, self.stride, 'conv1')(x))
    y = conv(self.width, 3, 1, 'conv2')(y)
    if self.stride != 1 or x.shape[-1] != self.width:
      x = norm('downsample_bn')(conv(self.width, 1, self.stride,
                                     'downsample_conv')(x))
    # relu(bn2(y) + x), the block's output kept for the backward pass on
    # the CPU (models/batch_norm.py).
    return norm('bn2', relu=True)(y, residual=x)


class ResNetTrunk(nn.Module):
  """NHWC image -> the last layer's feature map."""
  cfg: BackboneConfig

  @nn.compact
  def __call__(self, x, train: bool):
    cfg = self.cfg
    conv, norm = _layers(cfg, train)
    x = jnp.asarray(x, cfg.dtype)
    if cfg.stem == 'imagenet':
      x = norm('bn1', relu=True)(conv(cfg.stem_width, 7, 2, 'conv1')(x))
      x = max_pool.max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)),
                            max_pool.for_conv_lowering(cfg.conv_lowering))
    else:
      x = norm('bn1', relu=True)(conv(cfg.stem_width, 3, cfg.stem_stride,
                                      'conv1')(x))
    for i, (blocks, width, stride) in enumerate(cfg.layers):
      for j in range(blocks):
        x = BasicBlock(cfg, width, stride if j == 0 else 1,
                       name=f'layer{i + 1}_{j}')(x, train)
    return x


def torchvision_name(path: tuple[str, ...], collection: str = 'params'
                     ) -> str:
  """torchvision state-dict key of a trunk variable, e.g.
  ('layer2_0', 'downsample_conv', 'kernel') -> 'layer2.0.downsample.0.weight'.

  `collection` 'batch_stats' maps mean/var to running_mean/running_var.
  """
  *modules, leaf = path
  parts = []
  for m in modules:
    if m.startswith('layer'):
      parts += m.split('_')
    elif m == 'downsample_conv':
      parts += ['downsample', '0']
    elif m == 'downsample_bn':
      parts += ['downsample', '1']
    else:
      parts.append(m)
  suffix = {('params', 'kernel'): 'weight', ('params', 'scale'): 'weight',
            ('params', 'bias'): 'bias', ('batch_stats', 'mean'): 'running_mean',
            ('batch_stats', 'var'): 'running_var'}[(collection, leaf)]
  return '.'.join(parts + [suffix])


def to_torch_layout(value: jax.Array) -> jax.Array:
  """A Flax conv kernel [kh, kw, in, out] as torch's [out, in, kh, kw]."""
  return jnp.transpose(value, (3, 2, 0, 1)) if value.ndim == 4 else value


# ---- ImageNet weights -------------------------------------------------------

def read_torchvision_weights(path: str) -> dict[str, np.ndarray]:
  """torchvision ResNet-34 weights without torch: a pickle (or `.npz`) of
  `{state-dict key: numpy array}`, as the reference's `pth_to_pickle.py`
  writes from `resnet34-333f7ec4.pth`.

  Raises ValueError naming the problem for a file that is not one.
  """
  import pickle  # pylint: disable=import-outside-toplevel
  try:
    if path.endswith('.npz'):
      with np.load(path, allow_pickle=False) as z:
        weights = {k: z[k] for k in z.files}
    else:
      with open(path, 'rb') as f:
        weights = pickle.load(f)
  except (OSError, EOFError, ValueError, pickle.UnpicklingError,
          AttributeError, ImportError, IndexError) as e:
    raise ValueError(f'{path} is not a ResNet-34 weight file (a pickle or '
                     f'.npz of {{torchvision key: array}}): {e}') from e
  if not isinstance(weights, dict) or not all(
      isinstance(k, str) for k in weights):
    raise ValueError(f'{path} holds a {type(weights).__name__}, not a dict '
                     'of torchvision state-dict keys to arrays (convert '
                     'resnet34-333f7ec4.pth with the reference\'s '
                     'pth_to_pickle.py)')
  return {k: np.asarray(v) for k, v in weights.items()}


def import_trunk(weights, params, batch_stats=None):
  """Trunk variables from torchvision weights (torch layouts).

  Args:
    weights: `read_torchvision_weights` output (extra keys, e.g. layer4 and
      fc, are ignored).
    params / batch_stats: the trunk's collections (arrays or shapes).

  Returns:
    (params, batch_stats) as numpy trees; ValueError listing every missing
    key and shape mismatch.
  """
  problems = []
  out = []
  for collection, tree in (('params', params), ('batch_stats', batch_stats)):
    if tree is None:
      out.append(None)
      continue
    flat = traverse_util.flatten_dict(nn.unbox(tree))
    new = {}
    for path, leaf in flat.items():
      key = torchvision_name(path, collection)
      if key not in weights:
        problems.append(f'missing {key}')
        continue
      value = weights[key]
      if value.ndim == 4:  # torch [out, in, kh, kw] -> [kh, kw, in, out]
        value = value.transpose(2, 3, 1, 0)
      if tuple(value.shape) != tuple(leaf.shape):
        problems.append(f'{key} has shape {tuple(weights[key].shape)}, '
                        f'expected {tuple(leaf.shape)} (torch layout)')
        continue
      new[path] = np.asarray(value, np.float32)
    out.append(traverse_util.unflatten_dict(new))
  if problems:
    raise ValueError('not ResNet-34 weights: ' + '; '.join(problems[:8]) +
                     (f' (and {len(problems) - 8} more)'
                      if len(problems) > 8 else ''))
  return tuple(out)
