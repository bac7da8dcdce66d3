# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""RNN-T model: parameter counts, reference initialisation, the LSTM against
NumPy's torch equations and cuDNN's weight layout, StackTime, and greedy
decoding against a per-utterance transcription of the reference loop."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.models import rnnt
from mlperf_jax.models import rnnt_decode
from support import torch_checkpoint_writer as tw


def _abstract(cfg):
  m = rnnt.RNNT(cfg)
  return jax.eval_shape(
      lambda r: m.init(r, jnp.zeros((1, 6, cfg.in_features)), jnp.array([6]),
                       jnp.zeros((1, 2), jnp.int32)),
      jax.random.PRNGKey(0))['params']


def test_reference_parameter_count_and_parts():
  params = flax.linen.meta.unbox(_abstract(rnnt.reference_config()))
  parts = {k: rnnt.count_params(v) for k, v in params.items()}
  assert rnnt.count_params(params) == 49_006_080
  assert parts == {'pre_rnn': 13_582_336, 'post_rnn': 29_384_704,
                   'pred_embed': 523_776, 'dec_rnn': 4_202_496,
                   'joint_enc': 524_800, 'joint_pred': 262_656,
                   'joint_net': 525_312}
  assert params['pre_rnn']['layer_0']['kernel_ih'].shape == (240, 4096)
  assert params['post_rnn']['layer_0']['kernel_ih'].shape == (2048, 4096)


def test_inference_parameter_count():
  # mlcommons/inference speech_recognition/rnnt: configs/rnnt.toml (240
  # inputs, encoder 1024 x (2 + 3), stack 2, pred 320 x 2, joint 512, 28
  # labels + blank) and model_separable_rnnt.py: pre 13,582,336 + post
  # 29,384,704 + Embedding(28, 320) 8,960 + dec_rnn 1,643,520 + Joint's
  # Linear(320 + 1024 -> 512) 688,640 + Linear(512 -> 29) 14,877 =
  # 45,323,037 (README: "45.3 million").
  params = _abstract(rnnt.inference_config())
  assert rnnt.count_params(params) == 45_323_037
  # The 45,323,549 of the issue is this model with the training RNN-T's
  # split joint (joint_enc and joint_pred, each with a bias): 512 more,
  # a bias the official Linear over concat(f, g) does not have.
  split = _abstract(rnnt.inference_config(joint_pred_bias=True))
  assert rnnt.count_params(split) == 45_323_549


def test_torch_state_dict_import_matches_the_concat_joint():
  cfg = _small_cfg(num_classes=29, joint_pred_bias=False)
  model, p0 = _init(cfg)
  st = tw.rnnt_inference_state(cfg, np.random.default_rng(7))
  params = rnnt.import_torch_state_dict(st, cfg)
  rnnt.check_shapes(params, p0)
  rng = np.random.default_rng(8)
  f = rng.normal(size=(2, 3, cfg.enc_hidden)).astype(np.float32)
  g = rng.normal(size=(2, 4, cfg.pred_hidden)).astype(np.float32)
  v = {'params': params}
  got = model.apply(v, model.apply(v, jnp.asarray(f), method=model.project_enc),
                    model.apply(v, jnp.asarray(g), method=model.project_pred),
                    deterministic=True, method=model.joint)
  cat = np.concatenate([np.broadcast_to(f[:, :, None], (2, 3, 4, 8)),
                        np.broadcast_to(g[:, None], (2, 3, 4, 5))], -1)
  h = np.maximum(cat @ st['joint_net.0.weight'].T + st['joint_net.0.bias'], 0)
  expect = h @ st['joint_net.3.weight'].T + st['joint_net.3.bias']
  np.testing.assert_allclose(got, expect, rtol=1e-4, atol=1e-4)
  # The LSTM kernels are torch's transposed.
  np.testing.assert_array_equal(
      params['pre_rnn']['layer_0']['kernel_ih'],
      st['encoder.pre_rnn.lstm.weight_ih_l0'].T)
  del st['prediction.embed.weight']
  with pytest.raises(ValueError, match='prediction.embed.weight'):
    rnnt.import_torch_state_dict(st, cfg)
  bad = dict(params, joint_net={'kernel': np.zeros((6, 5)),
                                'bias': np.zeros(5)})
  with pytest.raises(ValueError, match='joint_net/kernel'):
    rnnt.check_shapes(bad, p0)


def _small_cfg(**kw):
  base = dict(num_classes=7, in_features=6, enc_hidden=8, enc_pre_layers=1,
              enc_post_layers=2, pred_hidden=5, pred_layers=2,
              joint_hidden=6, lstm_impl='scan')
  base.update(kw)
  return rnnt.RNNTConfig(**base)


def _init(cfg, seed=0):
  m = rnnt.RNNT(cfg)
  v = m.init(jax.random.PRNGKey(seed), jnp.zeros((1, 6, cfg.in_features)),
             jnp.array([6]), jnp.zeros((1, 2), jnp.int32))
  return m, flax.linen.meta.unbox(v['params'])


def test_reference_initialisation_scale_and_forget_bias():
  cfg = _small_cfg(enc_hidden=64)
  _, p = _init(cfg)
  layer = p['post_rnn']['layer_1']
  h = 64
  # bias_ih forget slice = 1.0 * 0.5; bias_hh forget slice = 0; the rest
  # U(-1/sqrt(H), 1/sqrt(H)) * 0.5.
  np.testing.assert_array_equal(layer['bias_ih'][h:2 * h], 0.5)
  np.testing.assert_array_equal(layer['bias_hh'][h:2 * h], 0.0)
  bound = 0.5 / np.sqrt(h)
  for w in (layer['kernel_ih'], layer['kernel_hh'], layer['bias_ih'][:h]):
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.8 * bound
  # Linear layers keep torch's bound (no 0.5 scale): joint_enc has fan-in 64.
  assert np.abs(p['joint_enc']['kernel']).max() > 0.8 / np.sqrt(64)
  # The embedding is N(0, 1).
  assert 0.5 < np.std(p['pred_embed']['embedding']) < 1.5


def _np_lstm(x, w_ih, w_hh, b_ih, b_hh):
  """torch.nn.LSTM equations (gates i, f, g, o), float64."""
  sig = lambda z: 1 / (1 + np.exp(-z))
  b, t, _ = x.shape
  h_size = w_hh.shape[0]
  h = np.zeros((b, h_size))
  c = np.zeros((b, h_size))
  ys = []
  for s in range(t):
    z = x[:, s] @ w_ih + b_ih + h @ w_hh + b_hh
    i, f, g, o = np.split(z, 4, axis=-1)
    c = sig(f) * c + sig(i) * np.tanh(g)
    h = sig(o) * np.tanh(c)
    ys.append(h)
  return np.stack(ys, 1), h, c


def test_scan_lstm_matches_torch_equations_and_cudnn_layout():
  rng = np.random.default_rng(0)
  b, t, i, h = 3, 9, 5, 4
  x = rng.normal(size=(b, t, i))
  w_ih, w_hh = rng.normal(size=(i, 4 * h)), rng.normal(size=(h, 4 * h))
  b_ih, b_hh = rng.normal(size=4 * h), rng.normal(size=4 * h)
  ref_y, ref_h, ref_c = _np_lstm(x, w_ih, w_hh, b_ih, b_hh)
  f32 = lambda a: jnp.asarray(a, jnp.float32)
  zeros = jnp.zeros((b, h))
  y, (hh, cc) = rnnt.scan_lstm(f32(x), (zeros, zeros), f32(w_ih), f32(w_hh),
                               f32(b_ih + b_hh))
  np.testing.assert_allclose(y, ref_y, atol=1e-5)
  np.testing.assert_allclose(hh, ref_h, atol=1e-5)
  np.testing.assert_allclose(cc, ref_c, atol=1e-5)
  # The packed cuDNN weights unpack (jax.experimental.rnn's own reader) to
  # torch's W_ih [4H, I] etc., and jax's reference LSTM on them agrees.
  from jax.experimental import rnn
  flat = rnnt.cudnn_weights(f32(w_ih), f32(w_hh), f32(b_ih), f32(b_hh))
  assert flat.size == rnn.get_num_params_in_lstm(i, h, 1, False)
  wi, wh, bi, bh = rnn.unpack_lstm_weights(flat, i, h, 1, False)
  np.testing.assert_allclose(wi[0], w_ih.T, rtol=1e-6)
  np.testing.assert_allclose(bh[0], b_hh, rtol=1e-6)
  y2, h2, c2 = rnn.lstm_ref(f32(x), zeros[None], zeros[None], wi, wh, bi, bh,
                            jnp.full((b,), t, jnp.int32), i, h, 1, 0.0, False)
  np.testing.assert_allclose(y2, ref_y, atol=1e-5)
  np.testing.assert_allclose(c2[0], ref_c, atol=1e-5)


# Runs wherever a GPU is (benchmarks/gpu_suite.sh calls it by node id);
# skipped on CPU.
@pytest.mark.skipif(jax.default_backend() != 'gpu', reason='cuDNN needs a GPU')
def test_cudnn_lstm_equals_scan_on_gpu():
  cfg_scan = _small_cfg(lstm_impl='scan', enc_hidden=32)
  cfg_cudnn = _small_cfg(lstm_impl='cudnn', enc_hidden=32)
  cfg_auto = _small_cfg(lstm_impl='auto', enc_hidden=32)
  _, p = _init(cfg_scan)
  x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 11, 6)),
                  jnp.float32)
  lens = jnp.array([11, 7, 4])

  def encode(cfg, params):
    return rnnt.RNNT(cfg).apply({'params': params}, x, lens,
                                deterministic=True, method=rnnt.RNNT.encode)

  (y_scan, n_scan), (y_cudnn, n_cudnn), (y_auto, _) = [
      encode(c, p) for c in (cfg_scan, cfg_cudnn, cfg_auto)]
  np.testing.assert_array_equal(n_scan, n_cudnn)
  # Every frame, padding included: the reference computes through it, and
  # the odd lengths (11, 7) take a padded frame into their last valid one.
  np.testing.assert_allclose(y_scan, y_cudnn, atol=1e-4)
  valid = (np.arange(y_scan.shape[1])[None] < np.asarray(n_scan)[:, None])
  np.testing.assert_array_equal(y_auto, y_cudnn)  # 'auto' is cuDNN on GPU

  def loss(cfg):
    def f(params):
      y, _ = encode(cfg, params)
      return jnp.sum(jnp.where(jnp.asarray(valid)[..., None], y, 0.0) ** 2)
    return jax.grad(f)(p)

  for a, b in zip(jax.tree.leaves(loss(cfg_scan)),
                  jax.tree.leaves(loss(cfg_cudnn))):
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)


def test_stack_time_as_the_reference():
  x = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
  y, lens = rnnt.stack_time(jnp.asarray(x), jnp.array([5, 3]), 2)
  # Frame t + 1 (zeros past the end) next to frame t; frames 0, 2, 4 kept.
  expect = np.concatenate([x, np.concatenate(
      [x[:, 1:], np.zeros((2, 1, 3), np.float32)], 1)], -1)[:, ::2]
  np.testing.assert_array_equal(y, expect)
  np.testing.assert_array_equal(lens, [3, 2])


def _reference_greedy(model, params, feats, feat_lens, per_step, per_sample):
  """`RNNTGreedyDecoder._greedy_decode`, one utterance at a time."""
  v = {'params': params}
  enc, enc_lens = model.apply(v, feats, feat_lens, deterministic=True,
                              method=model.encode)
  out = []
  for b in range(feats.shape[0]):
    hidden, label = None, []
    f = model.apply(v, enc[b:b + 1], method=model.project_enc)
    for t in range(int(enc_lens[b])):
      if len(label) > per_sample:
        break
      symbols = 0
      while symbols < per_step:
        last = -1 if not label else label[-1]
        g, hidden_prime = model.apply(
            v, jnp.array([[last]]), hidden, deterministic=True,
            add_sos=False, method=model.predict)
        gp = model.apply(v, g, method=model.project_pred)
        logits = model.apply(v, f[:, t:t + 1], gp, deterministic=True,
                             method=model.joint)[0, 0, 0]
        k = int(np.argmax(np.asarray(logits)))
        symbols += 1
        if k == model.cfg.blank:
          break
        label.append(k)
        hidden = hidden_prime
    out.append(label)
  return out


@pytest.mark.parametrize('blank_bias', [0.0, -30.0])
def test_greedy_decoder_matches_the_reference_loop(blank_bias):
  cfg = _small_cfg()
  model, p = _init(cfg, seed=3)
  # blank_bias -30: blank never wins, so the 4-per-frame and 10-per-sample
  # limits decide (small limits keep the reference loop short).
  p = jax.tree.map(lambda x: x, p)
  p['joint_net']['bias'] = p['joint_net']['bias'].at[cfg.blank].add(
      blank_bias)
  rng = np.random.default_rng(4)
  feats = jnp.asarray(rng.normal(size=(3, 10, cfg.in_features)), jnp.float32)
  lens = jnp.array([10, 7, 2])
  per_step, per_sample = 4, 10
  ref = _reference_greedy(model, p, feats, lens, per_step, per_sample)
  labels, count = jax.jit(lambda p, f, l: rnnt_decode.greedy_decode(
      model, p, f, l, per_step=per_step, per_sample=per_sample))(p, feats,
                                                                 lens)
  got = [list(np.asarray(labels[b, :int(count[b])])) for b in range(3)]
  assert got == ref
  assert not np.any(np.asarray(labels)[np.arange(labels.shape[1])[None]
                                       >= np.asarray(count)[:, None]] != -1)
  if blank_bias:
    # 5 stacked frames -> ceil(10 / 2) = 5 encoder frames for utterance 0:
    # 4 labels per frame until more than 10 were emitted -> 12.
    assert [len(r) for r in ref] == [12, 12, 4]
  assert rnnt_decode.max_output_length(100) == 330
