# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The RNN-T of the MLPerf Training v1.x speech benchmark, in Flax Linen.

Reference: mlcommons/training `rnn_speech_recognition/pytorch` (v1.1):
`rnnt/model.py` (`RNNT`, `StackTime`), `common/rnn.py` (`LSTM`) and
`configs/baseline_v3-1023sp.yaml`:

* encoder: `pre_rnn` LSTM 2 x 1024 over the 240-dim stacked features ->
  `StackTime(2)` (frame t concatenated with frame t + 1, zeros past the end,
  every 2nd frame kept; lengths `ceil(T / 2)`) -> `post_rnn` LSTM 3 x 1024;
  dropout 0.1 after every LSTM layer (torch's inter-layer dropout plus the
  wrapper's output dropout);
* prediction: `Embedding(n_classes - 1, 512)` with a zero vector as the
  start symbol, then `dec_rnn` LSTM 2 x 512, dropout 0.3;
* joint: `joint_enc` Linear(1024 -> 512) + `joint_pred` Linear(512 -> 512),
  broadcast sum over (t, u), ReLU, dropout 0.3, `joint_net`
  Linear(512 -> n_classes); blank is the last class (`n_classes - 1`).

Initialisation as torch plus the reference's changes: LSTM weights and
biases U(-1/sqrt(H), 1/sqrt(H)), then the forget-gate slice of `bias_ih` set
to `forget_gate_bias` (1.0) and that of `bias_hh` scaled by
`hidden_hidden_bias_scale` (0.0), then every LSTM weight and bias scaled by
`weights_init_scale` (0.5; the scale lives in `common/rnn.py`'s LSTM, so it
touches only the LSTMs). Linear layers: torch's U(-1/sqrt(fan_in),
1/sqrt(fan_in)) for weight and bias; the embedding N(0, 1). Each LSTM keeps
torch's two biases (`bias_ih`, `bias_hh`), which the parameter count
(49,006,080) includes. Gate order i, f, g, o as torch and cuDNN.

The LSTM runs as a `lax.scan` (input projection for all frames as one
matmul, then the recurrence), or, on GPU, through cuDNN
(`jax.experimental.rnn.lstm`), one layer per call, from the same
parameters (`cudnn_weights` packs them into cuDNN's flat layout); both are
tested equal. The inference model of MLPerf Inference v1.x
(`inference_config`: 29 characters, prediction net 320, 45,323,037
parameters; `import_torch_state_dict` maps its PyTorch state dict) is the
same module with another config.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# Everything is replicated (data parallel); the names document the axes.
LOGICAL_AXIS_RULES: tuple[tuple[str, Any], ...] = (
    ('lstm_in', None), ('lstm_gates', None), ('embed_vocab', None),
    ('embed_dim', None), ('joint_in', None), ('joint_out', None))

# The seven `weights_initialization` tensors of the 1.1.0 ruleset, which are
# also the top-level module names.
INIT_TENSOR_NAMES = ('pre_rnn', 'post_rnn', 'pred_embed', 'dec_rnn',
                     'joint_pred', 'joint_enc', 'joint_net')


@dataclasses.dataclass(frozen=True)
class RNNTConfig:
  """Sizes of an RNN-T (defaults: the MLPerf Training reference)."""
  num_classes: int = 1024          # 1023 SentencePiece pieces + blank
  in_features: int = 240           # 80 mel x frame stacking 3
  enc_hidden: int = 1024
  enc_pre_layers: int = 2
  enc_post_layers: int = 3
  stack_time: int = 2
  enc_dropout: float = 0.1
  pred_hidden: int = 512
  pred_layers: int = 2
  pred_dropout: float = 0.3
  joint_hidden: int = 512
  joint_dropout: float = 0.3
  forget_gate_bias: float = 1.0
  hidden_hidden_bias_scale: float = 0.0
  weights_init_scale: float = 0.5
  # The inference model's joint is one Linear over concat(f, g): the same
  # function as joint_enc(f) + joint_pred(g) with a single bias.
  joint_pred_bias: bool = True
  # 'auto': cuDNN on GPU, the scan elsewhere; or 'scan' / 'cudnn'.
  lstm_impl: str = 'auto'
  dtype: Any = jnp.float32

  @property
  def blank(self) -> int:
    return self.num_classes - 1


def reference_config(**kw) -> RNNTConfig:
  """The training reference (`baseline_v3-1023sp.yaml`)."""
  return RNNTConfig(**kw)


def inference_config(**kw) -> RNNTConfig:
  """MLPerf Inference v1.x RNN-T (`speech_recognition/rnnt/pytorch/configs/
  rnnt.toml`, `model_separable_rnnt.py`): 28 characters + blank, prediction
  and embedding 320, the joint's first Linear over concat(f, g) (one bias),
  forget-gate bias 1 without the training model's 0.5 scale."""
  base = dict(num_classes=29, pred_hidden=320, joint_pred_bias=False,
              weights_init_scale=1.0)
  base.update(kw)
  return RNNTConfig(**base)


def mini_config(num_classes: int, **kw) -> RNNTConfig:
  """The mini model: the reference structure, narrower and shallower."""
  base = dict(num_classes=num_classes, in_features=240, enc_hidden=160,
              enc_pre_layers=1, enc_post_layers=1, pred_hidden=96,
              pred_layers=1, joint_hidden=160)
  base.update(kw)
  return RNNTConfig(**base)


def _uniform(scale: float):
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -scale, scale)
  return init


class LSTMLayer(nn.Module):
  """One torch-style LSTM layer (two biases, gates i, f, g, o)."""
  hidden: int
  forget_gate_bias: float
  hidden_hidden_bias_scale: float
  weights_init_scale: float
  impl: str = 'scan'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, lengths, carry=None):
    """x [B, T, I] -> (y [B, T, H], (h, c) after the last frame of x)."""
    h = self.hidden
    k = 1.0 / math.sqrt(h)
    s = self.weights_init_scale

    def weight(key, shape, dtype=jnp.float32):
      return _uniform(k)(key, shape, dtype) * s

    def bias_ih(key, shape, dtype=jnp.float32):
      b = _uniform(k)(key, shape, dtype)
      return b.at[h:2 * h].set(self.forget_gate_bias) * s

    def bias_hh(key, shape, dtype=jnp.float32):
      b = _uniform(k)(key, shape, dtype)
      return b.at[h:2 * h].multiply(self.hidden_hidden_bias_scale) * s

    gates = ('lstm_in', 'lstm_gates')
    w_ih = self.param('kernel_ih', nn.with_logical_partitioning(weight, gates),
                      (x.shape[-1], 4 * h))
    w_hh = self.param('kernel_hh', nn.with_logical_partitioning(weight, gates),
                      (h, 4 * h))
    b_ih = self.param('bias_ih', nn.with_logical_partitioning(
        bias_ih, ('lstm_gates',)), (4 * h,))
    b_hh = self.param('bias_hh', nn.with_logical_partitioning(
        bias_hh, ('lstm_gates',)), (4 * h,))
    b = x.shape[0]
    if carry is None:
      zeros = jnp.zeros((b, h), jnp.float32)
      carry = (zeros, zeros)
    impl = self.impl
    if impl == 'auto':
      impl = 'cudnn' if jax.default_backend() == 'gpu' else 'scan'
    if impl == 'cudnn':
      return _cudnn_lstm(x, lengths, carry, w_ih, w_hh, b_ih, b_hh,
                         self.dtype)
    return scan_lstm(x, carry, w_ih, w_hh, b_ih + b_hh, self.dtype)


def scan_lstm(x, carry, w_ih, w_hh, bias, dtype=jnp.float32):
  """The LSTM recurrence as a `lax.scan` over frames (batch-major x)."""
  xw = jnp.einsum('bti,ig->tbg', x.astype(dtype), w_ih.astype(dtype))
  xw = xw.astype(jnp.float32) + bias
  w_hh = w_hh.astype(dtype)

  def step(state, xt):
    h, c = state
    z = xt + jnp.dot(h.astype(dtype), w_hh).astype(jnp.float32)
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h

  (h, c), ys = jax.lax.scan(step, carry, xw, unroll=8)
  return jnp.swapaxes(ys, 0, 1).astype(dtype), (h, c)


def cudnn_weights(w_ih, w_hh, b_ih, b_hh):
  """One layer's parameters in cuDNN's flat layout (torch shapes
  W_ih [4H, I], W_hh [4H, H], then b_ih, b_hh), as
  `jax.experimental.rnn.unpack_lstm_weights` reads it."""
  return jnp.concatenate([w_ih.T.reshape(-1), w_hh.T.reshape(-1),
                          b_ih, b_hh])


def _cudnn_lstm(x, lengths, carry, w_ih, w_hh, b_ih, b_hh, dtype):
  """cuDNN over every frame of x, as the scan: the reference runs its
  LSTMs on the zero-padded batch without packing, so frames past an
  utterance's length are computed too (and, through StackTime, reach the
  last valid encoder frame of an odd-length utterance); cuDNN given the
  true lengths would zero them instead."""
  from jax.experimental import rnn  # pylint: disable=import-outside-toplevel
  del lengths
  lengths = jnp.full((x.shape[0],), x.shape[1], jnp.int32)
  h0, c0 = carry
  weights = cudnn_weights(w_ih, w_hh, b_ih, b_hh).astype(dtype)
  y, h, c = rnn.lstm(x.astype(dtype), h0[None].astype(dtype),
                     c0[None].astype(dtype), weights,
                     lengths.astype(jnp.int32), input_size=x.shape[-1],
                     hidden_size=w_hh.shape[0], num_layers=1, dropout=0.0,
                     bidirectional=False)
  return y, (h[0].astype(jnp.float32), c[0].astype(jnp.float32))


class LSTM(nn.Module):
  """Stacked LSTM layers with dropout after each (the reference's `rnn`)."""
  hidden: int
  num_layers: int
  dropout: float
  cfg: RNNTConfig

  @nn.compact
  def __call__(self, x, lengths, carry=None, *, deterministic: bool):
    """carry: per-layer (h, c) or None; returns (y, new carries)."""
    out = []
    for layer in range(self.num_layers):
      x, state = LSTMLayer(
          self.hidden, self.cfg.forget_gate_bias,
          self.cfg.hidden_hidden_bias_scale, self.cfg.weights_init_scale,
          impl=self.cfg.lstm_impl, dtype=self.cfg.dtype,
          name=f'layer_{layer}')(x, lengths,
                                 None if carry is None else carry[layer])
      out.append(state)
      x = nn.Dropout(self.dropout)(x, deterministic=deterministic)
    return x, tuple(out)


def stack_time(x, lengths, factor: int):
  """`StackTime`: frame t with frames t + 1 .. t + factor - 1 (zeros past
  the end) on the feature axis, every `factor`-th frame kept."""
  b, t, d = x.shape
  parts = [x]
  for i in range(1, factor):
    parts.append(jnp.concatenate([x[:, i:], jnp.zeros((b, i, d), x.dtype)],
                                 axis=1))
  y = jnp.concatenate(parts, axis=-1)[:, ::factor]
  return y, (lengths + factor - 1) // factor


def _linear_init(fan_in: int):
  return _uniform(1.0 / math.sqrt(fan_in))


def _dense(features: int, fan_in: int, name: str, dtype, use_bias=True):
  init = _linear_init(fan_in)
  return nn.Dense(
      features, name=name, dtype=dtype, use_bias=use_bias,
      kernel_init=nn.with_logical_partitioning(init, ('joint_in',
                                                      'joint_out')),
      bias_init=nn.with_logical_partitioning(init, ('joint_out',)))


class RNNT(nn.Module):
  """Encoder, prediction network and joint; `__call__` is for init."""
  cfg: RNNTConfig

  def setup(self):
    c = self.cfg
    self.pre_rnn = LSTM(c.enc_hidden, c.enc_pre_layers, c.enc_dropout, c)
    self.post_rnn = LSTM(c.enc_hidden, c.enc_post_layers, c.enc_dropout, c)
    self.pred_embed = nn.Embed(
        c.num_classes - 1, c.pred_hidden, dtype=c.dtype,
        embedding_init=nn.with_logical_partitioning(
            nn.initializers.normal(1.0), ('embed_vocab', 'embed_dim')))
    self.dec_rnn = LSTM(c.pred_hidden, c.pred_layers, c.pred_dropout, c)
    self.joint_pred = _dense(c.joint_hidden, c.pred_hidden, 'joint_pred',
                             c.dtype, use_bias=c.joint_pred_bias)
    self.joint_enc = _dense(c.joint_hidden, c.enc_hidden, 'joint_enc',
                            c.dtype)
    self.joint_net = _dense(c.num_classes, c.joint_hidden, 'joint_net',
                            c.dtype)
    self.joint_dropout = nn.Dropout(c.joint_dropout)

  def __call__(self, feats, feat_lens, labels, *, deterministic=True):
    f, f_lens = self.encode(feats, feat_lens, deterministic=deterministic)
    g, _ = self.predict(labels, deterministic=deterministic)
    return self.joint(self.project_enc(f), self.project_pred(g),
                      deterministic=deterministic), f_lens

  def encode(self, feats, feat_lens, *, deterministic: bool):
    """feats [B, T, 240] -> (encoder output [B, T', H], lengths T')."""
    x, _ = self.pre_rnn(feats, feat_lens, deterministic=deterministic)
    x, lens = stack_time(x, feat_lens, self.cfg.stack_time)
    x, _ = self.post_rnn(x, lens, deterministic=deterministic)
    return x, lens

  def embed(self, labels):
    """Label ids -> embeddings; id -1 (start of sequence) -> zeros."""
    e = self.pred_embed(jnp.maximum(labels, 0))
    return jnp.where((labels >= 0)[..., None], e, 0.0)

  def predict(self, labels, carry=None, *, deterministic: bool,
              add_sos: bool = True):
    """labels [B, U] -> (g [B, U + 1, Hp] with the start symbol first,
    LSTM carries)."""
    if add_sos:
      labels = jnp.concatenate(
          [jnp.full((labels.shape[0], 1), -1, labels.dtype), labels], axis=1)
    x = self.embed(labels)
    lens = jnp.full((labels.shape[0],), labels.shape[1], jnp.int32)
    return self.dec_rnn(x, lens, carry, deterministic=deterministic)

  def project_enc(self, f):
    return self.joint_enc(f)

  def project_pred(self, g):
    return self.joint_pred(g)

  def joint(self, f_proj, g_proj, *, deterministic: bool):
    """[B, T, Hj] + [B, U + 1, Hj] -> logits [B, T, U + 1, V]."""
    h = nn.relu(f_proj[:, :, None, :] + g_proj[:, None, :, :])
    h = self.joint_dropout(h, deterministic=deterministic)
    return self.joint_net(h)


def count_params(params) -> int:
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))


def init_tensor_groups(params) -> dict[str, Sequence[tuple[str, ...]]]:
  """`weights_initialization` name -> the parameter paths it covers."""
  from flax import traverse_util  # pylint: disable=import-outside-toplevel
  flat = traverse_util.flatten_dict(nn.meta.unbox(params))
  groups: dict[str, list[tuple[str, ...]]] = {n: [] for n in INIT_TENSOR_NAMES}
  for path in flat:
    groups[path[0]].append(path)
  return groups


def _lstm_from_torch(state, prefix, layers):
  return {f'layer_{l}': {
      'kernel_ih': np.asarray(state[f'{prefix}.weight_ih_l{l}']).T,
      'kernel_hh': np.asarray(state[f'{prefix}.weight_hh_l{l}']).T,
      'bias_ih': np.asarray(state[f'{prefix}.bias_ih_l{l}']),
      'bias_hh': np.asarray(state[f'{prefix}.bias_hh_l{l}'])}
          for l in range(layers)}


def import_torch_state_dict(state, cfg: RNNTConfig) -> dict:
  """Parameters from a PyTorch state dict (name -> array) of the MLPerf
  Inference RNN-T (`model_separable_rnnt.RNNT`: `encoder.pre_rnn.lstm.*`,
  `encoder.post_rnn.lstm.*`, `prediction.embed.weight`,
  `prediction.dec_rnn.lstm.*`, `joint.net.0.*` over concat(f, g) and
  `joint.net.3.*`; the checkpoint's own `joint_net.*` spelling and
  `audio_preprocessor.*` buffers are accepted, as its loader does), or of
  the training RNN-T (`joint_enc`, `joint_pred`, `joint_net.2`).

  Raises:
    ValueError naming every missing tensor and every shape mismatch.
  """
  state = {k.replace('module.', '', 1) if k.startswith('module.') else k: v
           for k, v in state.items()}
  state = {k.replace('joint_net.', 'joint.net.'): v for k, v in state.items()
           if not k.startswith('audio_preprocessor.')}
  try:
    params = {
        'pre_rnn': _lstm_from_torch(state, 'encoder.pre_rnn.lstm',
                                    cfg.enc_pre_layers),
        'post_rnn': _lstm_from_torch(state, 'encoder.post_rnn.lstm',
                                     cfg.enc_post_layers),
        'pred_embed': {'embedding': np.asarray(
            state['prediction.embed.weight'])},
        'dec_rnn': _lstm_from_torch(state, 'prediction.dec_rnn.lstm',
                                    cfg.pred_layers),
    }
    if 'joint.net.0.weight' in state:  # inference: Linear over concat(f, g)
      w0 = np.asarray(state['joint.net.0.weight'])
      params['joint_enc'] = {'kernel': w0[:, :cfg.enc_hidden].T,
                             'bias': np.asarray(state['joint.net.0.bias'])}
      params['joint_pred'] = {'kernel': w0[:, cfg.enc_hidden:].T}
      if cfg.joint_pred_bias:
        params['joint_pred']['bias'] = np.zeros(w0.shape[0], w0.dtype)
      last = 'joint.net.3'
    else:  # training: joint_enc, joint_pred, joint_net = [ReLU, Dropout, Linear]
      params['joint_enc'] = {'kernel': np.asarray(state['joint_enc.weight']).T,
                             'bias': np.asarray(state['joint_enc.bias'])}
      params['joint_pred'] = {
          'kernel': np.asarray(state['joint_pred.weight']).T,
          'bias': np.asarray(state['joint_pred.bias'])}
      last = 'joint.net.2'
    params['joint_net'] = {'kernel': np.asarray(state[f'{last}.weight']).T,
                           'bias': np.asarray(state[f'{last}.bias'])}
  except KeyError as e:
    raise ValueError(f'the state dict has no tensor {e.args[0]!r}; it is not '
                     'an MLPerf RNN-T checkpoint of this config') from None
  return params


def check_shapes(params, abstract) -> None:
  """ValueError listing every parameter whose shape differs or is missing."""
  from flax import traverse_util  # pylint: disable=import-outside-toplevel
  got = traverse_util.flatten_dict(params)
  want = traverse_util.flatten_dict(nn.meta.unbox(abstract))
  problems = [f'{"/".join(k)}: missing' for k in want if k not in got]
  problems += [f'{"/".join(k)}: shape {tuple(got[k].shape)}, expected '
               f'{tuple(want[k].shape)}' for k in want
               if k in got and tuple(got[k].shape) != tuple(want[k].shape)]
  if problems:
    raise ValueError('checkpoint does not fit the model:\n  ' +
                     '\n  '.join(problems))
