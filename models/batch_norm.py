# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""BatchNorm (+ ReLU) over NHWC activations, with fewer passes on the CPU.

`BatchNorm` has `flax.linen.BatchNorm`'s variables ('params': scale, bias;
'batch_stats': mean, var), statistics (the biased batch variance
E[x^2] - E[x]^2 clipped at 0, computed in float32), running averages and
output, and optionally adds a residual and applies the ReLU that follows
(`relu=True`; `bn(x, residual=r)` is relu(BN(x) + r), a residual block's
end).

Where XLA:CPU runs flax's BatchNorm in a ResNet-50 train step, each layer
reads or writes its activation about 18 times: the sum and the sum of squares
are two YNNPACK reductions (one read each, at 7-10 GB/s inside the step),
`x - mean` is written out for the backward pass, the ReLU's masked gradient
is written and read again, and the backward pass's three reductions read
their inputs once each (benchmarks/RESULTS.md, tenth sitting). On the CPU,
for float32 on one device, `BatchNorm` in training instead runs a custom VJP
around `batch_norm_kernels.cc` (built by `cpu_kernels`): one read of x for both
sums, one fused pass for the normalisation (+ ReLU); in the backward pass one
read of the output gradient and x for both reductions (the ReLU's mask is
recomputed from x, never stored) and one fused pass for the input gradient:
about 8 passes. The gradient is the same function (the tests compare it with
flax's to float32 rounding), including the terms through the batch mean and
variance.

A residual block's end relu(BN(x) + r) is, left to XLA, recomputed inside
later fusions from the whole chain of earlier blocks (the backward mask of a
ResNet-50 stage's last block read all its blocks' convolution outputs); on
the fused path `batch_norm_kernels.cc` computes it as a custom call, whose
output XLA keeps, and the backward pass masks by `out > 0` (4 % of the
ResNet-50 step). Elsewhere (GPU/TPU, bfloat16, several devices, evaluation,
or `MLPERF_JAX_BN_SUMS=off`) it computes flax's expressions with JAX's
autodiff.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from mlperf_jax.models import cpu_kernels

SUMS_TARGET = 'mlperf_jax_batch_norm_sums'
RESIDUAL_RELU_TARGET = 'mlperf_jax_batch_norm_residual_relu'
DISABLE_ENV = 'MLPERF_JAX_BN_SUMS'


def kernel_applies(x: jax.Array) -> bool:
  """Whether training-mode `BatchNorm` on `x` runs the fused CPU path."""
  return (x.dtype == jnp.float32 and x.ndim >= 2
          and jax.default_backend() == 'cpu'
          and cpu_kernels.one_device() and cpu_kernels.enabled(DISABLE_ENV))


def describe(backend: str | None = None) -> str:
  """The MLLOG implementation note: how training-mode BatchNorm runs."""
  backend = backend or jax.default_backend()
  if backend == 'cpu' and cpu_kernels.enabled(DISABLE_ENV):
    return ('one-pass per-channel sums (models/batch_norm_kernels.cc) in a '
            'custom VJP, ReLU fused, on one float32 device, else flax\'s '
            'expressions, on cpu')
  return f"flax's expressions on {backend}"


def channel_sums(a: jax.Array, b: jax.Array, alpha: jax.Array,
                 beta: jax.Array, relu: bool) -> tuple[jax.Array, jax.Array]:
  """(sum m*a, sum m*a*b) over every axis but the last, m = 1, or with
  `relu` m = (b*alpha + beta > 0); by the kernel (float32, summed in float32
  within chunks of 128 rows, the chunks in float64)."""
  c = a.shape[-1]
  out = jax.ShapeDtypeStruct((c,), jnp.float32)
  return jax.ffi.ffi_call(SUMS_TARGET, (out, out))(
      a, b, alpha, beta, relu=int(relu), threads=int(cpu_kernels.threads()))


def _affine(x, alpha, beta, relu):
  z = x * alpha + beta
  return jnp.maximum(z, 0) if relu else z


def _batch_affine(x, scale, bias, epsilon):
  """The batch's (mean, var, rstd) and the affine (alpha, beta) with
  BN(x) = x * alpha + beta, from one read of x."""
  m = x.size // x.shape[-1]
  s1, s2 = channel_sums(x, x, scale, bias, relu=False)
  mean = s1 / m
  var = jnp.maximum(s2 / m - mean * mean, 0.)
  rstd = lax.rsqrt(var + epsilon)
  alpha = scale * rstd
  return mean, var, rstd, alpha, bias - mean * alpha


def _input_grad(x, gy, t1, t2, alpha, mean, rstd, g_mean, g_var):
  """(dx, d_scale, d_bias) from gy, the gradient at the affine output, and
  its sums t1 = sum(gy), t2 = sum(gy * x)."""
  m = x.size // x.shape[-1]
  d_scale = rstd * (t2 - mean * t1)  # sum(gy * xhat)
  # dx = alpha*gy + u*(x - mean) + (g_mean - alpha*t1)/m, where u collects
  # the terms through var (the batch's and the caller's) and the mean term
  # through the mean (the batch's and the caller's).
  u = (2. * g_var - alpha * rstd * d_scale) / m
  k0 = (g_mean - alpha * t1) / m - u * mean
  return alpha * gy + u * x + k0, d_scale, t1


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _train_fused(x, scale, bias, epsilon: float, relu: bool):
  return _train_fused_fwd(x, scale, bias, epsilon, relu)[0]


def _train_fused_fwd(x, scale, bias, epsilon, relu):
  mean, var, rstd, alpha, beta = _batch_affine(x, scale, bias, epsilon)
  y = _affine(x, alpha, beta, relu)
  return (y, mean, var), (x, alpha, beta, mean, rstd)


def _train_fused_bwd(epsilon, relu, res, cts):
  del epsilon
  x, alpha, beta, mean, rstd = res
  g, g_mean, g_var = cts
  # The sums of gy, the gradient masked by the ReLU's z > 0 (z recomputed
  # from x), without writing gy.
  t1, t2 = channel_sums(g, x, alpha, beta, relu=relu)
  gy = jnp.where(x * alpha + beta > 0, g, 0.) if relu else g
  return _input_grad(x, gy, t1, t2, alpha, mean, rstd, g_mean, g_var)


_train_fused.defvjp(_train_fused_fwd, _train_fused_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _train_fused_residual(x, scale, bias, r, epsilon: float):
  return _train_fused_residual_fwd(x, scale, bias, r, epsilon)[0]


def _train_fused_residual_fwd(x, scale, bias, r, epsilon):
  mean, var, rstd, alpha, beta = _batch_affine(x, scale, bias, epsilon)
  out = jax.ffi.ffi_call(RESIDUAL_RELU_TARGET,
                         jax.ShapeDtypeStruct(x.shape, jnp.float32))(
      x, alpha, beta, r, threads=int(cpu_kernels.threads()))
  return (out, mean, var), (x, alpha, mean, rstd, out)


def _train_fused_residual_bwd(epsilon, res, cts):
  del epsilon
  x, alpha, mean, rstd, out = res
  g, g_mean, g_var = cts
  # The mask from the stored output: relu(z) > 0 exactly where z > 0.
  gy = jnp.where(out > 0, g, 0.)
  t1, t2 = channel_sums(gy, x, alpha, alpha, relu=False)
  return (*_input_grad(x, gy, t1, t2, alpha, mean, rstd, g_mean, g_var), gy)


_train_fused_residual.defvjp(_train_fused_residual_fwd,
                             _train_fused_residual_bwd)


def _stats_reference(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """flax's fast variance, in float32."""
  x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
  axes = tuple(range(x.ndim - 1))
  mean = jnp.mean(x, axes)
  mean2 = jnp.mean(lax.square(x), axes)
  return mean, jnp.maximum(0., mean2 - lax.square(mean))


class BatchNorm(nn.Module):
  """`nn.BatchNorm` over the last axis (the subset this project uses), with
  the ReLU after it optionally fused (`relu`)."""
  use_running_average: bool = False
  momentum: float = 0.99
  epsilon: float = 1e-5
  dtype: Any = None
  param_dtype: Any = jnp.float32
  scale_init: Callable[..., Any] = nn.initializers.ones
  bias_init: Callable[..., Any] = nn.initializers.zeros
  relu: bool = False

  @nn.compact
  def __call__(self, x: jax.Array,
               residual: jax.Array | None = None) -> jax.Array:
    """BN(x), then `+ residual` (if given), then the ReLU (if `relu`)."""
    features = (x.shape[-1],)
    ra_mean = self.variable('batch_stats', 'mean',
                            lambda s: jnp.zeros(s, jnp.float32), features)
    ra_var = self.variable('batch_stats', 'var',
                           lambda s: jnp.ones(s, jnp.float32), features)
    train = not self.use_running_average
    fused = train and kernel_applies(x) and self.dtype in (None, jnp.float32)
    if fused:
      scale = self.param('scale', self.scale_init, features, self.param_dtype)
      bias = self.param('bias', self.bias_init, features, self.param_dtype)
      scale = jnp.asarray(scale, jnp.float32)
      bias = jnp.asarray(bias, jnp.float32)
      if residual is None:
        y, mean, var = _train_fused(x, scale, bias, float(self.epsilon),
                                    bool(self.relu))
      elif self.relu and residual.shape == x.shape:
        y, mean, var = _train_fused_residual(
            x, scale, bias, jnp.asarray(residual, jnp.float32),
            float(self.epsilon))
      else:
        y, mean, var = _train_fused(x, scale, bias, float(self.epsilon), False)
        y = y + residual
        if self.relu:
          y = nn.relu(y)
    else:
      if train:
        mean, var = _stats_reference(x)
      else:
        mean, var = ra_mean.value, ra_var.value
      # flax's _normalize, term by term.
      y = x - mean
      mul = lax.rsqrt(var + self.epsilon)
      scale = self.param('scale', self.scale_init, features, self.param_dtype)
      mul = mul * scale
      y = y * mul
      bias = self.param('bias', self.bias_init, features, self.param_dtype)
      y = y + bias
      dtype = self.dtype or jnp.result_type(x, scale, bias)
      y = jnp.asarray(y, dtype)
      if residual is not None:
        y = y + residual
      if self.relu:
        y = nn.relu(y)
    if train and not self.is_initializing():
      ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
      ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
    return y
