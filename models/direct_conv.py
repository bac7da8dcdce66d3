# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Direct convolution kernels for the CPU, as XLA FFI custom calls.

XLA:CPU runs a stride-1 3x3 convolution's forward and input gradient as
YNNPACK convolutions and its kernel gradient as a convolution over the whole
image; `conv_lowering`'s 'auto' replaced the latter by patches + one dot, and
the patches alone cost a fifth of SSD's trunk step (benchmarks/RESULTS.md).
`direct_conv.cc` has register-tiled kernels for the forward and the kernel
gradient of stride-1 3x3 convolutions, with no patch matrix; `conv3x3` runs
all three by them (the input gradient is the forward kernel on the padded
output gradient, with the kernel flipped and its channel axes swapped).
On ResNet-50's and SSD's 3x3 convolutions they ran 198-208 GFLOP/s forward +
both gradients, against 130-181 for the earlier forms, and took SSD's trunk
step from 0.76x to 0.87-0.93x PyTorch's (benchmarks/RESULTS.md, ninth sitting).
The kernels also compute 1x1 convolutions, but a 1x1 kernel gradient by
them made the ResNet-50 step slower than XLA's dot (benchmarks/RESULTS.md),
so nothing here offers that.

The kernels are built and registered by `cpu_kernels` (on first use, with
the host's C++ compiler). Without a compiler, or with
`MLPERF_JAX_DIRECT_CONV=off`, `available()` is False, `unavailable_reason()`
says why, and `conv_lowering` keeps XLA's convolution (same results up to
float32 summation order).

Handled: float32, NHWC input, HWIO kernel 3x3, stride 1, padding 1 on each
side, input and output channels multiples of `channel_block()` (64 with
AVX-512, 16 with AVX2), one device. Results do not depend on the thread
count (each output element is summed by one thread in a fixed order).
"""

from __future__ import annotations

import contextlib
import os

import jax
import jax.numpy as jnp
import numpy as np

from mlperf_jax.models import cpu_kernels

FORWARD_TARGET = 'mlperf_jax_direct_conv_forward'
KERNEL_GRAD_TARGET = 'mlperf_jax_direct_conv_kernel_grad'
DISABLE_ENV = 'MLPERF_JAX_DIRECT_CONV'


class _Status:
  disabled = 0


def available() -> bool:
  """Whether the kernels are built and registered (builds them once)."""
  return cpu_kernels.enabled(DISABLE_ENV)


def unavailable_reason() -> str:
  """Why `available()` is False ('' when it is True)."""
  if cpu_kernels.switched_off(DISABLE_ENV):
    return f'{DISABLE_ENV}={os.environ[DISABLE_ENV]}'
  return cpu_kernels.unavailable_reason()


def channel_block() -> int:
  """Channels per register tile: C and K must be multiples of it."""
  lib = cpu_kernels.library() if available() else None
  return int(lib.mlperf_jax_direct_conv_channel_block()) if lib else 0


def threads() -> int:
  """Threads per call: the CPUs this process may run on."""
  return cpu_kernels.threads()


@contextlib.contextmanager
def disabled():
  """Within it, `supports_3x3` says no: code traced inside keeps XLA's
  forms (benchmarks compare the two in one process)."""
  _Status.disabled += 1
  try:
    yield
  finally:
    _Status.disabled -= 1


def _one_device() -> bool:
  return cpu_kernels.one_device()


def _f32(*xs) -> bool:
  return all(x.ndim == 4 and x.dtype == jnp.float32 for x in xs)


def supports_3x3(lhs, rhs, window_strides, pads) -> bool:
  """Whether `conv3x3` computes this convolution (see the module doc)."""
  if (_Status.disabled or not available() or not _one_device()
      or not _f32(lhs, rhs)):
    return False
  if rhs.shape[:2] != (3, 3):
    return False
  if tuple(int(s) for s in window_strides) != (1, 1):
    return False
  if tuple(tuple(int(v) for v in p) for p in pads) != ((1, 1), (1, 1)):
    return False
  cb = channel_block()
  return rhs.shape[2] % cb == 0 and rhs.shape[3] % cb == 0


def _pad(x):
  return jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _require() -> None:
  if not available():
    raise RuntimeError('the direct convolution kernels are unavailable: '
                       f'{unavailable_reason()}')


def _forward_call(xpad, w):
  _require()
  n, hp, wp, _ = xpad.shape
  ks = w.shape[0]
  out = jax.ShapeDtypeStruct((n, hp - ks + 1, wp - ks + 1, w.shape[3]),
                             jnp.float32)
  return jax.ffi.ffi_call(FORWARD_TARGET, out)(
      xpad, w, threads=np.int64(threads()))


def _kernel_grad_call(xpad, g):
  _require()
  ks = xpad.shape[1] - g.shape[1] + 1
  out = jax.ShapeDtypeStruct((ks, ks, xpad.shape[3], g.shape[3]), jnp.float32)
  return jax.ffi.ffi_call(KERNEL_GRAD_TARGET, out)(
      xpad, g, threads=np.int64(threads()))


@jax.custom_vjp
def conv3x3(lhs: jax.Array, rhs: jax.Array) -> jax.Array:
  """`lax.conv_general_dilated(lhs, rhs, (1, 1), ((1, 1), (1, 1)),
  dimension_numbers=('NHWC', 'HWIO', 'NHWC'))` by the direct kernels."""
  return _forward_call(_pad(lhs), rhs)


def _conv3x3_fwd(lhs, rhs):
  xpad = _pad(lhs)
  return _forward_call(xpad, rhs), (xpad, rhs)


def _conv3x3_bwd(res, g):
  xpad, rhs = res
  # The input gradient is the correlation of the padded output gradient
  # with the kernel flipped in space and transposed in channels.
  rhs_t = jnp.flip(rhs, (0, 1)).transpose(0, 1, 3, 2)
  dx = _forward_call(_pad(g), rhs_t)
  dw = _kernel_grad_call(xpad, g)
  return dx, dw


conv3x3.defvjp(_conv3x3_fwd, _conv3x3_bwd)
