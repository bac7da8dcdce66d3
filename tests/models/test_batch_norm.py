# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""models/batch_norm.py == flax's BatchNorm (+ ReLU): variables, outputs,
running statistics and gradients, on the fused CPU path and the plain one;
its per-channel sums kernel against float64 NumPy."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.models import batch_norm, cpu_kernels

needs_kernel = pytest.mark.skipif(
    not cpu_kernels.available(),
    reason=f'CPU kernels unavailable: {cpu_kernels.unavailable_reason()}')


@pytest.fixture
def one_device(monkeypatch):
  # This suite runs on 8 fake devices, where the fused path is off.
  assert not batch_norm.kernel_applies(jnp.zeros((2, 3), jnp.float32))
  monkeypatch.setattr(cpu_kernels, 'one_device', lambda: True)


def _x(shape=(4, 7, 5, 48), seed=0):
  # A mean well away from 0 (as after a convolution) tests the variance.
  return jax.random.normal(jax.random.key(seed), shape) * 2.5 + 1.5


def _train(module, variables, x, post, residual=None, takes_residual=True):
  """Loss, output, updated statistics and gradients (params, x[, residual])
  of a nonlinear loss of post(module(x[, residual]), [residual]) (the
  residual goes to the module if it `takes_residual`, else to post)."""
  args = (x,) if residual is None else (x, residual)

  def loss(p, *a):
    y, upd = module.apply({'params': p, 'batch_stats': variables['batch_stats']},
                          *(a if takes_residual else a[:1]),
                          mutable=['batch_stats'])
    y = post(y, *a[1:])
    w = jnp.sin(jnp.arange(y.shape[-1], dtype=jnp.float32))
    return jnp.sum(y * jnp.cos(y + w)), (y, upd)
  (_, (y, upd)), grads = jax.jit(jax.value_and_grad(
      loss, argnums=tuple(range(len(args) + 1)), has_aux=True))(
          variables['params'], *args)
  return y, upd, grads


def _close(a, b, tol):
  for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    np.testing.assert_allclose(u, v, rtol=0, atol=tol * max(np.abs(v).max(), 1))


def _compare(relu, tol, residual=False):
  x = _x()
  r = _x(seed=9) - 1.5 if residual else None
  ref = nn.BatchNorm(use_running_average=False, momentum=0.9, epsilon=1e-5)
  ours = batch_norm.BatchNorm(use_running_average=False, momentum=0.9,
                              epsilon=1e-5, relu=relu)
  v_ref = ref.init(jax.random.key(1), x)
  v_ours = ours.init(jax.random.key(1), x)
  assert (jax.tree.structure(v_ref) == jax.tree.structure(v_ours))
  _close(v_ours, v_ref, 0)
  # Non-trivial parameters and statistics.
  keys = iter(jax.random.split(jax.random.key(2), 8))
  v = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(next(keys), a.shape),
                   v_ref)
  v['batch_stats']['var'] = jnp.abs(v['batch_stats']['var'])
  def post_ref(y, *res):
    y = y + res[0] if res else y
    return nn.relu(y) if relu else y
  got = _train(ours, v, x, lambda y, *_: y, r)
  want = _train(ref, v, x, post_ref, r, takes_residual=False)
  _close(got, want, tol)
  # Evaluation uses the running statistics, as flax.
  y_ref = post_ref(ref.clone(use_running_average=True).apply(v, x),
                   *(() if r is None else (r,)))
  y_ours = ours.clone(use_running_average=True).apply(
      v, *((x,) if r is None else (x, r)))
  _close(y_ours, y_ref, 1e-6)


# BN, BN + ReLU, and a residual block's end relu(BN(x) + r).
FORMS = [(False, False), (True, False), (True, True)]


@pytest.mark.parametrize('relu,residual', FORMS)
def test_plain_path_is_flax(relu, residual):
  assert not batch_norm.kernel_applies(_x())  # 8 fake devices
  _compare(relu, tol=1e-6, residual=residual)


@needs_kernel
@pytest.mark.parametrize('relu,residual', FORMS)
def test_fused_path_matches_flax(one_device, relu, residual):
  assert batch_norm.kernel_applies(_x())
  _compare(relu, tol=2e-5, residual=residual)
  if residual:
    hlo = jax.jit(lambda v, x, r: batch_norm.BatchNorm(relu=True).apply(
        v, x, r, mutable=['batch_stats'])).lower(
            batch_norm.BatchNorm().init(jax.random.key(0), _x()), _x(),
            _x()).as_text()
    assert batch_norm.RESIDUAL_RELU_TARGET in hlo


@needs_kernel
def test_fused_vjp_including_the_statistics(one_device):
  """The custom VJP of (y, mean, var) against JAX's autodiff of flax's
  expressions, with a cotangent on all three outputs."""
  x = _x((3, 5, 6, 32), seed=3)
  keys = jax.random.split(jax.random.key(4), 5)
  scale = 1 + 0.2 * jax.random.normal(keys[0], (32,))
  bias = 0.2 * jax.random.normal(keys[1], (32,))

  def reference(x, scale, bias):
    mean, var = batch_norm._stats_reference(x)
    y = jnp.maximum((x - mean) * (jax.lax.rsqrt(var + 1e-5) * scale) + bias, 0)
    return y, mean, var

  cts = (jax.random.normal(keys[2], x.shape),
         jax.random.normal(keys[3], (32,)), jax.random.normal(keys[4], (32,)))
  out, vjp = jax.vjp(lambda *a: batch_norm._train_fused(*a, 1e-5, True),
                     x, scale, bias)
  out_ref, vjp_ref = jax.vjp(reference, x, scale, bias)
  _close(out, out_ref, 2e-6)
  _close(vjp(cts), vjp_ref(cts), 2e-5)
  # The residual block's end: relu(BN(x) + r), gradient also for r.
  r = _x(x.shape, seed=6) - 1.5

  def reference_residual(x, scale, bias, r):
    mean, var = batch_norm._stats_reference(x)
    y = (x - mean) * (jax.lax.rsqrt(var + 1e-5) * scale) + bias
    return jnp.maximum(y + r, 0), mean, var

  out, vjp = jax.vjp(
      lambda *a: batch_norm._train_fused_residual(*a, 1e-5), x, scale, bias, r)
  out_ref, vjp_ref = jax.vjp(reference_residual, x, scale, bias, r)
  _close(out, out_ref, 2e-6)
  _close(vjp(cts), vjp_ref(cts), 2e-5)


@needs_kernel
@pytest.mark.parametrize('rows,c', [(300, 19), (128, 64), (1, 16), (257, 33)])
def test_channel_sums_against_float64(rows, c):
  keys = jax.random.split(jax.random.key(rows + c), 4)
  a = jax.random.normal(keys[0], (rows, c))
  b = jax.random.normal(keys[1], (rows, c)) + 0.5
  alpha = jax.random.normal(keys[2], (c,))
  beta = jax.random.normal(keys[3], (c,))
  a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
  for relu in (False, True):
    m = (b64 * np.asarray(alpha) + np.asarray(beta) > 0) if relu else 1.
    s1, s2 = jax.jit(batch_norm.channel_sums, static_argnums=4)(
        a, b, alpha, beta, relu)
    np.testing.assert_allclose(s1, (m * a64).sum(0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(s2, (m * a64 * b64).sum(0), rtol=1e-5,
                               atol=1e-4)


@needs_kernel
def test_sums_do_not_depend_on_the_thread_count(monkeypatch):
  a = _x((1000, 40), seed=5)
  outs = []
  for t in (1, 3):
    monkeypatch.setattr(cpu_kernels, 'threads', lambda t=t: t)
    outs.append(batch_norm.channel_sums(a, a, a[0], a[1], True))
  for u, v in zip(*outs):
    np.testing.assert_array_equal(u, v)


def test_plain_path_where_the_kernel_does_not_apply(one_device, monkeypatch):
  assert not batch_norm.kernel_applies(_x().astype(jnp.bfloat16))
  monkeypatch.setenv(batch_norm.DISABLE_ENV, 'off')
  assert not batch_norm.kernel_applies(_x())
