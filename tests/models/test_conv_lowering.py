# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""im2col + dot convolution == lax.conv_general_dilated, forward and both
gradients, to float32 rounding (models/conv_lowering.py), with the patches
built by XLA or by the CPU kernels (models/im2col_kernels.cc)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from mlperf_jax.models import conv_lowering, cpu_kernels

_NHWC = ('NHWC', 'HWIO', 'NHWC')

# (input NHWC, kernel HWIO, strides, padding): every convolution shape of
# ResNet-50 v1.5 (1x1 s1/s2, 3x3 s1/s2 SAME, the 7x7/2 stem's explicit pad 3)
# at small sizes, plus VALID, odd sizes and asymmetric/negative padding.
CASES = [
    ((2, 9, 9, 8), (1, 1, 8, 12), (1, 1), 'SAME'),
    ((2, 9, 9, 8), (1, 1, 8, 12), (2, 2), 'SAME'),
    ((2, 9, 8, 8), (3, 3, 8, 6), (1, 1), 'SAME'),
    ((2, 9, 8, 8), (3, 3, 8, 6), (2, 2), 'SAME'),
    ((1, 15, 15, 3), (7, 7, 3, 5), (2, 2), ((3, 3), (3, 3))),
    ((2, 7, 10, 4), (3, 2, 4, 5), (1, 2), 'VALID'),
    ((1, 8, 8, 4), (3, 3, 4, 4), (1, 1), ((2, 0), (-1, 1))),
]


def _ref(x, k, strides, padding):
  return lax.conv_general_dilated(x, k, strides, padding,
                                  dimension_numbers=_NHWC,
                                  precision=lax.Precision.HIGHEST)


def _ours(x, k, strides, padding):
  return conv_lowering.im2col_conv(x, k, strides, padding,
                                   dimension_numbers=_NHWC,
                                   precision=lax.Precision.HIGHEST)


@pytest.fixture(params=['xla', pytest.param('kernel', marks=pytest.mark.skipif(
    not cpu_kernels.available(),
    reason=f'CPU kernels unavailable: {cpu_kernels.unavailable_reason()}'))])
def patches(request, monkeypatch):
  """Who builds the patches: XLA's slices, or the kernels (which this
  8-fake-device suite would otherwise leave off)."""
  if request.param == 'kernel':
    monkeypatch.setattr(cpu_kernels, 'one_device', lambda: True)
  else:
    monkeypatch.setenv(conv_lowering.IM2COL_DISABLE_ENV, 'off')
  return request.param


def _uses_kernel(f, x, k):
  hlo = jax.jit(jax.grad(lambda a, b: f(a, b).sum(), argnums=(0, 1))).lower(
      x, k).as_text()
  return (conv_lowering.IM2COL_TARGET in hlo, conv_lowering.COL2IM_TARGET in hlo)


@pytest.mark.parametrize('xs,ks,strides,padding', CASES)
def test_forward_and_gradients_match_lax(patches, xs, ks, strides, padding):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal(xs), jnp.float32)
  k = jnp.asarray(rng.standard_normal(ks), jnp.float32)
  want = _ref(x, k, strides, padding)
  got = jax.jit(_ours, static_argnums=(2, 3))(x, k, strides, padding)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  # A random cotangent, so every output position weighs differently.
  ct = jnp.asarray(rng.standard_normal(want.shape), jnp.float32)

  def vjp(f):
    _, pull = jax.vjp(lambda a, b: f(a, b, strides, padding), x, k)
    return pull(ct)

  for g_ours, g_ref in zip(jax.jit(lambda: vjp(_ours))(), vjp(_ref)):
    scale = float(jnp.max(jnp.abs(g_ref)))
    np.testing.assert_allclose(g_ours, g_ref, rtol=1e-5, atol=1e-5 * scale)
  # The kernels take every window but 1x1 and every padding but a crop.
  takes = (patches == 'kernel' and ks[:2] != (1, 1)
           and not (isinstance(padding, tuple) and min(map(min, padding)) < 0))
  assert _uses_kernel(lambda a, b: _ours(a, b, strides, padding), x, k) == (
      takes, takes)


def _native_dw(x, k, strides, padding):
  return conv_lowering.native_with_im2col_dw(
      x, k, strides, padding, dimension_numbers=_NHWC,
      precision=lax.Precision.HIGHEST)


@pytest.mark.parametrize('xs,ks,strides,padding', CASES)
def test_native_forward_with_im2col_kernel_gradient_matches_lax(
    xs, ks, strides, padding):
  """XLA's convolution and input gradient, the kernel gradient as a dot."""
  rng = np.random.default_rng(3)
  x = jnp.asarray(rng.standard_normal(xs), jnp.float32)
  k = jnp.asarray(rng.standard_normal(ks), jnp.float32)
  want = _ref(x, k, strides, padding)
  ct = jnp.asarray(rng.standard_normal(want.shape), jnp.float32)

  def vjp(f):
    y, pull = jax.vjp(lambda a, b: f(a, b, strides, padding), x, k)
    return (y, *pull(ct))

  got = jax.jit(lambda: vjp(_native_dw))()
  for g_ours, g_ref in zip(got, vjp(_ref)):
    scale = float(jnp.max(jnp.abs(g_ref)))
    np.testing.assert_allclose(g_ours, g_ref, rtol=1e-5, atol=1e-5 * scale)
  # The kernel gradient really is a dot: one dot_general, beside the
  # convolutions of the forward pass and the input gradient.
  hlo = jax.jit(jax.grad(lambda a, b: _native_dw(
      a, b, strides, padding).sum(), argnums=(0, 1))).lower(x, k).as_text()
  assert 'dot_general' in hlo and 'convolution' in hlo


def test_unsupported_forms_fall_back_to_lax():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.standard_normal((1, 8, 8, 4)), jnp.float32)
  k = jnp.asarray(rng.standard_normal((3, 3, 2, 4)), jnp.float32)
  # Grouped and dilated: computed by lax itself, so identical.
  for kw in (dict(feature_group_count=2), dict(rhs_dilation=(2, 2))):
    kk = k if 'feature_group_count' in kw else jnp.concatenate([k, k], 2)
    want = lax.conv_general_dilated(x, kk, (1, 1), 'SAME',
                                    dimension_numbers=_NHWC, **kw)
    for f in (conv_lowering.im2col_conv, conv_lowering.native_with_im2col_dw):
      got = f(x, kk, (1, 1), 'SAME', dimension_numbers=_NHWC, **kw)
      np.testing.assert_array_equal(got, want)


def test_flax_conv_with_the_lowering_equals_the_native_one():
  x = jnp.asarray(np.random.default_rng(2).standard_normal((2, 10, 10, 3)),
                  jnp.float32)
  native = nn.Conv(6, (3, 3), strides=2, padding='SAME', use_bias=False)
  ours = nn.Conv(6, (3, 3), strides=2, padding='SAME', use_bias=False,
                 conv_general_dilated=conv_lowering.conv_general_dilated(
                     'im2col'))
  params = native.init(jax.random.PRNGKey(0), x)
  np.testing.assert_allclose(ours.apply(params, x), native.apply(params, x),
                             rtol=1e-4, atol=1e-5)


def test_auto_is_im2col_on_cpu_only_and_names_are_checked():
  assert conv_lowering.resolve('auto', 'cpu') == 'im2col'
  assert conv_lowering.resolve('auto', 'gpu') == 'xla'
  assert conv_lowering.resolve('auto', 'tpu') == 'xla'
  assert conv_lowering.resolve('xla', 'cpu') == 'xla'
  assert conv_lowering.conv_general_dilated('xla') is lax.conv_general_dilated
  with pytest.raises(ValueError, match='im2col'):
    conv_lowering.resolve('onednn')


def test_auto_on_cpu_lowers_large_1x1_and_strided_convolutions_only():
  auto = conv_lowering.conv_general_dilated('auto')
  assert auto is conv_lowering.auto_conv  # this suite runs on CPU
  x = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)

  def ops(a, w, stride=1):
    hlo = jax.jit(lambda a, b: auto(a, b, (stride, stride), 'SAME',
                                    dimension_numbers=_NHWC)).lower(
                                        a, w).as_text()
    return 'convolution' in hlo, 'dot_general' in hlo

  native, im2col = (True, False), (False, True)
  assert ops(x(2, 8, 8, 16), x(1, 1, 16, 64)) == native  # 0.5 MFLOP
  assert ops(x(16, 56, 56, 64), x(1, 1, 64, 256)) == im2col  # 1.6 GFLOP
  assert ops(x(16, 56, 56, 64), x(3, 3, 64, 64)) == native  # 3x3 stride 1
  # ... whose kernel gradient is one im2col dot (native_with_im2col_dw).
  grad_hlo = jax.jit(jax.grad(lambda w, a: auto(
      a, w, (1, 1), 'SAME', dimension_numbers=_NHWC).sum(), argnums=(0, 1))
                     ).lower(x(3, 3, 64, 64), x(16, 56, 56, 64)).as_text()
  assert 'dot_general' in grad_hlo and 'convolution' in grad_hlo
  assert ops(x(16, 56, 56, 128), x(3, 3, 128, 128), 2) == im2col
  assert ops(x(16, 7, 7, 512), x(3, 3, 512, 512)) == im2col  # <= 8^2 map
  assert conv_lowering.describe('auto', 'gpu') == 'xla on gpu'
  assert conv_lowering.describe('im2col', 'cpu') == 'im2col on cpu'
  assert conv_lowering.describe('auto', 'cpu').startswith('im2col for 1x1, strided')
