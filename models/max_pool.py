# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Max pooling with its gradient written as selects over the window's taps.

`flax.linen.max_pool` is `lax.reduce_window(max)`; its gradient is XLA's
select-and-scatter, which XLA:CPU expands into an iota over the padded
input, a scatter and a window reduction: about 0.19 s of a 3.4 s ResNet-50
train step at batch 16 (benchmarks/RESULTS.md), for a layer whose forward
pass is one memory pass. `max_pool` here computes the same forward value as
the maximum of the window's strided slices and, in a custom VJP, routes each
output's gradient to the first tap in window order (row-major) that holds
the maximum: the tap XLA's select-and-scatter picks too, so the gradient is
the same, ties included, up to the float32 order in which overlapping
windows' shares are summed (tests/models/test_max_pool.py; ties are common
after a ReLU). Each tap's share is placed back by the transpose of
its strided slice (an interior pad), all of it one elementwise fusion.

On the CPU that is still nine select passes and a sum over the padded
input, about 60 ms of a 2.8 s step; `max_pool_kernels.cc` (built by
`cpu_kernels`) does the forward pass in one read and the backward pass in
one read of x and the output gradient, recomputing each window's maximum
and giving the gradient to the same first tap ('kernel': float32, one
device; elsewhere 'taps' runs).

`max_pool(..., impl)`: 'auto' picks 'kernel' on CPU where the kernels are
built (else 'taps', or with `MLPERF_JAX_MAX_POOL_KERNEL=off`) and XLA's own
('xla', `flax.linen.max_pool`) elsewhere, where the backends' pooling
kernels are fast. `for_conv_lowering` maps a model's convolution lowering to
it ('xla' keeps XLA's pooling too, 'auto'/'im2col' take 'auto').
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from mlperf_jax.models import cpu_kernels

IMPLS = ('auto', 'xla', 'taps', 'kernel')
FORWARD_TARGET = 'mlperf_jax_max_pool_forward'
BACKWARD_TARGET = 'mlperf_jax_max_pool_backward'
DISABLE_ENV = 'MLPERF_JAX_MAX_POOL_KERNEL'


def kernel_available() -> bool:
  """Whether the pooling kernels are built (and not switched off)."""
  return cpu_kernels.enabled(DISABLE_ENV)


def resolve(impl: str, backend: str | None = None) -> str:
  """'auto' -> 'kernel' (or 'taps' without the kernels) on CPU, 'xla'
  elsewhere; others unchanged."""
  if impl not in IMPLS:
    raise ValueError(f'max-pool impl must be one of {IMPLS}, got {impl!r}')
  if impl != 'auto':
    return impl
  if (backend or jax.default_backend()) != 'cpu':
    return 'xla'
  return 'kernel' if kernel_available() else 'taps'


def for_conv_lowering(conv_lowering: str) -> str:
  """The pooling impl that goes with a `conv_lowering` name."""
  return 'xla' if conv_lowering == 'xla' else 'auto'


def describe(impl: str, backend: str | None = None) -> str:
  """The MLLOG implementation note: which max pooling runs, on what."""
  backend = backend or jax.default_backend()
  chosen = resolve(impl, backend)
  what = {
      'taps': 'window-tap maxima, gradient by selects (models/max_pool.py)',
      'kernel': ('max-pool kernels, gradient to the first maximal tap '
                 '(models/max_pool_kernels.cc) on one float32 device, else '
                 'window-tap maxima'),
      'xla': 'xla reduce-window'}[chosen]
  return f'{what} on {backend}'


def _geometry(shape, window, strides, pads):
  """Per spatial dim: (output size, padded size)."""
  out = []
  for size, k, s, (lo, hi) in zip(shape[1:3], window, strides, pads):
    padded = size + lo + hi
    out.append(((padded - k) // s + 1, padded))
  return out


def _taps(xp, window, strides, geometry):
  (ho, _), (wo, _) = geometry
  sh, sw = strides
  n, c = xp.shape[0], xp.shape[3]
  return [lax.slice(xp, (0, a, b, 0),
                    (n, a + (ho - 1) * sh + 1, b + (wo - 1) * sw + 1, c),
                    (1, sh, sw, 1))
          for a in range(window[0]) for b in range(window[1])]


def _pad(x, pads):
  (pt, pb), (pl, pr) = pads
  return lax.pad(x, jnp.array(-jnp.inf, x.dtype),
                 ((0, 0, 0), (pt, pb, 0), (pl, pr, 0), (0, 0, 0)))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _max_pool_taps(x, window, strides, pads):
  geometry = _geometry(x.shape, window, strides, pads)
  return functools.reduce(jnp.maximum,
                          _taps(_pad(x, pads), window, strides, geometry))


def _max_pool_taps_fwd(x, window, strides, pads):
  y = _max_pool_taps(x, window, strides, pads)
  return y, (x, y)


def _max_pool_taps_bwd(window, strides, pads, res, g):
  x, y = res
  geometry = _geometry(x.shape, window, strides, pads)
  (ho, hp), (wo, wp) = geometry
  sh, sw = strides
  taken = jnp.zeros(y.shape, jnp.bool_)
  dxp = None
  for t, tap in enumerate(_taps(_pad(x, pads), window, strides, geometry)):
    a, b = divmod(t, window[1])
    first = (tap == y) & ~taken
    taken = taken | first
    share = jnp.where(first, g, jnp.zeros((), g.dtype))
    # The transpose of the strided slice that made the tap.
    placed = lax.pad(share, jnp.zeros((), g.dtype), (
        (0, 0, 0), (a, hp - a - (ho - 1) * sh - 1, sh - 1),
        (b, wp - b - (wo - 1) * sw - 1, sw - 1), (0, 0, 0)))
    dxp = placed if dxp is None else dxp + placed
  (pt, _), (pl, _) = pads
  return (lax.slice(dxp, (0, pt, pl, 0),
                    (x.shape[0], pt + x.shape[1], pl + x.shape[2],
                     x.shape[3])),)


_max_pool_taps.defvjp(_max_pool_taps_fwd, _max_pool_taps_bwd)


def _attrs(window, strides, pads):
  return cpu_kernels.window_attrs(window, strides, (pads[0][0], pads[1][0]))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _max_pool_kernel(x, window, strides, pads):
  (ho, _), (wo, _) = _geometry(x.shape, window, strides, pads)
  out = jax.ShapeDtypeStruct((x.shape[0], ho, wo, x.shape[3]), x.dtype)
  return jax.ffi.ffi_call(FORWARD_TARGET, out)(
      x, **_attrs(window, strides, pads))


def _max_pool_kernel_fwd(x, window, strides, pads):
  return _max_pool_kernel(x, window, strides, pads), x


def _max_pool_kernel_bwd(window, strides, pads, x, g):
  out = jax.ShapeDtypeStruct(x.shape, x.dtype)
  return (jax.ffi.ffi_call(BACKWARD_TARGET, out)(
      x, g, **_attrs(window, strides, pads)),)


_max_pool_kernel.defvjp(_max_pool_kernel_fwd, _max_pool_kernel_bwd)


def _kernel_applies(x, window, pads) -> bool:
  return (x.dtype == jnp.float32 and cpu_kernels.one_device()
          and all(lo < k for (lo, _), k in zip(pads, window)))


def max_pool(x: jax.Array, window: Sequence[int], strides: Sequence[int],
             padding: str | Sequence[tuple[int, int]],
             impl: str = 'auto') -> jax.Array:
  """`flax.linen.max_pool(x, window, strides, padding)` of NHWC `x`."""
  window = tuple(int(k) for k in window)
  strides = tuple(int(s) for s in strides)
  if resolve(impl) == 'xla' or x.ndim != 4 or len(window) != 2:
    return nn.max_pool(x, window, strides=strides, padding=padding)
  if isinstance(padding, str):
    pads = lax.padtype_to_pads(x.shape[1:3], window, strides, padding)
  else:
    pads = padding
  pads = tuple(tuple(int(v) for v in p) for p in pads)
  if any(lo < 0 or hi < 0 for lo, hi in pads):
    return nn.max_pool(x, window, strides=strides, padding=padding)
  if resolve(impl) == 'kernel' and _kernel_applies(x, window, pads):
    return _max_pool_kernel(x, window, strides, pads)
  return _max_pool_taps(x, window, strides, pads)
