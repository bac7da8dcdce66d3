# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""3D convolutions of the U-Net, exactly, in the form each backend runs fast.

XLA:CPU lowers a 3D convolution to a slow generic loop (3-7 GFLOP/s measured
for the U-Net's 3x3x3 convolutions, ~10x below a 2D convolution of equal
FLOPs; `benchmarks/conv3d_decomposition.py`). A 3D convolution is a sum over
kernel depth of 2D convolutions of depth-shifted input slices:

  y[b, d] = sum_kd conv2d(x_pad[b, s * d + kd], w[kd])      (stride s)

with batch x output depth folded into the 2D batch. That is the same sum of
products as `lax.conv_general_dilated`, regrouped, so it is equal up to
float32 summation order (tested forward and gradient). GPUs and TPUs keep the
native op (cuDNN / the TPU convolution unit); `conv_impl_for_backend` picks.

The U-Net's transposed convolution (kernel 2, stride 2, padding 0, PyTorch
`ConvTranspose3d`) writes non-overlapping 2x2x2 output blocks, so it is one
einsum and a reshape on every backend:

  y[b, 2i + a, 2j + b', 2k + c, o] = sum_ci x[b, i, j, k, ci] w[a, b', c, ci, o]

Layout is NDHWC; kernels are DHWIO.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax

NATIVE = 'native'
DECOMPOSED = 'decomposed'
CONV_IMPLS = (NATIVE, DECOMPOSED)
_DIMS_3D = ('NDHWC', 'DHWIO', 'NDHWC')
_DIMS_2D = ('NHWC', 'HWIO', 'NHWC')


def conv_impl_for_backend(backend: str | None = None) -> str:
  """'decomposed' on CPU (where it is several times faster), else 'native'."""
  backend = backend or jax.default_backend()
  return DECOMPOSED if backend == 'cpu' else NATIVE


def _padding(padding: int | Sequence[tuple[int, int]]
             ) -> tuple[tuple[int, int], ...]:
  if isinstance(padding, int):
    return ((padding, padding),) * 3
  return tuple((int(lo), int(hi)) for lo, hi in padding)


def conv3d_native(x: jax.Array, w: jax.Array, stride: int = 1,
                  padding: int | Sequence[tuple[int, int]] = 1,
                  precision=None) -> jax.Array:
  """`lax.conv_general_dilated` on NDHWC input and a DHWIO kernel."""
  return lax.conv_general_dilated(
      x, w, window_strides=(stride,) * 3, padding=_padding(padding),
      dimension_numbers=_DIMS_3D, precision=precision)


def conv3d_decomposed(x: jax.Array, w: jax.Array, stride: int = 1,
                      padding: int | Sequence[tuple[int, int]] = 1,
                      precision=None) -> jax.Array:
  """The same convolution as `conv3d_native`, as kernel-depth many 2D ones.

  Args:
    x: input [B, D, H, W, C].
    w: kernel [KD, KH, KW, C, O].
    stride: the stride of all three spatial axes.
    padding: symmetric padding per axis, or ((lo, hi),) * 3.
    precision: passed to the 2D convolutions.

  Returns:
    [B, D', H', W', O], D' = (D + lo + hi - KD) // stride + 1 (and likewise).
  """
  (dlo, dhi), hpad, wpad = _padding(padding)
  kd = w.shape[0]
  b, d = x.shape[0], x.shape[1]
  xp = jnp.pad(x, ((0, 0), (dlo, dhi), (0, 0), (0, 0), (0, 0)))
  d_out = (d + dlo + dhi - kd) // stride + 1
  out = None
  for k in range(kd):
    # Depth slices s * j + k for j = 0 .. d_out - 1.
    xs = lax.slice_in_dim(xp, k, k + stride * (d_out - 1) + 1, stride, axis=1)
    xs = xs.reshape((b * d_out,) + xs.shape[2:])
    y = lax.conv_general_dilated(
        xs, w[k], window_strides=(stride, stride), padding=(hpad, wpad),
        dimension_numbers=_DIMS_2D, precision=precision)
    out = y if out is None else out + y
  return out.reshape((b, d_out) + out.shape[1:])


def conv3d(x: jax.Array, w: jax.Array, stride: int = 1,
           padding: int | Sequence[tuple[int, int]] = 1, *,
           impl: str = NATIVE, precision=None) -> jax.Array:
  """A 3D convolution by `impl` ('native' or 'decomposed')."""
  if impl == NATIVE:
    return conv3d_native(x, w, stride, padding, precision)
  if impl == DECOMPOSED:
    return conv3d_decomposed(x, w, stride, padding, precision)
  raise ValueError(f'unknown conv impl {impl!r}; valid: {CONV_IMPLS}')


def upconv2x(x: jax.Array, w: jax.Array, precision=None) -> jax.Array:
  """PyTorch `ConvTranspose3d(kernel_size=2, stride=2, padding=0)`, no bias.

  Args:
    x: input [B, D, H, W, C].
    w: kernel [2, 2, 2, C, O] (w[a, b, c] is PyTorch's weight[:, :, a, b, c]).
    precision: einsum precision.

  Returns:
    [B, 2D, 2H, 2W, O].
  """
  b, d, h, wd, _ = x.shape
  o = w.shape[-1]
  y = jnp.einsum('bdhwc,xyzco->bdxhywzo', x, w, precision=precision)
  return y.reshape(b, 2 * d, 2 * h, 2 * wd, o)
