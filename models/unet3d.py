# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The MLPerf 3D U-Net (KiTS19 kidney/tumour segmentation), in Flax Linen.

Follows mlcommons/training `image_segmentation/pytorch/model/unet3d.py` and
`model/layers.py` (v1.1), with the NDHWC layout instead of NCDHW:

* filters [32, 64, 128, 256, 320]; an input block of two
  [3^3 conv (no bias) -> InstanceNorm3d(affine) -> ReLU], 1 -> 32;
* four down blocks (3^3 conv stride 2 padding 1, then a 3^3 conv) and the
  bottleneck, a fifth down block 320 -> 320;
* five up blocks: ConvTranspose3d(2, stride 2) with bias and no norm, concat
  with the skip (upsampled first, as `torch.cat((x, skip))`), two conv blocks;
* a 1^3 output conv with bias to 3 classes (logits, float32);
* 31,190,243 parameters.

Padding is PyTorch's symmetric `padding=1` on every 3^3 conv, strided ones
included (Flax 'SAME' would pad a stride-2 conv (0, 1) and shift it).

Initialisation is PyTorch's default, which the reference keeps:
`kaiming_uniform_(a=sqrt(5))`, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
conv kernels and biases, where a transposed conv's fan_in is its *output*
channels x 8 (torch reads fan_in from weight dim 1, [in, out, k, k, k]);
InstanceNorm scale 1, offset 0 (eps 1e-5, biased variance). The reference
then multiplies every weight and bias by `weights_init_scale` (default 1).

The 3^3 convs run natively or decomposed into depth-shifted 2D convs
(`conv3d_as_2d`), chosen per backend: the same function either way.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from mlperf_jax.models import conv3d_as_2d

# Every parameter replicated (the v1.x U-Net submissions are data parallel).
LOGICAL_AXIS_RULES: tuple[tuple[str, str | None], ...] = (
    ('conv_d', None), ('conv_h', None), ('conv_w', None), ('conv_in', None),
    ('conv_out', None))
_KERNEL_AXES = ('conv_d', 'conv_h', 'conv_w', 'conv_in', 'conv_out')
_VECTOR_AXES = ('conv_out',)
REFERENCE_FILTERS = (32, 64, 128, 256, 320)


@dataclasses.dataclass(frozen=True)
class UNet3DConfig:
  """Architecture of a U-Net with the reference block structure.

  Attributes:
    filters: widths of the input block and the down blocks; the last one is
      also the bottleneck's (reference: 32, 64, 128, 256, 320).
    in_channels: input channels (1: CT intensity).
    num_classes: output classes (3: background, kidney, tumour).
    weights_init_scale: factor on every initial weight and bias (reference
      `--weights_init_scale`, default 1).
    conv_impl: 'native', 'decomposed', or None (per backend at trace time).
    norm_epsilon: InstanceNorm3d eps.
    dtype: compute dtype (parameters stay float32; logits are float32).
  """
  filters: tuple[int, ...] = REFERENCE_FILTERS
  in_channels: int = 1
  num_classes: int = 3
  weights_init_scale: float = 1.0
  conv_impl: str | None = None
  norm_epsilon: float = 1e-5
  dtype: Any = jnp.float32

  def __post_init__(self):
    object.__setattr__(self, 'filters', tuple(int(f) for f in self.filters))
    if len(self.filters) < 2 or min(self.filters) < 1:
      raise ValueError(f'filters must be >= 2 positive widths, got '
                       f'{self.filters}')
    if self.conv_impl not in (None, *conv3d_as_2d.CONV_IMPLS):
      raise ValueError(f'conv_impl must be None or one of '
                       f'{conv3d_as_2d.CONV_IMPLS}, got {self.conv_impl!r}')

  @property
  def depth(self) -> int:
    """Number of stride-2 levels (down blocks + bottleneck)."""
    return len(self.filters)

  @property
  def min_input(self) -> int:
    """Input sizes must be multiples of this (2 ** depth)."""
    return 2 ** self.depth


def reference_config(**overrides: Any) -> UNet3DConfig:
  """The MLPerf reference U-Net: 31,190,243 parameters."""
  return UNet3DConfig(**overrides)


def mini_config(**overrides: Any) -> UNet3DConfig:
  """The mini U-Net: the reference block structure at widths 8..32."""
  fields = dict(filters=(8, 16, 32, 32))
  fields.update(overrides)
  return UNet3DConfig(**fields)


def _torch_uniform(scale: float, fan_in_axes: tuple[int, ...]):
  """U(-b, b), b = scale / sqrt(prod of the shape at `fan_in_axes`)."""
  def init(key, shape, dtype=jnp.float32):
    fan_in = math.prod(shape[a] for a in fan_in_axes)
    bound = scale / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init


def _scaled_constant(value: float):
  def init(key, shape, dtype=jnp.float32):
    del key
    return jnp.full(shape, value, dtype)
  return init


class Conv3D(nn.Module):
  """A k^3 convolution with PyTorch's symmetric padding and init."""
  features: int
  kernel: int = 3
  stride: int = 1
  use_bias: bool = False
  cfg: UNet3DConfig = UNet3DConfig()

  @nn.compact
  def __call__(self, x):
    k, c = self.kernel, x.shape[-1]
    fan_in_axes = (0, 1, 2, 3)  # kd * kh * kw * c_in
    s = self.cfg.weights_init_scale
    w = self.param('kernel', nn.with_logical_partitioning(
        _torch_uniform(s, fan_in_axes), _KERNEL_AXES),
                   (k, k, k, c, self.features), jnp.float32)
    impl = self.cfg.conv_impl or conv3d_as_2d.conv_impl_for_backend()
    dtype = self.cfg.dtype
    y = conv3d_as_2d.conv3d(x.astype(dtype), w.astype(dtype), self.stride,
                            (k - 1) // 2, impl=impl)
    if self.use_bias:
      fan_in = k ** 3 * c
      b = self.param('bias', nn.with_logical_partitioning(
          lambda key, shape, dtype=jnp.float32: jax.random.uniform(
              key, shape, dtype, -s / math.sqrt(fan_in), s / math.sqrt(fan_in)),
          _VECTOR_AXES), (self.features,), jnp.float32)
      y = y + b.astype(dtype)
    return y


class UpConv(nn.Module):
  """ConvTranspose3d(kernel 2, stride 2, padding 0) with bias."""
  features: int
  cfg: UNet3DConfig = UNet3DConfig()

  @nn.compact
  def __call__(self, x):
    s = self.cfg.weights_init_scale
    # torch's fan_in of a transposed conv: weight.size(1) (= out) * 2^3.
    w = self.param('kernel', nn.with_logical_partitioning(
        _torch_uniform(s, (0, 1, 2, 4)), _KERNEL_AXES),
                   (2, 2, 2, x.shape[-1], self.features), jnp.float32)
    fan_in = 8 * self.features
    b = self.param('bias', nn.with_logical_partitioning(
        lambda key, shape, dtype=jnp.float32: jax.random.uniform(
            key, shape, dtype, -s / math.sqrt(fan_in), s / math.sqrt(fan_in)),
        _VECTOR_AXES), (self.features,), jnp.float32)
    dtype = self.cfg.dtype
    return conv3d_as_2d.upconv2x(x.astype(dtype), w.astype(dtype)) + b.astype(
        dtype)


class ConvBlock(nn.Module):
  """conv (no bias) -> InstanceNorm3d(affine) -> ReLU; submodules 'conv' and
  'instancenorm' (the reference's tensor names)."""
  features: int
  stride: int = 1
  cfg: UNet3DConfig = UNet3DConfig()

  @nn.compact
  def __call__(self, x):
    x = Conv3D(self.features, 3, self.stride, cfg=self.cfg, name='conv')(x)
    s = self.cfg.weights_init_scale
    x = nn.GroupNorm(
        num_groups=None, group_size=1, epsilon=self.cfg.norm_epsilon,
        dtype=self.cfg.dtype, param_dtype=jnp.float32,
        scale_init=nn.with_logical_partitioning(_scaled_constant(s),
                                                _VECTOR_AXES),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros,
                                               _VECTOR_AXES),
        name='instancenorm')(x)
    return nn.relu(x)


class UNet3D(nn.Module):
  """The U-Net over NDHWC volumes; returns float32 logits [B, D, H, W, 3].

  Submodules are named for the reference's 1.1.0 tensor names:
  `input_block`, `down{i}` (the last one is the bottleneck), `up{i}` with
  `deconv`, `block_0`, `block_1`, and `output_conv`.
  """
  cfg: UNet3DConfig

  @nn.compact
  def __call__(self, x):
    cfg = self.cfg
    if any(s % cfg.min_input for s in x.shape[1:4]):
      raise ValueError(f'U-Net input spatial shape {x.shape[1:4]} must be '
                       f'multiples of {cfg.min_input}')
    f = cfg.filters
    x = ConvBlock(f[0], cfg=cfg, name='input_block_0')(x)
    x = ConvBlock(f[0], cfg=cfg, name='input_block_1')(x)
    skips = [x]
    outs = list(f[1:]) + [f[-1]]
    for i, width in enumerate(outs):
      x = ConvBlock(width, 2, cfg=cfg, name=f'down{i}_block_0')(x)
      x = ConvBlock(width, cfg=cfg, name=f'down{i}_block_1')(x)
      skips.append(x)
    skips.pop()  # the bottleneck output is not a skip
    for i, skip in enumerate(reversed(skips)):
      width = skip.shape[-1]
      x = UpConv(width, cfg=cfg, name=f'up{i}_deconv')(x)
      x = jnp.concatenate([x, skip.astype(x.dtype)], axis=-1)
      x = ConvBlock(width, cfg=cfg, name=f'up{i}_block_0')(x)
      x = ConvBlock(width, cfg=cfg, name=f'up{i}_block_1')(x)
    x = Conv3D(cfg.num_classes, 1, use_bias=True, cfg=cfg,
               name='output_conv')(x)
    return x.astype(jnp.float32)


def tensor_names(params: Mapping[str, Any]) -> dict[tuple[str, ...], str]:
  """Parameter path -> its 1.1.0 `weights_initialization` tensor name.

  One name per module (the checker lists `input_block_0_conv`,
  `input_block_0_instancenorm`, `up0_deconv`, `output_conv`, ...: 50 for
  the reference); a module's kernel and bias (or scale and offset) share it.
  """
  names = {}
  for path in traverse_util.flatten_dict(nn.unbox(params)):
    *modules, _ = path
    names[path] = '_'.join(modules)
  return names


def param_count(params: Any) -> int:
  """Number of scalars in a parameter tree (boxed or not, arrays or shapes)."""
  return sum(math.prod(leaf.shape)
             for leaf in jax.tree_util.tree_leaves(nn.unbox(params)))
