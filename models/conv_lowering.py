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
faster than XLA:CPU; for stride-1 3x3 (and larger) ones, where the col2im of
the backward pass made full im2col 0.6-0.8x as fast, XLA's forward and input
gradient with the kernel gradient as one im2col dot (`native_with_im2col_dw`:
XLA:CPU's kernel-gradient convolution ran at 35-65 GFLOP/s, the dot 1.3-1.8x
faster), or, where `direct_conv`'s kernels are built and apply (stride
1, padding 1, channels multiples of their tile, one device), those kernels
for all three, with no patches; im2col again on maps of at most
`AUTO_IM2COL_MAX_SIDE`^2; and the
native one throughout for small convolutions (under `AUTO_MIN_FLOPS` forward
FLOPs): the mini ResNet's 8x8 convolutions ran equally fast either way, compile
faster natively, and so keep the mini results of the native convolution.

XLA builds the patches as one strided slice per window tap and a
concatenation, and their transpose as one pad per tap and a sum (ResNet-50's
7x7 stem: 49 slices of the image, about 60 ms of a step); on the CPU, for
float32 on one device, `im2col_kernels.cc` (built by `cpu_kernels`) builds
each in one pass (3.5 % of the ResNet-50 step; `MLPERF_JAX_IM2COL_KERNEL=off`
keeps XLA's).

Handled: NHWC inputs, HWIO kernels, NHWC outputs, any strides and padding,
no input or kernel dilation and one feature group; anything else falls back
to `lax.conv_general_dilated` (same results either way).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from mlperf_jax.models import cpu_kernels, direct_conv

LOWERINGS = ('auto', 'xla', 'im2col')
_NHWC = ('NHWC', 'HWIO', 'NHWC')
# 'auto' on CPU: im2col for convolutions of at least this many forward FLOPs
# (ResNet-50's smallest at batch 16 has 1.6 GFLOP, the mini's largest ~0.04).
AUTO_MIN_FLOPS = 1e8
# ... and im2col for any convolution on a map this small or smaller: the
# stride-1 3x3 at 7^2 512->512 ran 1.35x faster as im2col than either
# XLA form at batch 16 (benchmarks/RESULTS.md).
AUTO_IM2COL_MAX_SIDE = 8


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


def _nhwc_conv(doc: str):
  """A function of `lax.conv_general_dilated`'s signature and result that
  runs the decorated `impl(lhs, rhs, window_strides, padding, precision,
  preferred_element_type)` on the forms it handles (NHWC/HWIO, no
  dilation, one group) and `lax.conv_general_dilated` on the others."""
  def wrap(impl):
    def conv(lhs: jax.Array, rhs: jax.Array,
             window_strides: Sequence[int],
             padding: str | Sequence[tuple[int, int]],
             lhs_dilation: Sequence[int] | None = None,
             rhs_dilation: Sequence[int] | None = None,
             dimension_numbers: Any = None,
             feature_group_count: int = 1,
             batch_group_count: int = 1,
             precision: Any = None,
             preferred_element_type: Any = None) -> jax.Array:
      if not _supported(lhs, rhs, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count,
                        batch_group_count):
        return lax.conv_general_dilated(
            lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count,
            batch_group_count=batch_group_count, precision=precision,
            preferred_element_type=preferred_element_type)
      if lhs.shape[3] != rhs.shape[2]:
        raise ValueError(f'input has {lhs.shape[3]} channels, kernel '
                         f'expects {rhs.shape[2]}')
      return impl(lhs, rhs, window_strides, padding, precision,
                  preferred_element_type)
    conv.__name__ = conv.__qualname__ = impl.__name__
    conv.__doc__ = doc
    return conv
  return wrap


@_nhwc_conv("""`lax.conv_general_dilated`'s signature and result, as im2col +
dot.""")
def im2col_conv(lhs, rhs, window_strides, padding, precision,
                preferred_element_type):
  kh, kw, cin, cout = rhs.shape
  patches, (n, ho, wo) = _patches(lhs, (kh, kw), window_strides, padding)
  y = lax.dot_general(
      patches, rhs.reshape(kh * kw * cin, cout), (((1,), (0,)), ((), ())),
      precision=precision, preferred_element_type=preferred_element_type)
  return y.reshape(n, ho, wo, cout)


def _pads(spatial, window, strides, padding) -> list[tuple[int, int]]:
  if isinstance(padding, str):
    return [tuple(p) for p in lax.padtype_to_pads(spatial, window, strides,
                                                   padding)]
  return [tuple(int(v) for v in p) for p in padding]


IM2COL_TARGET = 'mlperf_jax_im2col'
COL2IM_TARGET = 'mlperf_jax_col2im'
IM2COL_DISABLE_ENV = 'MLPERF_JAX_IM2COL_KERNEL'


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _patches_kernel(lhs, window, strides, pads, out_hw):
  """[N, Ho, Wo, kh*kw*C] patches by `im2col_kernels.cc`."""
  n, _, _, c = lhs.shape
  out = jax.ShapeDtypeStruct((n, *out_hw, window[0] * window[1] * c),
                             lhs.dtype)
  return jax.ffi.ffi_call(IM2COL_TARGET, out)(
      lhs, **cpu_kernels.window_attrs(window, strides, pads))


def _patches_kernel_fwd(lhs, window, strides, pads, out_hw):
  # The transpose needs only the input's shape: a zero-size residual
  # carries it.
  return (_patches_kernel(lhs, window, strides, pads, out_hw),
          jnp.zeros((*lhs.shape[:3], 0), lhs.dtype))


def _patches_kernel_bwd(window, strides, pads, out_hw, shape_of, g):
  del out_hw
  lhs = jax.ShapeDtypeStruct((*shape_of.shape[:3], g.shape[3] //
                              (window[0] * window[1])), g.dtype)
  return (jax.ffi.ffi_call(COL2IM_TARGET, lhs)(
      g, **cpu_kernels.window_attrs(window, strides, pads)),)


_patches_kernel.defvjp(_patches_kernel_fwd, _patches_kernel_bwd)


def _patches_kernel_applies(lhs, window, pads) -> bool:
  return (window != (1, 1) and lhs.dtype == jnp.float32
          and all(p >= 0 for p in pads)
          and jax.default_backend() == 'cpu'
          and cpu_kernels.one_device()
          and cpu_kernels.enabled(IM2COL_DISABLE_ENV))


def _patches(lhs: jax.Array, window: tuple[int, int],
             window_strides: Sequence[int],
             padding: str | Sequence[tuple[int, int]]
             ) -> tuple[jax.Array, tuple[int, int, int]]:
  """The (N*Ho*Wo, kh*kw*C) kernel-window patches of NHWC `lhs`, tap-major
  (dy, dx, c) to match an HWIO kernel's reshape, and (N, Ho, Wo)."""
  kh, kw = window
  n, h, w, c = lhs.shape
  sh, sw = (int(s) for s in window_strides)
  (pt, pb), (pl, pr) = _pads((h, w), (kh, kw), (sh, sw), padding)
  ho = (h + pt + pb - kh) // sh + 1
  wo = (w + pl + pr - kw) // sw + 1
  if _patches_kernel_applies(lhs, (kh, kw), (pt, pb, pl, pr)):
    patches = _patches_kernel(lhs, (kh, kw), (sh, sw), (pt, pl), (ho, wo))
    return patches.reshape(n * ho * wo, kh * kw * c), (n, ho, wo)
  if (pt, pb, pl, pr) != (0, 0, 0, 0):
    # Negative padding (a crop) is what lax.pad does too.
    lhs = lax.pad(lhs, jnp.zeros((), lhs.dtype),
                  ((0, 0, 0), (pt, pb, 0), (pl, pr, 0), (0, 0, 0)))
  if kh == kw == 1:
    patches = lhs[:, :(ho - 1) * sh + 1:sh, :(wo - 1) * sw + 1:sw, :]
  else:
    taps = [lax.slice(lhs, (0, dy, dx, 0),
                      (n, dy + (ho - 1) * sh + 1, dx + (wo - 1) * sw + 1, c),
                      (1, sh, sw, 1))
            for dy in range(kh) for dx in range(kw)]
    patches = jnp.concatenate(taps, axis=-1)
  return patches.reshape(n * ho * wo, kh * kw * c), (n, ho, wo)


def _native(lhs, rhs, window_strides, padding, precision):
  return lax.conv_general_dilated(lhs, rhs, window_strides, padding,
                                  dimension_numbers=_NHWC,
                                  precision=precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _native_with_im2col_dw(lhs, rhs, window_strides, padding, precision):
  return _native(lhs, rhs, window_strides, padding, precision)


def _native_with_im2col_dw_fwd(lhs, rhs, window_strides, padding, precision):
  return _native(lhs, rhs, window_strides, padding, precision), (lhs, rhs)


def _native_with_im2col_dw_bwd(window_strides, padding, precision, res, g):
  lhs, rhs = res
  _, pull_x = jax.vjp(
      lambda a: _native(a, rhs, window_strides, padding, precision), lhs)
  (dx,) = pull_x(g)
  kh, kw, cin, cout = rhs.shape
  patches, _ = _patches(lhs, (kh, kw), window_strides, padding)
  # dW^T = g^T @ patches: (Cout, kh*kw*Cin). XLA:CPU's dot runs this
  # orientation up to 1.7x faster than patches^T @ g for ResNet's 3x3
  # shapes (benchmarks/RESULTS.md); the barrier stops the simplifier from
  # folding the small transpose back into the dot.
  dwt = lax.dot_general(g.reshape(-1, cout), patches,
                        (((0,), (0,)), ((), ())), precision=precision)
  dw = lax.optimization_barrier(dwt).T.reshape(kh, kw, cin, cout)
  return dx, dw.astype(rhs.dtype)


_native_with_im2col_dw.defvjp(_native_with_im2col_dw_fwd,
                              _native_with_im2col_dw_bwd)


@_nhwc_conv("""`lax.conv_general_dilated`'s result and input gradient (XLA's
native convolution), with the kernel gradient as one im2col dot.

XLA:CPU computes a stride-1 3x3 convolution's forward and input gradient
well (about 135 GFLOP/s on ResNet-50's 56^2 one) but its kernel gradient,
a convolution over the whole image as the window, at 35-65: the worst
third of the ResNet-50 step. Here the kernel gradient is the patches of
the input against the output gradient, one dot; the input gradient stays
XLA's (as im2col it needs the col2im sums, which made full im2col slower
for these convolutions).
""")
def native_with_im2col_dw(lhs, rhs, window_strides, padding, precision,
                          preferred_element_type):
  if preferred_element_type is not None:
    return lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, dimension_numbers=_NHWC,
        precision=precision, preferred_element_type=preferred_element_type)
  strides = tuple(int(s) for s in window_strides)
  pads = tuple(_pads(lhs.shape[1:3], rhs.shape[:2], strides, padding))
  return _native_with_im2col_dw(lhs, rhs, strides, pads, precision)


def _forward_flops(lhs, rhs, window_strides) -> float:
  n, h, w = lhs.shape[:3]
  kh, kw, cin, cout = rhs.shape
  sh, sw = window_strides
  return 2.0 * n * -(-h // sh) * -(-w // sw) * kh * kw * cin * cout


def auto_prefers_im2col(lhs, rhs, window_strides) -> bool:
  """CPU 'auto': im2col for large 1x1 or strided convolutions, and for
  those on maps of at most `AUTO_IM2COL_MAX_SIDE`^2 (ResNet-50's last stage),
  where the patches and their col2im are small."""
  if lhs.ndim != 4 or rhs.ndim != 4:
    return False
  if _forward_flops(lhs, rhs, window_strides) < AUTO_MIN_FLOPS:
    return False
  return (rhs.shape[:2] == (1, 1) or any(int(s) > 1 for s in window_strides)
          or max(lhs.shape[1:3]) <= AUTO_IM2COL_MAX_SIDE)


def auto_uses_im2col_dw(lhs, rhs, window_strides) -> bool:
  """CPU 'auto', where not im2col: XLA's convolution with an im2col kernel
  gradient for the large ones."""
  return (lhs.ndim == 4 and rhs.ndim == 4
          and not auto_prefers_im2col(lhs, rhs, window_strides)
          and _forward_flops(lhs, rhs, window_strides) >= AUTO_MIN_FLOPS)


def auto_uses_direct_conv3x3(lhs, rhs, window_strides, padding,
                             **kwargs) -> bool:
  """CPU 'auto': `direct_conv.conv3x3` (forward, input and kernel gradient
  by the direct kernels, no patches) for the large stride-1 3x3
  convolutions it handles, on maps larger than `AUTO_IM2COL_MAX_SIDE`^2."""
  if (not auto_uses_im2col_dw(lhs, rhs, window_strides)
      or kwargs.get('preferred_element_type') is not None
      or not _supported(lhs, rhs, kwargs.get('lhs_dilation'),
                        kwargs.get('rhs_dilation'),
                        kwargs.get('dimension_numbers'),
                        kwargs.get('feature_group_count', 1),
                        kwargs.get('batch_group_count', 1))):
    return False
  strides = tuple(int(s) for s in window_strides)
  pads = _pads(lhs.shape[1:3], rhs.shape[:2], strides, padding)
  return direct_conv.supports_3x3(lhs, rhs, strides, pads)


def auto_conv(lhs, rhs, window_strides, padding, **kwargs) -> jax.Array:
  """The CPU 'auto' convolution: `auto_prefers_im2col`,
  `auto_uses_direct_conv3x3` and `auto_uses_im2col_dw` decide, in that
  order."""
  if auto_prefers_im2col(lhs, rhs, window_strides):
    return im2col_conv(lhs, rhs, window_strides, padding, **kwargs)
  if auto_uses_direct_conv3x3(lhs, rhs, window_strides, padding, **kwargs):
    return direct_conv.conv3x3(lhs, rhs)
  if auto_uses_im2col_dw(lhs, rhs, window_strides):
    return native_with_im2col_dw(lhs, rhs, window_strides, padding, **kwargs)
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
    chosen = ('im2col for 1x1, strided and <= '
              f'{AUTO_IM2COL_MAX_SIDE}^2 convolutions of >= '
              f'{AUTO_MIN_FLOPS:.0e} forward FLOPs, '
              + ('direct_conv kernels for the other large 3x3 stride-1 '
                 'ones where they apply, '
                 if backend == 'cpu' and direct_conv.available()
                 else '')
              + 'xla with an im2col kernel gradient for the other large '
              'ones, xla for the rest')
  return f'{chosen} on {backend}'
