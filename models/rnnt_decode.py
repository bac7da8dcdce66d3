# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Batched greedy RNN-T decoding, as the reference's `RNNTGreedyDecoder`.

Reference: `rnn_speech_recognition/pytorch/rnnt/decoder.py` (v1.1), per
utterance: for each encoder frame t < T_b (stopping before a frame once more
than `max_symbol_per_sample` (300) labels were emitted), repeat at most
`max_symbols_per_step` (30) times: run the prediction network on the last
emitted label (the start symbol, a zero embedding, before any) from the
state after the previous emission, take the argmax of the joint at (t, that
output); blank ends the frame, any other label is appended and its state
kept. The eval model is deterministic (no dropout).

Here the whole batch decodes at once: a `lax.scan` over frames with a
`lax.while_loop` of up to 30 symbol steps inside, each step masked per
utterance, so every utterance follows exactly the reference's sequence of
decisions. The prediction network's output after the last emitted label is
kept, so each step runs one joint evaluation and, for utterances that
emitted, one prediction-network step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

MAX_SYMBOLS_PER_STEP = 30
MAX_SYMBOLS_PER_SAMPLE = 300


def max_output_length(frames: int, per_step: int = MAX_SYMBOLS_PER_STEP,
                      per_sample: int = MAX_SYMBOLS_PER_SAMPLE) -> int:
  """The most labels one utterance can get: up to `per_step` at each frame,
  and frames start only while at most `per_sample` were emitted."""
  return min(frames * per_step, per_sample + per_step)


def greedy_decode(model, params, feats, feat_lens, *,
                  per_step: int = MAX_SYMBOLS_PER_STEP,
                  per_sample: int = MAX_SYMBOLS_PER_SAMPLE):
  """Greedy transcription of a batch.

  Args:
    model: an `models.rnnt.RNNT`.
    params: its parameters.
    feats: float `[B, T, F]` features; feat_lens: int `[B]`.
    per_step: symbols per encoder frame at most (the reference's 30).
    per_sample: the per-utterance limit checked before each frame (300).

  Returns:
    `(labels int32 [B, L], lengths int32 [B])`; entries past a length are -1.
  """
  variables = {'params': params}
  enc, enc_lens = model.apply(variables, feats, feat_lens,
                              deterministic=True, method=model.encode)
  f_proj = model.apply(variables, enc, method=model.project_enc)
  b, t_max, _ = f_proj.shape
  blank = model.cfg.blank
  out_len = max_output_length(t_max, per_step, per_sample)

  def pred_step(labels, carry):
    g, carry = model.apply(variables, labels[:, None], carry,
                           deterministic=True, add_sos=False,
                           method=model.predict)
    return model.apply(variables, g[:, 0], method=model.project_pred), carry

  g0, carry0 = pred_step(jnp.full((b,), -1, jnp.int32), None)
  # The carry for the first emission is the state after the start symbol.

  def joint_argmax(f_t, g):
    logits = model.apply(variables, f_t[:, None], g[:, None],
                         deterministic=True, method=model.joint)
    return jnp.argmax(logits[:, 0, 0], axis=-1).astype(jnp.int32)

  def frame(state, xs):
    t, f_t = xs
    g, carry, out, count = state
    live = (t < enc_lens) & (count <= per_sample)

    def cond(s):
      i, active = s[0], s[1]
      return (i < per_step) & jnp.any(active)

    def body(s):
      i, active, g, carry, out, count = s
      k = joint_argmax(f_t, g)
      emit = active & (k != blank)
      out = out.at[jnp.arange(b), jnp.where(emit, count, out_len)].set(
          k, mode='drop')
      count = count + emit.astype(jnp.int32)
      g_new, carry_new = pred_step(jnp.where(emit, k, 0), carry)
      g = jnp.where(emit[:, None], g_new, g)
      carry = jax.tree.map(
          lambda n, o: jnp.where(emit[:, None], n, o), carry_new, carry)
      return i + 1, emit, g, carry, out, count

    _, _, g, carry, out, count = jax.lax.while_loop(
        cond, body, (jnp.zeros((), jnp.int32), live, g, carry, out, count))
    return (g, carry, out, count), None

  out0 = jnp.full((b, out_len), -1, jnp.int32)
  count0 = jnp.zeros((b,), jnp.int32)
  (_, _, out, count), _ = jax.lax.scan(
      frame, (g0, carry0, out0, count0),
      (jnp.arange(t_max), jnp.swapaxes(f_proj, 0, 1)))
  return out, count
