# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The 3D U-Net: parameter count, tensor names, the decomposed convolution
against `lax.conv_general_dilated`, the transposed conv and InstanceNorm
against NumPy transcriptions of PyTorch's definitions, and the init."""

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import mlperf_logging
import numpy as np
import pytest
import yaml

from mlperf_jax.models import conv3d_as_2d as c3
from mlperf_jax.models import unet3d


def _abstract_params(cfg, size):
  model = unet3d.UNet3D(cfg)
  return jax.eval_shape(
      lambda r: model.init(r, jnp.zeros((1, size, size, size, 1))),
      jax.random.PRNGKey(0))['params']


def test_reference_parameter_count_and_1_1_0_tensor_names():
  params = _abstract_params(unet3d.reference_config(), 128)
  assert unet3d.param_count(params) == 31_190_243
  path = os.path.join(os.path.dirname(mlperf_logging.__file__),
                      'compliance_checker', 'training_1.1.0',
                      'closed_unet3d.yaml')
  end = [e for e in yaml.safe_load(open(path)) if 'END' in e][0]
  code = end['END']['CHECK']
  expected = eval(code[code.index('sorted(['):].replace(  # noqa: S307
      'sorted(', '', 1).rstrip().rstrip(')'))
  names = sorted(set(unet3d.tensor_names(params).values()))
  assert len(expected) == 50 and names == sorted(expected)


@pytest.mark.parametrize('stride,kernel,pad', [(1, 3, 1), (2, 3, 1),
                                               (1, 1, 0)])
def test_decomposed_conv_equals_native_forward_and_gradient(stride, kernel,
                                                            pad):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((2, 8, 6, 10, 3)), jnp.float32)
  w = jnp.asarray(rng.standard_normal((kernel,) * 3 + (3, 5)), jnp.float32)
  native = c3.conv3d(x, w, stride, pad, impl='native')
  decomposed = c3.conv3d(x, w, stride, pad, impl='decomposed')
  assert native.shape == decomposed.shape
  np.testing.assert_allclose(decomposed, native, rtol=1e-5, atol=2e-5)
  cot = jnp.asarray(rng.standard_normal(native.shape), jnp.float32)

  def grads(impl):
    return jax.grad(lambda a, b: jnp.sum(c3.conv3d(a, b, stride, pad,
                                                   impl=impl) * cot),
                    argnums=(0, 1))(x, w)
  for g_dec, g_nat in zip(grads('decomposed'), grads('native')):
    np.testing.assert_allclose(g_dec, g_nat, rtol=1e-5, atol=5e-5)


def test_strided_conv_pads_symmetrically_like_pytorch():
  # A 3^3 stride-2 conv with padding 1 on 8^3 -> 4^3; output voxel 0 sees
  # input voxels -1..1 (PyTorch), not 0..2 (Flax 'SAME' pads (0, 1)).
  x = np.zeros((1, 8, 8, 8, 1), np.float32)
  x[0, 0, 0, 0, 0] = 1.0
  w = np.zeros((3, 3, 3, 1, 1), np.float32)
  w[1, 1, 1] = 1.0  # picks the centre: input 2 * i
  y = c3.conv3d(jnp.asarray(x), jnp.asarray(w), 2, 1, impl='decomposed')
  assert y.shape == (1, 4, 4, 4, 1) and float(y[0, 0, 0, 0, 0]) == 1.0


def test_upconv_equals_pytorch_conv_transpose_definition():
  rng = np.random.default_rng(1)
  x = rng.standard_normal((2, 3, 4, 2, 3)).astype(np.float32)
  w = rng.standard_normal((2, 2, 2, 3, 4)).astype(np.float32)
  # ConvTranspose3d(k=2, s=2, p=0): y[2i + a] += x[i] . W[:, :, a].
  ref = np.zeros((2, 6, 8, 4, 4), np.float32)
  for i in range(3):
    for j in range(4):
      for k in range(2):
        for a in range(2):
          for b in range(2):
            for c in range(2):
              ref[:, 2 * i + a, 2 * j + b, 2 * k + c] += x[:, i, j, k] @ w[
                  a, b, c]
  np.testing.assert_allclose(c3.upconv2x(jnp.asarray(x), jnp.asarray(w)), ref,
                             rtol=1e-5, atol=1e-5)


def test_conv_block_is_conv_instance_norm_relu():
  cfg = unet3d.mini_config(conv_impl='native')
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.standard_normal((2, 8, 8, 8, 3)), jnp.float32)
  block = unet3d.ConvBlock(4, cfg=cfg)
  v = block.init(jax.random.PRNGKey(0), x)
  p = nn.unbox(v['params'])
  p['instancenorm']['scale'] = jnp.asarray(rng.uniform(0.5, 2, 4), jnp.float32)
  p['instancenorm']['bias'] = jnp.asarray(rng.standard_normal(4), jnp.float32)
  y = np.asarray(block.apply({'params': p}, x))
  conv = np.asarray(c3.conv3d_native(x, p['conv']['kernel'], 1, 1))
  mean = conv.mean(axis=(1, 2, 3), keepdims=True)
  var = conv.var(axis=(1, 2, 3), keepdims=True)  # biased, as InstanceNorm3d
  ref = (conv - mean) / np.sqrt(var + 1e-5) * np.asarray(
      p['instancenorm']['scale']) + np.asarray(p['instancenorm']['bias'])
  np.testing.assert_allclose(y, np.maximum(ref, 0), rtol=1e-4, atol=1e-4)


def test_init_is_pytorch_default_times_weights_init_scale():
  cfg = unet3d.mini_config(filters=(8, 16, 32))
  x = jnp.zeros((1, 16, 16, 16, 1))
  p = nn.unbox(unet3d.UNet3D(cfg).init(jax.random.PRNGKey(3), x)['params'])
  k = np.asarray(p['down1_block_0']['conv']['kernel'])  # 27 * 16 fan-in
  bound = 1 / np.sqrt(27 * 16)
  assert np.abs(k).max() <= bound and np.abs(k).max() > 0.95 * bound
  assert abs(k.std() - bound / np.sqrt(3)) < 0.05 * bound
  # ConvTranspose3d: torch's fan_in is weight.size(1) * 8 = out * 8.
  d = np.asarray(p['up0_deconv']['kernel'])       # 32 -> 32
  bd = np.asarray(p['up0_deconv']['bias'])
  assert np.abs(d).max() <= 1 / np.sqrt(32 * 8) < np.abs(d).max() / 0.95
  assert np.abs(bd).max() <= 1 / np.sqrt(32 * 8)
  ob = np.asarray(p['output_conv']['bias'])
  assert np.abs(ob).max() <= 1 / np.sqrt(8)
  assert np.all(np.asarray(p['input_block_0']['instancenorm']['scale']) == 1)
  assert 'bias' not in p['input_block_0']['conv']
  scaled = nn.unbox(unet3d.UNet3D(unet3d.mini_config(
      filters=(8, 16, 32), weights_init_scale=0.5)).init(
          jax.random.PRNGKey(3), x)['params'])
  for a, b in zip(jax.tree.leaves(scaled), jax.tree.leaves(p)):
    np.testing.assert_allclose(a, 0.5 * np.asarray(b), rtol=1e-6, atol=1e-7)


def test_whole_model_decomposed_equals_native():
  x = jnp.asarray(np.random.default_rng(4).standard_normal(
      (1, 16, 16, 16, 1)), jnp.float32)
  native = unet3d.UNet3D(unet3d.mini_config(filters=(4, 8, 8),
                                            conv_impl='native'))
  dec = unet3d.UNet3D(unet3d.mini_config(filters=(4, 8, 8),
                                         conv_impl='decomposed'))
  v = native.init(jax.random.PRNGKey(0), x)
  a, b = native.apply(v, x), dec.apply(v, x)
  assert a.shape == (1, 16, 16, 16, 3) and a.dtype == jnp.float32
  np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)
  with pytest.raises(ValueError, match='multiples of 8'):
    native.apply(v, x[:, :12])


def test_backend_choice():
  assert c3.conv_impl_for_backend('cpu') == 'decomposed'
  assert c3.conv_impl_for_backend('gpu') == 'native'
  assert c3.conv_impl_for_backend('tpu') == 'native'
