# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ResNet-50 v1.5 for MLPerf Training image classification, in Flax Linen.

Layout is NHWC. v1.5 means the stride-2 of a downsampling bottleneck sits on
its 3x3 convolution, not on the first 1x1. The architecture and every
initialisation choice follow the MLPerf Training v1.x reference,
`mlcommons/training` `image_classification/tensorflow2/resnet_model.py` (Keras),
cross-checked against NVIDIA's MXNet implementation, whose tensor names the
1.1.0 compliance checker lists (`training_results_v1.1`
`NVIDIA/benchmarks/resnet/implementations/mxnet/`):

* Conv kernels: He/variance scaling, `std = sqrt(2 / fan_in)` with
  `fan_in = kh * kw * c_in`. The reference uses Keras `he_normal`
  (`VarianceScaling(2.0, 'fan_in', 'truncated_normal')`: a normal truncated at
  two standard deviations and rescaled so the variance is exactly `2 / fan_in`);
  NVIDIA's `Xavier(rnd_type='gaussian', factor_type='in', magnitude=2)` draws
  the same variance from an untruncated normal. The v1.x rules let closed
  submissions choose truncated or not (a boolean), hence
  `ResNetConfig.truncated_normal_init`, default truncated as the reference.
* Final dense layer: kernel `N(0, 0.01^2)` untruncated (Keras
  `RandomNormal(stddev=0.01)`; NVIDIA's `MLPerfInit` also draws `fc*` weights
  from `normal(0, 0.01)`), bias zero.
* BatchNorm: momentum 0.9 and epsilon 1e-5 (reference `BATCH_NORM_DECAY`,
  `BATCH_NORM_EPSILON`; NVIDIA's run script passes `--batchnorm-mom 0.9
  --batchnorm-eps 1e-5`), gamma 1 and beta 0 everywhere. The reference has no
  zero-init of the last gamma of a residual block; NVIDIA's `--bn-gamma-init0`
  (`BNZeroInit`, zeroes `*bn3_gamma`) exists but its v1.x run scripts do not
  pass it, and Google's v1.0 research-division JAX submission did zero them.
  `ResNetConfig.zero_init_last_bn` therefore defaults to False.
* Stem: 7x7/2 convolution with symmetric padding 3 (reference
  `ZeroPadding2D(3)` + `'valid'`), BN, ReLU, 3x3/2 max-pool with TF `'same'`
  padding. Other convolutions use `'SAME'` padding, which matches TF/Keras
  `'same'` (Flax and TF both put the odd padding pixel at the end).

BatchNorm statistics are computed over whatever batch `apply` sees: under
`jax.jit` with a data-sharded global batch that is the global batch (the
micro-batch, `global_batch_size / gradient_accumulation_steps`, with gradient
accumulation), so that is the `model_bn_span` logged (derived in
`hparams/registry.py`; the v1.x rules leave its value free and allow
distributed BatchNorm).

Parameters are always float32; `ResNetConfig.dtype` is the compute dtype. The
network returns float32 logits so the loss is computed in float32, as the
reference's float32 softmax.
"""

import dataclasses
import functools
import math
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from mlperf_jax.models import batch_norm, conv_lowering, max_pool

# Default logical-to-mesh rules: every parameter replicated (pure data
# parallelism, as all v1.x ResNet submissions). A sharding rule table can map
# e.g. 'conv_out' to a model axis instead.
LOGICAL_AXIS_RULES: tuple[tuple[str, str | None], ...] = (
    ('conv_h', None),
    ('conv_w', None),
    ('conv_in', None),
    ('conv_out', None),
    ('embed', None),
    ('classes', None),
)

_CONV_AXES = ('conv_h', 'conv_w', 'conv_in', 'conv_out')
_BN_AXES = ('conv_out',)
_DENSE_KERNEL_AXES = ('embed', 'classes')
_DENSE_BIAS_AXES = ('classes',)

# Bottleneck output width is 4x its inner width (ResNet-50 filter lists 256,
# 512, 1024, 2048 for inner widths 64, 128, 256, 512).
_EXPANSION = 4
_STEMS = ('imagenet', 'small')
_STRIDED_PADDINGS = ('same', 'symmetric')


@dataclasses.dataclass(frozen=True)
class ResNetConfig:
  """Architecture hyperparameters of a bottleneck ResNet.

  Attributes:
    stage_sizes: Number of bottleneck units per stage, e.g. (3, 4, 6, 3).
    num_classes: Width of the final dense layer.
    num_filters: Inner width of the first stage; doubles at every stage.
    stem: 'imagenet' (7x7/2 conv + 3x3/2 max-pool, for 224x224 inputs) or
      'small' (3x3/1 conv, no pool, for tiny test images).
    dtype: Compute dtype (jnp.float32 or jnp.bfloat16). Parameters and BN
      statistics stay float32.
    bn_momentum: Decay of the BN moving averages (`new = m * old + (1 - m) *
      batch`), 0.9 as the reference.
    bn_epsilon: BN variance epsilon, 1e-5 as the reference.
    zero_init_last_bn: Whether the gamma of each unit's last BN (`bn3`) starts
      at 0. The reference starts it at 1 (see the module docstring).
    truncated_normal_init: Whether conv kernels are drawn from a truncated
      normal (reference) or a plain normal (NVIDIA); same variance either way.
    conv_lowering: How convolutions are computed (`conv_lowering.py`): 'auto'
      (im2col + dot on CPU, XLA's native convolution elsewhere), 'xla' or
      'im2col'. The same function either way, up to float32 rounding.
    strided_padding: Padding of the strided 3x3 convolutions: 'same' (TF/
      Keras 'same', as the MLPerf Training reference: at even sizes one pixel
      at the end only) or 'symmetric' (one pixel on each side: TF official
      models' `conv2d_fixed_padding`, the network of MLPerf Inference's
      `resnet50_v1` weights, `models/resnet_onnx_weights.py`).
    label_offset: What `predict` adds to the argmax: -1 for a network with a
      background class 0 in front of the 1000 ImageNet classes (the
      `resnet50_v1` weights' 1001 outputs; the reference's
      `PostProcessArgMax(offset=-1)`), else 0.
  """
  stage_sizes: tuple[int, ...]
  num_classes: int
  num_filters: int = 64
  stem: str = 'imagenet'
  dtype: Any = jnp.float32
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-5
  zero_init_last_bn: bool = False
  truncated_normal_init: bool = True
  conv_lowering: str = 'auto'
  strided_padding: str = 'same'
  label_offset: int = 0

  def __post_init__(self):
    # A list would make the config unhashable, and Flax needs hashable fields.
    object.__setattr__(self, 'stage_sizes', tuple(self.stage_sizes))
    if not self.stage_sizes or min(self.stage_sizes) < 1:
      raise ValueError(f'stage_sizes must be positive, got {self.stage_sizes}')
    conv_lowering.validate(self.conv_lowering)
    if self.stem not in _STEMS:
      raise ValueError(f'stem must be one of {_STEMS}, got {self.stem!r}')
    if self.strided_padding not in _STRIDED_PADDINGS:
      raise ValueError(f'strided_padding must be one of {_STRIDED_PADDINGS},'
                       f' got {self.strided_padding!r}')


def resnet50_config(num_classes: int = 1000, **overrides: Any) -> ResNetConfig:
  """The MLPerf reference ResNet-50 v1.5: 25,557,032 parameters at 1000 classes.

  Args:
    num_classes: Number of output classes.
    **overrides: Other `ResNetConfig` fields, e.g. `dtype=jnp.bfloat16`.

  Returns:
    The configuration.
  """
  return ResNetConfig(stage_sizes=(3, 4, 6, 3), num_classes=num_classes,
                      **overrides)


def mini_config(**overrides: Any) -> ResNetConfig:
  """A three-unit bottleneck ResNet for 8x8 test images and 10 classes.

  Args:
    **overrides: Other `ResNetConfig` fields.

  Returns:
    The configuration.
  """
  fields = dict(stage_sizes=(1, 1, 1), num_classes=10, num_filters=16,
                stem='small')
  fields.update(overrides)
  return ResNetConfig(**fields)


def _conv_kernel_init(cfg: ResNetConfig) -> nn.initializers.Initializer:
  distribution = 'truncated_normal' if cfg.truncated_normal_init else 'normal'
  init = nn.initializers.variance_scaling(2.0, 'fan_in', distribution)
  return nn.with_logical_partitioning(init, _CONV_AXES)


def _layers(cfg: ResNetConfig, train: bool):
  """Conv and BN constructors shared by the stem and the units."""
  conv = functools.partial(
      nn.Conv, use_bias=False, padding='SAME', dtype=cfg.dtype,
      param_dtype=jnp.float32, kernel_init=_conv_kernel_init(cfg),
      conv_general_dilated=conv_lowering.conv_general_dilated(
          cfg.conv_lowering))

  def norm(name: str, zero_init: bool = False,
           relu: bool = False) -> batch_norm.BatchNorm:
    scale_init = nn.initializers.zeros if zero_init else nn.initializers.ones
    return batch_norm.BatchNorm(
        use_running_average=not train, momentum=cfg.bn_momentum,
        epsilon=cfg.bn_epsilon, dtype=cfg.dtype, param_dtype=jnp.float32,
        scale_init=nn.with_logical_partitioning(scale_init, _BN_AXES),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros,
                                               _BN_AXES),
        relu=relu, name=name)

  return conv, norm


class BottleneckUnit(nn.Module):
  """One v1.5 bottleneck unit: 1x1, 3x3 (strided), 1x1, plus the shortcut.

  Submodule names follow the reference tensor names (`conv1`, `bn1`, ...,
  `conv1sc`, `bnsc`) so `resnet_weight_names` is a plain join.
  """
  cfg: ResNetConfig
  filters: int
  strides: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    conv, norm = _layers(self.cfg, train)
    out_filters = self.filters * _EXPANSION
    y = conv(self.filters, (1, 1), name='conv1')(x)
    y = norm('bn1', relu=True)(y)
    padding = 'SAME'
    if self.strides > 1 and self.cfg.strided_padding == 'symmetric':
      padding = ((1, 1), (1, 1))
    y = conv(self.filters, (3, 3), strides=self.strides, padding=padding,
             name='conv2')(y)
    y = norm('bn2', relu=True)(y)
    y = conv(out_filters, (1, 1), name='conv3')(y)
    shortcut = x
    if x.shape[-1] != out_filters or self.strides != 1:
      shortcut = conv(out_filters, (1, 1), strides=self.strides,
                      name='conv1sc')(x)
      shortcut = norm('bnsc')(shortcut)
    # relu(bn3(y) + shortcut), the block's output kept for the backward
    # pass on the CPU (models/batch_norm.py).
    return norm('bn3', zero_init=self.cfg.zero_init_last_bn,
                relu=True)(y, residual=shortcut)


class ResNet(nn.Module):
  """Bottleneck ResNet v1.5 over NHWC images; returns float32 logits.

  Use as a pure function: `variables = model.init(rng, x, train=False)`, then
  `logits, updates = model.apply(variables, x, train=True,
  mutable=['batch_stats'])` for training and
  `model.apply(variables, x, train=False)` for evaluation. Parameters live in
  'params' (boxed with logical axis names), BN moving statistics in
  'batch_stats'.
  """
  cfg: ResNetConfig

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    cfg = self.cfg
    conv, norm = _layers(cfg, train)
    x = jnp.asarray(x, cfg.dtype)
    if cfg.stem == 'imagenet':
      # Symmetric padding 3 as the reference; 'SAME' would pad (2, 3) at 224.
      x = conv(cfg.num_filters, (7, 7), strides=2, padding=((3, 3), (3, 3)),
               name='conv0')(x)
      x = norm('bn0', relu=True)(x)
      x = max_pool.max_pool(x, (3, 3), (2, 2), 'SAME',
                            max_pool.for_conv_lowering(cfg.conv_lowering))
    else:
      x = conv(cfg.num_filters, (3, 3), name='conv0')(x)
      x = norm('bn0', relu=True)(x)
    for i, num_units in enumerate(cfg.stage_sizes):
      for j in range(num_units):
        # The first unit of every stage but the first halves the resolution.
        strides = 2 if i > 0 and j == 0 else 1
        x = BottleneckUnit(cfg, filters=cfg.num_filters * 2**i,
                           strides=strides,
                           name=f'stage{i + 1}_unit{j + 1}')(x, train)
    x = jnp.mean(x, axis=(1, 2))
    x = nn.Dense(
        cfg.num_classes, dtype=cfg.dtype, param_dtype=jnp.float32,
        kernel_init=nn.with_logical_partitioning(
            nn.initializers.normal(stddev=0.01), _DENSE_KERNEL_AXES),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros,
                                               _DENSE_BIAS_AXES),
        name='fc1')(x)
    return jnp.asarray(x, jnp.float32)


def resnet_weight_names(params: Mapping[str, Any]
                        ) -> dict[tuple[str, ...], str]:
  """Maps each parameter path to its MLPerf 1.1.0 `weights_initialization` name.

  The 1.1.0 checker (`training_1.1.0/closed_resnet.yaml`) expects NVIDIA's
  MXNet tensor names: `conv0_weight`, `bn0_gamma`, `stage1_unit1_bnsc_beta`,
  ..., `fc1_weight`, `fc1_bias`. Module names already match, so the name is the
  module path joined by '_' plus the MXNet suffix of the leaf.

  Args:
    params: The 'params' collection, boxed or unboxed, arrays or
      `jax.ShapeDtypeStruct`s (e.g. from `jax.eval_shape`).

  Returns:
    `{flatten_dict path: tensor name}` for every parameter.
  """
  names = {}
  for path in traverse_util.flatten_dict(nn.unbox(params)):
    *modules, leaf = path
    if leaf == 'kernel':
      suffix = 'weight'
    elif leaf == 'scale':
      suffix = 'gamma'
    elif leaf == 'bias':
      # MXNet calls a BN shift 'beta' and a dense layer's shift 'bias'.
      suffix = 'bias' if modules[-1].startswith('fc') else 'beta'
    else:
      raise ValueError(f'Unexpected ResNet parameter {"/".join(path)}')
    names[path] = '_'.join([*modules, suffix])
  return names


def param_count(params: Any) -> int:
  """Number of scalars in a parameter tree (boxed or not, arrays or shapes)."""
  return sum(math.prod(leaf.shape)
             for leaf in jax.tree_util.tree_leaves(nn.unbox(params)))
