# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MiniGo's dual-headed residual network (policy and value), Flax Linen.

Reference: mlcommons/training `reinforcement/tensorflow/minigo/dual_net.py`
`model_inference_fn` with `ml_perf/flags/19/architecture.flags`
(`conv_width=64`, `trunk_layers=6`, `fc_width=64`, `policy_conv_width=2`,
`value_conv_width=1`, `--input_features=mlperf07`):

* trunk: 3x3 conv (no bias) + BatchNorm + ReLU, then `trunk_layers`
  residual blocks of two 3x3 conv + BN with a ReLU after the skip sum;
* policy head: 1x1 conv to 2 + BN without scale or centre + ReLU, flatten,
  dense to N*N+1 logits (with bias);
* value head: 1x1 conv to 1 + BN without scale or centre + ReLU, flatten,
  dense to `fc_width` + ReLU, dense to 1, tanh;
* BatchNorm momentum 0.95 (`batch_norm_momentum`), epsilon 1e-5; kernels
  Glorot-uniform (TF's layer default), biases and BN offsets zero.

The submodules carry the TF layer names (`conv2d`, `conv2d_1`, ...,
`batch_normalization_12`, `dense`, `dense_1`, `dense_2`) in the order the
reference creates them, so that a parameter path is its TF variable name:
the 1.1.0 `weights_initialization` list and the TF-checkpoint importer
read them directly (Flax `scale`/`bias` of a BN are TF `gamma`/`beta`).
At 19x19 the network has 736,671 parameters.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from mlperf_jax.models.go_features import NUM_PLANES

LOGICAL_AXIS_RULES: tuple[tuple[str, str | None], ...] = (
    ('conv_h', None), ('conv_w', None), ('conv_in', None),
    ('conv_out', None), ('norm', None), ('embed', None), ('mlp', None),
)


@dataclasses.dataclass(frozen=True)
class MiniGoConfig:
  board_size: int = 19
  conv_width: int = 64
  trunk_layers: int = 6
  policy_conv_width: int = 2
  value_conv_width: int = 1
  fc_width: int = 64
  input_planes: int = NUM_PLANES
  bn_momentum: float = 0.95
  bn_epsilon: float = 1e-5
  dtype: Any = jnp.float32

  @property
  def num_actions(self) -> int:
    return self.board_size * self.board_size + 1


def reference_config(dtype=jnp.float32) -> MiniGoConfig:
  """`ml_perf/flags/19/architecture.flags`: 19x19, 64 wide, 6 blocks."""
  return MiniGoConfig(dtype=dtype)


def mini_config(dtype=jnp.float32) -> MiniGoConfig:
  """The 5x5 mini network: 32 wide, 4 blocks, fc 32 (same layer types)."""
  return MiniGoConfig(board_size=5, conv_width=32, trunk_layers=4,
                      fc_width=32, dtype=dtype)


def _kernel_init(axes):
  return nn.with_logical_partitioning(nn.initializers.glorot_uniform(), axes)


class MiniGoNet(nn.Module):
  """features bool/float [B, N, N, 13] -> (policy logits [B, N*N+1],
  value [B] in [-1, 1], from the player to move)."""
  config: MiniGoConfig

  @nn.compact
  def __call__(self, x, *, train: bool):
    cfg = self.config
    x = x.astype(cfg.dtype)
    counter = {'conv2d': 0, 'batch_normalization': 0, 'dense': 0}

    def name(kind):
      i = counter[kind]
      counter[kind] += 1
      return kind if i == 0 else f'{kind}_{i}'

    def conv(y, width, k):
      return nn.Conv(width, (k, k), padding='SAME', use_bias=False,
                     dtype=cfg.dtype, name=name('conv2d'),
                     kernel_init=_kernel_init(('conv_h', 'conv_w', 'conv_in',
                                               'conv_out')))(y)

    def bn(y, affine=True):
      return nn.BatchNorm(
          use_running_average=not train, momentum=cfg.bn_momentum,
          epsilon=cfg.bn_epsilon, use_scale=affine, use_bias=affine,
          dtype=cfg.dtype, name=name('batch_normalization'),
          scale_init=nn.with_logical_partitioning(nn.initializers.ones,
                                                  ('norm',)),
          bias_init=nn.with_logical_partitioning(nn.initializers.zeros,
                                                 ('norm',)))(y)

    def dense(y, width):
      return nn.Dense(width, dtype=cfg.dtype, name=name('dense'),
                      kernel_init=_kernel_init(('embed', 'mlp')),
                      bias_init=nn.with_logical_partitioning(
                          nn.initializers.zeros, ('mlp',)))(y)

    h = nn.relu(bn(conv(x, cfg.conv_width, 3)))
    for _ in range(cfg.trunk_layers):
      r = nn.relu(bn(conv(h, cfg.conv_width, 3)))
      r = bn(conv(r, cfg.conv_width, 3))
      h = nn.relu(h + r)
    b = x.shape[0]
    p = nn.relu(bn(conv(h, cfg.policy_conv_width, 1), affine=False))
    logits = dense(p.reshape(b, -1), cfg.num_actions)
    v = nn.relu(bn(conv(h, cfg.value_conv_width, 1), affine=False))
    v = nn.relu(dense(v.reshape(b, -1), cfg.fc_width))
    v = jnp.tanh(dense(v, 1))[:, 0]
    return logits.astype(jnp.float32), v.astype(jnp.float32)


def tf_name(path: tuple[str, ...]) -> str:
  """The TF variable name of a Flax parameter path ('conv2d_3', 'kernel')
  -> 'conv2d_3/kernel'; BatchNorm 'scale'/'bias' -> 'gamma'/'beta'."""
  layer, leaf = path[-2], path[-1]
  if layer.startswith('batch_normalization'):
    leaf = {'scale': 'gamma', 'bias': 'beta'}[leaf]
  return f'{layer}/{leaf}'

