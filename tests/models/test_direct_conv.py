# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The direct CPU convolution kernels (models/direct_conv.py) == XLA's
convolution, forward and both gradients, and how 'auto' picks them."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from mlperf_jax.models import direct_conv, conv_lowering

_NHWC = ('NHWC', 'HWIO', 'NHWC')

pytestmark = pytest.mark.skipif(
    not direct_conv.available(),
    reason=f'direct kernels unavailable: {direct_conv.unavailable_reason()}')


def _ref(x, w):
  return lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),
                                  dimension_numbers=_NHWC,
                                  precision=lax.Precision.HIGHEST)


def _data(n, h, w, c, k, seed=0):
  keys = jax.random.split(jax.random.key(seed), 3)
  x = jax.random.normal(keys[0], (n, h, w, c))
  kern = jax.random.normal(keys[1], (3, 3, c, k)) / np.sqrt(9 * c)
  g = jax.random.normal(keys[2], (n, h, w, k))
  return x, kern, g


def _close(a, b, rtol=2e-5):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  scale = np.abs(b).max()
  np.testing.assert_allclose(a / scale, b / scale, rtol=0, atol=rtol)


# Widths below, at and above the 6-pixel forward tile and its remainders;
# C not a multiple of the 6-channel kernel-gradient tile; one and two
# output-channel blocks; a single-row image.
@pytest.mark.parametrize('n,h,w,cb_in,cb_out', [
    (2, 5, 7, 1, 1), (1, 9, 6, 1, 2), (3, 4, 13, 2, 1), (1, 1, 11, 1, 1),
    (2, 3, 2, 1, 1)])
def test_forward_and_gradients_match_xla(n, h, w, cb_in, cb_out):
  cb = direct_conv.channel_block()
  x, kern, g = _data(n, h, w, cb * cb_in, cb * cb_out)
  _close(jax.jit(direct_conv.conv3x3)(x, kern), _ref(x, kern))
  ours = jax.vjp(direct_conv.conv3x3, x, kern)[1](g)
  ref = jax.vjp(_ref, x, kern)[1](g)
  _close(ours[0], ref[0])
  _close(ours[1], ref[1])


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
  cb = direct_conv.channel_block()
  x, kern, g = _data(2, 6, 9, cb, cb, seed=1)
  outs = []
  for t in (1, 3):
    monkeypatch.setattr(direct_conv, 'threads', lambda t=t: t)
    outs.append([np.asarray(v) for v in (
        direct_conv.conv3x3(x, kern),
        *jax.vjp(direct_conv.conv3x3, x, kern)[1](g))])
  for a, b in zip(*outs):
    np.testing.assert_array_equal(a, b)


@pytest.fixture
def one_device(monkeypatch):
  # This suite runs on 8 fake devices, where 'auto' keeps XLA's convolution.
  assert not direct_conv._one_device()
  monkeypatch.setattr(direct_conv, '_one_device', lambda: True)


def test_supports_only_what_the_kernels_compute(one_device):
  cb = direct_conv.channel_block()
  s = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)
  one = ((1, 1), (1, 1))
  assert direct_conv.supports_3x3(s(1, 8, 8, cb), s(3, 3, cb, cb), (1, 1), one)
  assert not direct_conv.supports_3x3(s(1, 8, 8, cb), s(3, 3, cb, cb), (2, 2), one)
  assert not direct_conv.supports_3x3(s(1, 8, 8, cb), s(3, 3, cb, cb), (1, 1),
                                     ((0, 0), (0, 0)))
  assert not direct_conv.supports_3x3(s(1, 8, 8, cb), s(1, 1, cb, cb), (1, 1), one)
  assert not direct_conv.supports_3x3(s(1, 8, 8, cb + 8), s(3, 3, cb + 8, cb),
                                     (1, 1), one)
  assert not direct_conv.supports_3x3(
      jax.ShapeDtypeStruct((1, 8, 8, cb), jnp.bfloat16),
      jax.ShapeDtypeStruct((3, 3, cb, cb), jnp.bfloat16), (1, 1), one)


def test_auto_takes_the_kernels_for_large_stride_1_3x3_convolutions(
    one_device):
  auto = conv_lowering.conv_general_dilated('auto')
  s = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)

  def hlo(a, w, stride=1):
    return jax.jit(jax.value_and_grad(lambda w, a: auto(
        a, w, (stride, stride), 'SAME', dimension_numbers=_NHWC).sum(),
        argnums=(0, 1))).lower(w, a).as_text()

  big = hlo(s(16, 56, 56, 64), s(3, 3, 64, 64))  # ResNet-50's, 3.7 GFLOP
  assert direct_conv.FORWARD_TARGET in big
  assert direct_conv.KERNEL_GRAD_TARGET in big
  assert 'convolution' not in big
  # Small (the mini ResNet's) stays XLA's; so does a 3x3 on a <= 8^2 map
  # (im2col) and an explicit NCHW convolution.
  assert 'custom_call' not in hlo(s(2, 8, 8, 64), s(3, 3, 64, 64))
  assert 'custom_call' not in hlo(s(16, 7, 7, 512), s(3, 3, 512, 512))
  # 1x1 and strided ones: XLA's (im2col) dots.
  for stride in (1, 2):
    assert 'custom_call' not in hlo(s(16, 56, 56, 256), s(1, 1, 256, 64),
                                    stride)
  assert 'custom_call' not in hlo(s(16, 56, 56, 64), s(3, 3, 64, 64), 2)
  assert direct_calls(big) == (2, 1)  # forward, input gradient; dW
  assert 'direct_conv kernels' in conv_lowering.describe('auto', 'cpu')
  assert 'direct_conv' not in conv_lowering.describe('auto', 'gpu')


def direct_calls(text):
  return (text.count(f'@{direct_conv.FORWARD_TARGET}('),
          text.count(f'@{direct_conv.KERNEL_GRAD_TARGET}('))


def test_kernel_errors_name_the_bad_shape():
  cb = direct_conv.channel_block()
  # The custom call itself checks its operands (a direct caller's mistake).
  bad = jax.ffi.ffi_call(
      direct_conv.FORWARD_TARGET,
      jax.ShapeDtypeStruct((1, 4, 4, cb + 1), jnp.float32))
  with pytest.raises(Exception, match='multiple of'):
    jax.block_until_ready(bad(jnp.zeros((1, 6, 6, cb)),
                              jnp.zeros((3, 3, cb, cb + 1)),
                              threads=np.int64(1)))


def _child(env_extra):
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  env.update(env_extra)
  code = ('from mlperf_jax.models import direct_conv as c, conv_lowering '
          'as l; print(c.available()); print(c.unavailable_reason()); '
          "print(l.describe('auto', 'cpu'))")
  return subprocess.run([sys.executable, '-c', code], env=env,
                        capture_output=True, text=True, check=True).stdout


def test_switched_off_or_without_a_compiler_it_says_why_and_auto_keeps_xla(
    tmp_path):
  out = _child({'MLPERF_JAX_DIRECT_CONV': 'off'})
  assert out.startswith('False\nMLPERF_JAX_DIRECT_CONV=off')
  assert 'direct_conv kernels' not in out
  out = _child({'CXX': 'no-such-compiler',
                'MLPERF_JAX_KERNEL_CACHE': str(tmp_path)})
  assert out.startswith('False\nno C++ compiler (no-such-compiler)')
  assert 'apt-get install -y g++' in out


def test_the_kernels_compute_1x1_convolutions_too():
  # direct_conv.cc's kernels take KS = 1 as well (nothing offers it yet:
  # the module doc says why); checked on the raw targets.
  cb = direct_conv.channel_block()
  x = jax.random.normal(jax.random.key(7), (2, 5, 7, 40))
  w = jax.random.normal(jax.random.key(8), (1, 1, 40, cb))
  g = jax.random.normal(jax.random.key(9), (2, 5, 7, cb))
  y = jax.jit(direct_conv._forward_call)(x, w)
  _close(y, jnp.einsum('nhwc,ck->nhwk', x, w[0, 0],
                       precision=lax.Precision.HIGHEST))
  dw = jax.jit(direct_conv._kernel_grad_call)(x, g)
  _close(dw[0, 0], jnp.einsum('nhwc,nhwk->ck', x, g,
                              precision=lax.Precision.HIGHEST))
