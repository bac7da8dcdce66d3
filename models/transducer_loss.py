# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The RNN-T (transducer) loss: log-space forward recursion over the lattice.

Reference: `rnn_speech_recognition/pytorch/rnnt/loss.py` wraps
`warprnnt_pytorch.RNNTLoss(blank=blank_idx)` (reduction 'mean': the summed
per-utterance negative log-likelihoods over the batch size) on float32
logits `[B, T, U + 1, V]`, with per-example lengths `T_b` (encoder frames)
and `U_b` (labels). No maintained JAX transducer loss exists (optax has CTC
only), so the recursion (Graves 2012) is written here:

  alpha(0, 0) = 0
  alpha(t, u) = logaddexp(alpha(t - 1, u) + blank(t - 1, u),
                          alpha(t, u - 1) + emit(t, u - 1))
  -log P(y | x) = -(alpha(T_b - 1, U_b) + blank(T_b - 1, U_b))

where `blank(t, u) = log_softmax(z[t, u])[blank]` and
`emit(t, u) = log_softmax(z[t, u])[y[u]]`. The recursion runs over the
anti-diagonals `n = t + u` of the lattice (a `lax.scan` of `T + U` steps):
every cell of diagonal `n` depends only on diagonal `n - 1`, so each step is
elementwise over `t`, with no subtraction of cumulative sums (float32-safe).
The gradient is autodiff of that recursion (the reverse scan is the beta
recursion). Cells past an example's lengths never feed its result, so
padded frames and labels get exactly zero gradient.

Memory: the joint tensor `B x T x (U + 1) x V` dominates at the reference
scale (1024 outputs). `joint_log_probs` computes only the two lattice
log-probabilities per cell (`blank` and `emit`, `B x T x (U + 1)` each) in
chunks of encoder frames, each chunk under `jax.checkpoint`: the backward
pass recomputes one chunk's joint at a time, so peak memory holds one chunk
of the joint instead of all of it.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

# A finite "minus infinity": keeps gradients of unreachable cells NaN-free.
_NEG = -1e30


def _at_least_f32(x: jax.Array) -> jax.Array:
  # float32 (bfloat16 logits are upcast, as the reference's loss wrapper
  # does); float64 stays float64 for the exactness tests.
  return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def lattice_log_probs(logits: jax.Array, labels: jax.Array, blank: int
                      ) -> tuple[jax.Array, jax.Array]:
  """(blank, emit) log-probabilities of every lattice cell.

  Args:
    logits: float `[B, T, U + 1, V]` unnormalised joint outputs.
    labels: int `[B, U]` label ids (padding: any valid id).
    blank: the blank index.

  Returns:
    `blank_lp [B, T, U + 1]` = log p(blank | t, u) and `emit_lp [B, T, U + 1]`
    = log p(y[u] | t, u) (the last column, u = U, emits nothing: 0).
  """
  logp = jax.nn.log_softmax(_at_least_f32(logits), axis=-1)
  blank_lp = logp[..., blank]
  b, t, u1, _ = logits.shape
  y = jnp.concatenate([labels, jnp.zeros((b, 1), labels.dtype)], axis=1)
  y = jnp.broadcast_to(y[:, None, :, None], (b, t, u1, 1))
  emit_lp = jnp.take_along_axis(logp, y.astype(jnp.int32), axis=-1)[..., 0]
  emit_lp = emit_lp.at[:, :, -1].set(0.0)
  return blank_lp, emit_lp


def _skew(x: jax.Array) -> jax.Array:
  """[B, T, U1] -> [T + U1 - 1, B, T]: diagonal n, position t holds
  x[b, t, n - t] (_NEG where n - t is outside [0, U1))."""
  _, t, u1 = x.shape
  n = jnp.arange(t + u1 - 1)[:, None]
  ts = jnp.arange(t)[None, :]
  u = n - ts
  valid = (u >= 0) & (u < u1)
  gathered = x[:, ts, jnp.clip(u, 0, u1 - 1)]  # [B, N, T]
  gathered = jnp.where(valid[None], gathered, _NEG)
  return jnp.transpose(gathered, (1, 0, 2))


def loss_from_log_probs(blank_lp: jax.Array, emit_lp: jax.Array,
                        logit_lengths: jax.Array, label_lengths: jax.Array
                        ) -> jax.Array:
  """Per-example negative log-likelihood from the lattice log-probabilities.

  Args:
    blank_lp: float32 `[B, T, U + 1]` (see `lattice_log_probs`).
    emit_lp: float32 `[B, T, U + 1]`.
    logit_lengths: int `[B]` valid frames `T_b` (1 <= T_b <= T).
    label_lengths: int `[B]` valid labels `U_b` (0 <= U_b <= U).

  Returns:
    float32 `[B]`: -log P(y_b | x_b).
  """
  b, t, u1 = blank_lp.shape
  blank_lp, emit_lp = _at_least_f32(blank_lp), _at_least_f32(emit_lp)
  blank_d, emit_d = _skew(blank_lp), _skew(emit_lp)
  ts = jnp.arange(t)
  t_last = jnp.clip(logit_lengths.astype(jnp.int32), 1, t) - 1
  n_last = t_last + label_lengths.astype(jnp.int32)
  alpha0 = jnp.where(ts[None, :] == 0, 0.0, _NEG) * jnp.ones(
      (b, 1), blank_lp.dtype)
  # alpha on diagonal 0 is only cell (0, 0); final values read when n hits
  # the example's last diagonal.
  final0 = jnp.where(n_last == 0, alpha0[:, 0], _NEG)

  def step(carry, xs):
    alpha, final = carry
    n, bl, em = xs  # diagonal n - 1's blank/emit, [B, T]
    from_above = alpha + bl  # (t - 1, u) -> (t, u): shift along t
    from_above = jnp.concatenate(
        [jnp.full((b, 1), _NEG, alpha.dtype), from_above[:, :-1]], axis=1)
    from_left = alpha + em   # (t, u - 1) -> (t, u): same t
    new = jnp.logaddexp(from_above, from_left)
    u = n - ts
    valid = (u >= 0) & (u < u1)
    new = jnp.where(valid[None, :], new, _NEG)
    picked = jnp.take_along_axis(new, t_last[:, None], axis=1)[:, 0]
    final = jnp.where(n_last == n, picked, final)
    return (new, final), None

  steps = jnp.arange(1, t + u1 - 1)
  (_, final), _ = jax.lax.scan(step, (alpha0, final0),
                               (steps, blank_d[:-1], emit_d[:-1]), unroll=4)
  last_blank = blank_lp[jnp.arange(b), t_last,
                        label_lengths.astype(jnp.int32)]
  return -(final + last_blank)


def transducer_loss(logits: jax.Array, labels: jax.Array,
                    logit_lengths: jax.Array, label_lengths: jax.Array,
                    blank: int) -> jax.Array:
  """Per-example RNN-T loss from full joint logits `[B, T, U + 1, V]`."""
  blank_lp, emit_lp = lattice_log_probs(logits, labels, blank)
  return loss_from_log_probs(blank_lp, emit_lp, logit_lengths, label_lengths)


def joint_log_probs(joint: Callable[[jax.Array, jax.Array], jax.Array],
                    enc: jax.Array, pred: jax.Array, labels: jax.Array,
                    blank: int, chunk_frames: int | None = None
                    ) -> tuple[jax.Array, jax.Array]:
  """Lattice log-probabilities without materialising the whole joint.

  Args:
    joint: `(enc [B, Tc, H], pred [B, U + 1, H], chunk index) -> logits
      [B, Tc, U + 1, V]` (pure; it folds the chunk index into its dropout
      key, so chunks draw independent masks).
    enc: `[B, T, He]` encoder output.
    pred: `[B, U + 1, Hp]` prediction-network output.
    labels: int `[B, U]`.
    blank: the blank index.
    chunk_frames: frames per rematerialised chunk; None: one chunk (the
      whole joint, no rematerialisation). T is padded up to a multiple.

  Returns:
    `(blank_lp, emit_lp)`, each float32 `[B, T, U + 1]`.
  """
  def block(args):
    e, i = args
    return lattice_log_probs(joint(e, pred, i), labels, blank)

  t = enc.shape[1]
  if chunk_frames is None or chunk_frames >= t:
    return block((enc, jnp.zeros((), jnp.int32)))
  n = -(-t // chunk_frames)
  pad = n * chunk_frames - t
  e = jnp.pad(enc, ((0, 0), (0, pad), (0, 0)))
  e = e.reshape(e.shape[0], n, chunk_frames, e.shape[-1]).swapaxes(0, 1)
  bl, em = jax.lax.map(jax.checkpoint(block), (e, jnp.arange(n)))  # [n, B, Tc, U + 1]

  def unchunk(x):
    x = x.swapaxes(0, 1).reshape(x.shape[1], n * chunk_frames, x.shape[-1])
    return x[:, :t]
  return unchunk(bl), unchunk(em)


def joint_bytes(batch: int, frames: int, labels: int, vocab: int,
                itemsize: int = 4) -> int:
  """Bytes of one whole joint tensor `B x T x (U + 1) x V`."""
  return batch * frames * (labels + 1) * vocab * itemsize
