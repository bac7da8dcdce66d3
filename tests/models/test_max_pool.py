# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""models/max_pool.py: the window-tap max pool and the CPU kernels equal
flax's, forward and gradient (ties routed to the same tap), and the impl
names are checked."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.models import cpu_kernels, max_pool

# ResNet-50's stem pool ('SAME', odd and even sides), SSD's / Mask R-CNN's
# explicit (1, 1), a non-square window and VALID.
CASES = [
    ((2, 12, 12, 3), (3, 3), (2, 2), 'SAME'),
    ((2, 11, 13, 2), (3, 3), (2, 2), ((1, 1), (1, 1))),
    ((1, 10, 9, 4), (2, 3), (1, 2), 'VALID'),
    # Channels over one vector and a remainder (the kernels' two paths).
    ((2, 9, 10, 35), (3, 3), (2, 2), 'SAME'),
]

IMPLS = ['taps', pytest.param('kernel', marks=pytest.mark.skipif(
    not max_pool.kernel_available(),
    reason=f'CPU kernels unavailable: {cpu_kernels.unavailable_reason()}'))]


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('shape,window,strides,padding', CASES)
def test_equal_flax_forward_and_gradient_with_ties(monkeypatch, impl, shape,
                                                   window, strides, padding):
  # This suite runs on 8 fake devices, where 'kernel' falls back to 'taps'.
  monkeypatch.setattr(cpu_kernels, 'one_device', lambda: True)
  rng = np.random.default_rng(0)
  # Small integers after a ReLU: most windows hold their maximum twice or
  # more, so a gradient routed to another tap than XLA's would show.
  x = jnp.asarray(np.maximum(rng.integers(-2, 3, shape), 0), jnp.float32)
  want_fn = lambda v: nn.max_pool(v, window, strides=strides,
                                  padding=padding)
  got_fn = lambda v: max_pool.max_pool(v, window, strides, padding,
                                       impl=impl)
  hlo = jax.jit(jax.grad(lambda v: got_fn(v).sum())).lower(x).as_text()
  assert (max_pool.BACKWARD_TARGET in hlo) == (impl == 'kernel')
  want, want_pull = jax.vjp(want_fn, x)
  got, got_pull = jax.vjp(jax.jit(got_fn), x)
  np.testing.assert_array_equal(got, want)
  g = jnp.asarray(rng.standard_normal(want.shape), jnp.float32)
  np.testing.assert_allclose(got_pull(g)[0], want_pull(g)[0], rtol=0,
                             atol=1e-6)
  # Every output's gradient lands on exactly one input.
  np.testing.assert_allclose(got_pull(jnp.ones_like(g))[0].sum(), g.size)


def test_auto_on_cpu_only_and_names_are_checked(monkeypatch):
  assert max_pool.resolve('auto', 'cpu') == (
      'kernel' if max_pool.kernel_available() else 'taps')
  monkeypatch.setenv(max_pool.DISABLE_ENV, 'off')
  assert max_pool.resolve('auto', 'cpu') == 'taps'
  assert max_pool.resolve('auto', 'gpu') == 'xla'
  assert max_pool.for_conv_lowering('xla') == 'xla'
  assert max_pool.for_conv_lowering('auto') == 'auto'
  assert max_pool.describe('auto', 'gpu') == 'xla reduce-window on gpu'
  with pytest.raises(ValueError, match='taps'):
    max_pool.resolve('fast')
  x = jnp.ones((1, 8, 8, 2))
  hlo = jax.jit(jax.grad(lambda v: max_pool.max_pool(
      v, (3, 3), (2, 2), 'SAME', impl='taps').sum())).lower(x).as_text()
  assert 'select_and_scatter' not in hlo and 'reduce_window' not in hlo
