# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""2D convolution lowered to patch extraction + one matmul (im2col).

XLA:CPU's native convolution runs the ResNet-50 train step at about a third
of the machine's matmul peak (benchmarks/RESULTS.md, "CPU convolution
lowering"), while its dot reaches most of it. `im2col_conv` computes the same
convolution as `lax.conv_general_dilated` as a dot over the kernel-window
patches, so forward and both gradients (autodiff of slices, concatenation
and a dot) are matmuls plus memory moves. The result equals the native
convolution up to float32 summation order (tests/models/test_conv_lowering.py
checks forward and backward against `lax.conv_general_dilated`).

`conv_general_dilated(lowering)` returns the function a Flax `nn.Conv` takes
as its `conv_general_dilated` field; `resolve(lowering)` turns 'auto' into
the backend's choice: 'im2col' on CPU, 'xla' (the native convolution, which
cuDNN and the TPU compiler run well) elsewhere. On CPU 'auto' decides per
convolution from its static shapes (benchmarks/resnet_conv_profile.py,
RESULTS.md): im2col for 1x1 and strided convolutions, which it ran 1.5-6x
faster than XLA:CPU, the native one for stride-1 3x3 (and larger) ones,
where the col2im of the backward pass made im2col 0.6-0.8x as fast, and the
native one for small convolutions (under `AUTO_MIN_FLOPS` forward FLOPs):
the mini ResNet's 8x8 convolutions ran equally fast either way, compile
faster natively, and so keep the mini results of the native convolution.

Handled: NHWC inputs, HWIO kernels, NHWC outputs, any strides and padding,
no input or kernel dilation and one feature group; anything else falls back
to `lax.conv_general_dilated` (same results either way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

LOWERINGS = ('auto', 'xla', 'im2col')
# 'auto' on CPU: im2col for convolutions of at least this many forward FLOPs
# (ResNet-50's smallest at batch 16 has 1.6 GFLOP, the mini's largest ~0.04).
AUTO_MIN_FLOPS = 1e8


def validate(lowering: str) -> None:
  """ValueError unless `lowering` names one; never starts a JAX backend
  (model configs call it, and a multi-host run must reach
  `jax.distributed.initialize` first)."""
  if lowering not in LOWERINGS:
    raise ValueError(f'conv lowering must be one of {LOWERINGS}, got '
                     f'{lowering!r}')


def resolve(lowering: str, backend: str | None = None) -> str:
  """'auto' -> 'im2col' on the CPU backend, else 'xla'; others unchanged."""
  validate(lowering)
  if lowering != 'auto':
    return lowering
  backend = backend or jax.default_backend()
  return 'im2col' if backend == 'cpu' else 'xla'


def _is_nhwc(dimension_numbers: Any, ndim: int) -> bool:
  if ndim != 4:
    return False
  if dimension_numbers is None:
    return False  # lax's default is NCHW / OIHW
  dn = lax.conv_dimension_numbers((1,) * 4, (1,) * 4, dimension_numbers)
  return (dn.lhs_spec == (0, 3, 1, 2) and dn.rhs_spec == (3, 2, 0, 1)
          and dn.out_spec == (0, 3, 1, 2))


def _supported(lhs, rhs, lhs_dilation, rhs_dilation, dimension_numbers,
               feature_group_count, batch_group_count) -> bool:
  ones = lambda d: d is None or all(int(v) == 1 for v in d)
  return (_is_nhwc(dimension_numbers, lhs.ndim) and rhs.ndim == 4
          and ones(lhs_dilation) and ones(rhs_dilation)
          and feature_group_count == 1 and batch_group_count == 1)


def im2col_conv(lhs: jax.Array, rhs: jax.Array,
                window_strides: Sequence[int],
                padding: str | Sequence[tuple[int, int]],
                lhs_dilation: Sequence[int] | None = None,
                rhs_dilation: Sequence[int] | None = None,
                dimension_numbers: Any = None,
                feature_group_count: int = 1,
                batch_group_count: int = 1,
                precision: Any = None,
                preferred_element_type: Any = None) -> jax.Array:
  """`lax.conv_general_dilated`'s signature and result, as im2col + dot."""
  if not _supported(lhs, rhs, lhs_dilation, rhs_dilation, dimension_numbers,
                    feature_group_count, batch_group_count):
    return lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        batch_group_count=batch_group_count, precision=precision,
        preferred_element_type=preferred_element_type)
  kh, kw, cin, cout = rhs.shape
  n, h, w, c = lhs.shape
  if c != cin:
    raise ValueError(f'input has {c} channels, kernel expects {cin}')
  sh, sw = (int(s) for s in window_strides)
  if isinstance(padding, str):
    pads = lax.padtype_to_pads((h, w), (kh, kw), (sh, sw), padding)
  else:
    pads = [tuple(int(v) for v in p) for p in padding]
  (pt, pb), (pl, pr) = pads
  ho = (h + pt + pb - kh) // sh + 1
  wo = (w + pl + pr - kw) // sw + 1
  if (pt, pb, pl, pr) != (0, 0, 0, 0):
    # Negative padding (a crop) is what lax.pad does too.
    lhs = lax.pad(lhs, jnp.zeros((), lhs.dtype),
                  ((0, 0, 0), (pt, pb, 0), (pl, pr, 0), (0, 0, 0)))
  if kh == kw == 1:
    patches = lhs[:, :(ho - 1) * sh + 1:sh, :(wo - 1) * sw + 1:sw, :]
  else:
    # Tap-major (dy, dx, c) order, matching the HWIO kernel's reshape.
    taps = [lax.slice(lhs, (0, dy, dx, 0),
                      (n, dy + (ho - 1) * sh + 1, dx + (wo - 1) * sw + 1, c),
                      (1, sh, sw, 1))
            for dy in range(kh) for dx in range(kw)]
    patches = jnp.concatenate(taps, axis=-1)
  y = lax.dot_general(
      patches.reshape(n * ho * wo, kh * kw * cin),
      rhs.reshape(kh * kw * cin, cout), (((1,), (0,)), ((), ())),
      precision=precision, preferred_element_type=preferred_element_type)
  return y.reshape(n, ho, wo, cout)


def _forward_flops(lhs, rhs, window_strides) -> float:
  n, h, w = lhs.shape[:3]
  kh, kw, cin, cout = rhs.shape
  sh, sw = window_strides
  return 2.0 * n * -(-h // sh) * -(-w // sw) * kh * kw * cin * cout


def auto_prefers_im2col(lhs, rhs, window_strides) -> bool:
  """CPU 'auto': im2col for large 1x1 or strided convolutions."""
  if lhs.ndim != 4 or rhs.ndim != 4:
    return False
  if _forward_flops(lhs, rhs, window_strides) < AUTO_MIN_FLOPS:
    return False
  return rhs.shape[:2] == (1, 1) or any(int(s) > 1 for s in window_strides)


def auto_conv(lhs, rhs, window_strides, padding, **kwargs) -> jax.Array:
  """The CPU 'auto' convolution: `auto_prefers_im2col` decides."""
  if auto_prefers_im2col(lhs, rhs, window_strides):
    return im2col_conv(lhs, rhs, window_strides, padding, **kwargs)
  return lax.conv_general_dilated(lhs, rhs, window_strides, padding, **kwargs)


def conv_general_dilated(lowering: str) -> Callable[..., jax.Array]:
  """The convolution function of `lowering` ('auto' resolved now)."""
  if lowering == 'auto':
    return auto_conv if resolve(lowering) == 'im2col' else (
        lax.conv_general_dilated)
  return im2col_conv if resolve(lowering) == 'im2col' else (
      lax.conv_general_dilated)


def describe(lowering: str, backend: str | None = None) -> str:
  """The MLLOG implementation note: which convolution runs, on what."""
  backend = backend or jax.default_backend()
  chosen = resolve(lowering, backend)
  if lowering == 'auto' and chosen == 'im2col':
    chosen = ('im2col for 1x1 and strided convolutions of >= '
              f'{AUTO_MIN_FLOPS:.0e} forward FLOPs, xla for the others')
  return f'{chosen} on {backend}'
