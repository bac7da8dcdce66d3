# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The transducer loss against a float64 NumPy transcription of the lattice
recursions (alpha for the value, alpha-beta for the gradient), against
central finite differences, and its memory-saving chunked joint."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.models import transducer_loss as tl


def _log_softmax(z):
  m = z.max(-1, keepdims=True)
  return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


def _np_loss_and_grad(logits, labels, t_len, u_len, blank):
  """Per-example loss and d(sum of losses)/d(logits), float64 loops."""
  losses = np.zeros(len(logits))
  grad = np.zeros(logits.shape)
  for b in range(len(logits)):
    lp = _log_softmax(logits[b].astype(np.float64))
    tb, ub = int(t_len[b]), int(u_len[b])
    y = labels[b]
    alpha = np.full((tb, ub + 1), -np.inf)
    alpha[0, 0] = 0.0
    for t in range(tb):
      for u in range(ub + 1):
        if t == 0 and u == 0:
          continue
        terms = []
        if t > 0:
          terms.append(alpha[t - 1, u] + lp[t - 1, u, blank])
        if u > 0:
          terms.append(alpha[t, u - 1] + lp[t, u - 1, y[u - 1]])
        alpha[t, u] = np.logaddexp.reduce(terms)
    beta = np.full((tb, ub + 1), -np.inf)
    beta[tb - 1, ub] = lp[tb - 1, ub, blank]
    for t in reversed(range(tb)):
      for u in reversed(range(ub + 1)):
        if t == tb - 1 and u == ub:
          continue
        terms = []
        if t < tb - 1:
          terms.append(beta[t + 1, u] + lp[t, u, blank])
        if u < ub:
          terms.append(beta[t, u + 1] + lp[t, u, y[u]])
        beta[t, u] = np.logaddexp.reduce(terms)
    log_p = alpha[tb - 1, ub] + lp[tb - 1, ub, blank]
    np.testing.assert_allclose(beta[0, 0], log_p, rtol=1e-12)
    losses[b] = -log_p
    # d(-log P)/d lp[t, u, k] for the two arcs out of each cell.
    g_lp = np.zeros(lp.shape)
    for t in range(tb):
      for u in range(ub + 1):
        nxt = beta[t + 1, u] if t < tb - 1 else (0.0 if u == ub else -np.inf)
        g_lp[t, u, blank] -= np.exp(alpha[t, u] + lp[t, u, blank] + nxt -
                                    log_p)
        if u < ub:
          g_lp[t, u, y[u]] -= np.exp(alpha[t, u] + lp[t, u, y[u]] +
                                     beta[t, u + 1] - log_p)
    # Through log_softmax: dz = g - softmax * sum(g).
    grad[b] = g_lp - np.exp(lp) * g_lp.sum(-1, keepdims=True)
  return losses, grad


def _case(seed, b=3, t=7, u=4, v=6):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=(b, t, u + 1, v)) * 2
  labels = rng.integers(0, v - 1, size=(b, u))
  t_len = np.array([t, t - 2, 1])[:b]
  u_len = np.array([u, 2, 0])[:b]
  return logits, labels, t_len, u_len, v - 1


def _jax_loss(logits, labels, t_len, u_len, blank):
  return tl.transducer_loss(jnp.asarray(logits), jnp.asarray(labels),
                            jnp.asarray(t_len), jnp.asarray(u_len), blank)


def test_float64_value_and_gradient_match_the_numpy_loops():
  logits, labels, t_len, u_len, blank = _case(0)
  ref, ref_grad = _np_loss_and_grad(logits, labels, t_len, u_len, blank)
  with jax.enable_x64(True):
    val, grad = jax.value_and_grad(
        lambda z: jnp.sum(_jax_loss(z, labels, t_len, u_len, blank)))(
            jnp.asarray(logits, jnp.float64))
    per = _jax_loss(jnp.asarray(logits, jnp.float64), labels, t_len, u_len,
                    blank)
  np.testing.assert_allclose(np.asarray(per), ref, rtol=1e-12)
  np.testing.assert_allclose(float(val), ref.sum(), rtol=1e-12)
  np.testing.assert_allclose(np.asarray(grad), ref_grad, atol=1e-12)
  # Padded frames (t >= T_b) and label positions (u > U_b) get exactly 0.
  g = np.asarray(grad)
  for b in range(len(t_len)):
    assert not g[b, t_len[b]:].any()
    assert not g[b, :, u_len[b] + 1:].any()
    assert np.abs(g[b, :t_len[b], :u_len[b] + 1]).max() > 1e-3


def test_float32_matches_float64_reference():
  logits, labels, t_len, u_len, blank = _case(1, b=2, t=40, u=12, v=9)
  t_len, u_len = np.array([40, 31]), np.array([12, 7])
  ref, ref_grad = _np_loss_and_grad(logits, labels, t_len, u_len, blank)
  val, grad = jax.value_and_grad(
      lambda z: jnp.sum(_jax_loss(z, labels, t_len, u_len, blank)))(
          jnp.asarray(logits, jnp.float32))
  np.testing.assert_allclose(float(val), ref.sum(), rtol=1e-5)
  np.testing.assert_allclose(np.asarray(grad), ref_grad, atol=1e-4)


def test_gradient_matches_central_finite_differences():
  logits, labels, t_len, u_len, blank = _case(2, b=2, t=5, u=3, v=5)
  rng = np.random.default_rng(3)
  with jax.enable_x64(True):
    f = lambda z: jnp.sum(_jax_loss(z, labels, t_len, u_len, blank))
    z0 = jnp.asarray(logits, jnp.float64)
    grad = np.asarray(jax.grad(f)(z0))
    eps = 1e-6
    for _ in range(12):
      idx = tuple(int(rng.integers(0, n)) for n in logits.shape)
      d = np.zeros(logits.shape)
      d[idx] = eps
      fd = (float(f(z0 + d)) - float(f(z0 - d))) / (2 * eps)
      np.testing.assert_allclose(grad[idx], fd, atol=1e-8)


def test_blank_only_lattice_is_the_sum_of_blank_log_probs():
  # U_b = 0: the only path emits blank at every frame.
  logits, labels, _, _, blank = _case(4, b=1, t=6, u=3, v=5)
  loss = _jax_loss(logits, labels, np.array([6]), np.array([0]), blank)
  lp = _log_softmax(logits[0])
  np.testing.assert_allclose(float(loss[0]), -lp[:, 0, blank].sum(),
                             rtol=1e-5)


@pytest.mark.parametrize('chunk', [None, 2, 3])
def test_chunked_joint_equals_the_whole_joint(chunk):
  rng = np.random.default_rng(5)
  b, t, u, h, v = 2, 7, 3, 4, 6
  enc = jnp.asarray(rng.normal(size=(b, t, h)), jnp.float32)
  pred = jnp.asarray(rng.normal(size=(b, u + 1, h)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(h, v)), jnp.float32)
  labels = jnp.asarray(rng.integers(0, v - 1, size=(b, u)))
  t_len, u_len = jnp.array([7, 4]), jnp.array([3, 1])

  def joint(e, p, i):
    del i
    return jnp.tanh(e[:, :, None] + p[:, None]) @ w

  def loss(enc, pred, chunk):
    bl, em = tl.joint_log_probs(joint, enc, pred, labels, v - 1, chunk)
    return jnp.sum(tl.loss_from_log_probs(bl, em, t_len, u_len))

  full = jax.value_and_grad(
      lambda e, p: jnp.sum(tl.transducer_loss(joint(e, p, 0), labels, t_len,
                                              u_len, v - 1)),
      argnums=(0, 1))(enc, pred)
  got = jax.value_and_grad(loss, argnums=(0, 1))(enc, pred, chunk)
  np.testing.assert_allclose(got[0], full[0], rtol=1e-5)
  for a, e in zip(got[1], full[1]):
    np.testing.assert_allclose(a, e, atol=1e-5)


def test_joint_bytes_of_the_reference_batch():
  # 16.7 s: 1671 feature frames -> 557 after stacking -> 279 encoder frames.
  assert tl.joint_bytes(128, 279, 120, 1024) == 128 * 279 * 121 * 1024 * 4
