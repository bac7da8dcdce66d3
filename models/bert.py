# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""BERT (pre-training model) in Flax Linen, as the MLPerf Training reference.

The MLPerf BERT-large reference (mlcommons/training `language_model/
tensorflow/bert/modeling.py` and `run_pretraining.py`) in JAX:

* embeddings: word (vocab x H) + position (512 x H) + token type (2 x H),
  LayerNorm, dropout;
* L post-LayerNorm encoder layers: self-attention (Q, K, V, output dense),
  dropout, residual, LayerNorm; intermediate dense with GELU in its tanh form
  (the reference's `gelu`: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`),
  output dense, dropout, residual, LayerNorm;
* attention padding mask as the reference: `(1 - input_mask) * -10000` added
  to the scores of padded keys; attention-probability dropout;
* pooler: dense + tanh on the first token;
* masked-LM head (`cls/predictions`) on the gathered masked positions only:
  dense + GELU + LayerNorm, then the decoder tied to the word embeddings
  plus an output bias;
* next-sentence head (`cls/seq_relationship`): `output_weights` [2, H] and an
  output bias.

For MLPerf Inference, `BertForQuestionAnswering` puts the SQuAD span head
(`cls/squad/output_weights` [2, H], `output_bias` [2], run_squad.py's
`create_model`) on the sequence output: start and end logits per token.

LayerNorm epsilon 1e-12 (tf.contrib `layer_norm`), weights drawn from a
truncated normal of stddev 0.02, biases and LayerNorm beta zero, gamma one.

Module and parameter names mirror the reference's TF variable scopes, so the
TF name of a parameter is its path joined by '/' (with `scale`/`bias` of a
LayerNorm read as `gamma`/`beta`, and the 3-D attention kernels reshaped to
the reference's 2-D ones): see `tf_names`.

Precision: parameters are float32; `dtype=bfloat16` computes matmuls in bf16
while the attention softmax, the LayerNorm statistics and the output
log-softmax stay float32.

Parallelism: every parameter carries logical axis names. `LOGICAL_AXIS_RULES`
maps attention heads ('heads') and the MLP hidden dimension ('mlp') to the
`tensor` mesh axis (Megatron-style: column-parallel Q/K/V and intermediate,
row-parallel attention output and MLP output), and the model dimension
('embed') to the `fsdp` axis; the vocabulary (30522 = 2 x 3 x 5087, not
divisible by common device counts) stays replicated.

BERT-large: 335,141,888 parameters in embeddings + encoder + pooler,
336,226,108 with the two pre-training heads.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, ClassVar, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from mlperf_jax.models import dropout

LOGICAL_AXIS_RULES: tuple[tuple[str, str | None], ...] = (
    ('embed', 'fsdp'),
    ('heads', 'tensor'),
    ('mlp', 'tensor'),
    ('kv', None),
    ('vocab', None),
    ('position', None),
    ('token_type', None),
    ('hidden_out', None),
    ('nsp_classes', None),
    ('span_ends', None),
)

# The attention mask value of the reference (`adder`).
_MASK_ADDER = -10000.0


@dataclasses.dataclass(frozen=True)
class BertConfig:
  """Architecture hyperparameters (names as the reference's bert_config.json).

  Attributes:
    vocab_size: WordPiece vocabulary size.
    hidden_size: model width H.
    num_hidden_layers: encoder layers L.
    num_attention_heads: attention heads (H must be divisible by it).
    intermediate_size: width of the feed-forward hidden layer.
    max_position_embeddings: rows of the position embedding table.
    type_vocab_size: number of segment (token type) ids.
    hidden_dropout_prob: dropout after embeddings and each sublayer.
    attention_probs_dropout_prob: dropout on the attention probabilities.
    initializer_range: stddev of the truncated-normal weight initializer.
    layer_norm_eps: LayerNorm variance epsilon.
    dtype: compute dtype (jnp.float32 or jnp.bfloat16); parameters stay f32.
    fused_attention: use `jax.nn.dot_product_attention` (cuDNN/flash where
      the backend has it) instead of the explicit softmax. It has no
      attention-probability dropout, so it is used only where that dropout is
      off (evaluation, or `attention_probs_dropout_prob == 0`); training with
      attention dropout always takes the reference's explicit path.
    dropout_generator: where dropout's keep masks come from
      (`models/dropout.py`): 'jax' (`jax.random`, flax's own), or 'auto'
      (XLA's RngBitGenerator on CPU, ~8x faster there; 'jax' elsewhere).
      The reference config uses 'auto'; the minis keep 'jax' (their RCPs
      were drawn with its stream).
  """
  vocab_size: int = 30522
  hidden_size: int = 1024
  num_hidden_layers: int = 24
  num_attention_heads: int = 16
  intermediate_size: int = 4096
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  hidden_dropout_prob: float = 0.1
  attention_probs_dropout_prob: float = 0.1
  initializer_range: float = 0.02
  layer_norm_eps: float = 1e-12
  dtype: Any = jnp.float32
  fused_attention: bool = False
  dropout_generator: str = 'jax'

  def __post_init__(self):
    dropout.resolve(self.dropout_generator, backend='cpu')  # a clear error
    if self.hidden_size % self.num_attention_heads:
      raise ValueError(
          f'hidden_size {self.hidden_size} is not divisible by '
          f'num_attention_heads {self.num_attention_heads}')

  @property
  def head_size(self) -> int:
    return self.hidden_size // self.num_attention_heads


def bert_large_config(**overrides: Any) -> BertConfig:
  """The MLPerf reference BERT-large (uncased, 30522 WordPieces); its
  dropout masks come from the backend's fast generator ('auto')."""
  return BertConfig(**{'dropout_generator': 'auto', **overrides})


def tiny_config(**overrides: Any) -> BertConfig:
  """A 2-layer, 32-wide BERT for tests (divisible by 8 devices and 2 heads)."""
  fields = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=64,
                max_position_embeddings=32)
  fields.update(overrides)
  return BertConfig(**fields)


def _init(cfg: BertConfig, axes: tuple[str, ...]):
  return nn.with_logical_partitioning(
      nn.initializers.truncated_normal(stddev=cfg.initializer_range), axes)


def _zeros(axes: tuple[str, ...]):
  return nn.with_logical_partitioning(nn.initializers.zeros, axes)


class LayerNorm(nn.Module):
  """LayerNorm over the last axis with float32 statistics.

  Parameters `scale` (gamma) and `bias` (beta), logical axis 'embed'. The
  input is normalised in float32 and the result cast back to `dtype`.
  """
  cfg: BertConfig

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = x.shape[-1]
    scale = self.param('scale', nn.with_logical_partitioning(
        nn.initializers.ones, ('embed',)), (h,), jnp.float32)
    bias = self.param('bias', _zeros(('embed',)), (h,), jnp.float32)
    x32 = x.astype(jnp.float32)
    mean = jnp.mean(x32, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x32 - mean), axis=-1, keepdims=True)
    y = (x32 - mean) * jax.lax.rsqrt(var + self.cfg.layer_norm_eps)
    return (y * scale + bias).astype(self.cfg.dtype)


def heads_last_first_dot(lhs, rhs, dimension_numbers, **kwargs):
  """`lax.dot_general` with the contracting axes listed last first.

  The same product; only the order XLA sums in (so float32 rounding)
  follows the one `jnp.einsum('btnh,nhd->btd')` gives it, the attention
  output's einsum before it was a `nn.DenseGeneral` (bit-identical
  outputs). `QUANTIZE_THROUGH` tells `inference/quantize.py` that it may
  run the int8 product through it.
  """
  (lc, rc), batch = dimension_numbers
  return jax.lax.dot_general(
      lhs, rhs, ((tuple(reversed(lc)), tuple(reversed(rc))), batch), **kwargs)


heads_last_first_dot.QUANTIZE_THROUGH = True


def _dense(cfg: BertConfig, features, kernel_axes: tuple[str, ...],
           bias_axes: tuple[str, ...], *, axis=-1, dot_general=None,
           name: str):
  """`x . kernel + bias` over the input's `axis` (flax `nn.DenseGeneral`;
  `nn.Dense` for a plain [in, out] kernel): float32 parameters, products in
  `cfg.dtype`.

  Flax's layers keep the projections' `dot_general` hook, through which
  `mlperf_jax/inference/quantize.py` runs them in int8; numerically they
  are the einsums of the reference's `dense_layer_2d/3d`.
  """
  common = dict(dtype=cfg.dtype, param_dtype=jnp.float32,
                kernel_init=_init(cfg, kernel_axes),
                bias_init=_zeros(bias_axes), dot_general=dot_general,
                name=name)
  if axis == -1 and isinstance(features, int):
    return nn.Dense(features, **common)
  return nn.DenseGeneral(features, axis=axis, **common)


def gelu(x: jax.Array) -> jax.Array:
  """The reference's GELU (tanh approximation)."""
  return jax.nn.gelu(x, approximate=True)


class SelfAttention(nn.Module):
  """Reference `attention/self`: Q, K, V projections and the attention.

  Kernels are [H, heads, head_size] (the reference's [H, H] kernel reshaped,
  as its `dense_layer_3d` does), biases [heads, head_size].
  """
  cfg: BertConfig

  @nn.compact
  def __call__(self, x: jax.Array, input_mask: jax.Array,
               deterministic: bool) -> jax.Array:
    cfg = self.cfg
    d, dt = cfg.head_size, cfg.dtype
    n = cfg.num_attention_heads
    q, k, v = (_dense(cfg, (n, d), ('embed', 'heads', 'kv'), ('heads', 'kv'),
                      name=name)(x) for name in ('query', 'key', 'value'))
    drop = cfg.attention_probs_dropout_prob
    if cfg.fused_attention and (deterministic or drop == 0.0):
      mask = input_mask.astype(bool)[:, None, None, :]
      return jax.nn.dot_product_attention(q, k, v, mask=mask)
    scores = jnp.einsum('bqnh,bknh->bnqk', q, k,
                        preferred_element_type=jnp.float32)
    scores = scores * (1.0 / math.sqrt(float(d)))
    adder = (1.0 - input_mask.astype(jnp.float32)) * _MASK_ADDER
    scores = scores + adder[:, None, None, :]
    probs = jax.nn.softmax(scores, axis=-1)
    probs = dropout.Dropout(drop, cfg.dropout_generator)(
        probs, deterministic=deterministic)
    return jnp.einsum('bnqk,bknh->bqnh', probs.astype(dt), v)


class Attention(nn.Module):
  """Reference `attention`: `self` + `output` (dense, dropout, add, LN)."""
  cfg: BertConfig

  @nn.compact
  def __call__(self, x, input_mask, deterministic):
    ctx = SelfAttention(self.cfg, name='self')(x, input_mask, deterministic)
    out = _AttnOutputBlock(self.cfg, name='output')(ctx, x, deterministic)
    return out


class _AttnOutputBlock(nn.Module):
  cfg: BertConfig

  @nn.compact
  def __call__(self, ctx, residual, deterministic):
    # Reference `attention/output/dense`: kernel [heads, head_size, H].
    y = _dense(self.cfg, self.cfg.hidden_size, ('heads', 'kv', 'embed'),
               ('embed',), axis=(-2, -1), dot_general=heads_last_first_dot,
               name='dense')(ctx)
    y = dropout.Dropout(self.cfg.hidden_dropout_prob,
                        self.cfg.dropout_generator)(
                            y, deterministic=deterministic)
    return LayerNorm(self.cfg, name='LayerNorm')(y + residual)


class _DenseBlock(nn.Module):
  """A scope holding one `dense` (reference `intermediate`)."""
  cfg: BertConfig
  features: int
  kernel_axes: tuple[str, str]

  @nn.compact
  def __call__(self, x):
    return _dense(self.cfg, self.features, self.kernel_axes,
                  self.kernel_axes[1:], name='dense')(x)


class _OutputBlock(nn.Module):
  """Reference layer `output`: dense, dropout, residual add, LayerNorm."""
  cfg: BertConfig

  @nn.compact
  def __call__(self, x, residual, deterministic):
    y = _dense(self.cfg, self.cfg.hidden_size, ('mlp', 'embed'), ('embed',),
               name='dense')(x)
    y = dropout.Dropout(self.cfg.hidden_dropout_prob,
                        self.cfg.dropout_generator)(
                            y, deterministic=deterministic)
    return LayerNorm(self.cfg, name='LayerNorm')(y + residual)


class EncoderLayer(nn.Module):
  """One post-LN transformer layer (reference `encoder/layer_N`)."""
  cfg: BertConfig

  @nn.compact
  def __call__(self, x, input_mask, deterministic):
    cfg = self.cfg
    a = Attention(cfg, name='attention')(x, input_mask, deterministic)
    h = _DenseBlock(cfg, cfg.intermediate_size, ('embed', 'mlp'),
                    name='intermediate')(a)
    h = gelu(h)
    return _OutputBlock(cfg, name='output')(h, a, deterministic)


class Embeddings(nn.Module):
  """Reference `embeddings`: word + position + token type, LN, dropout."""
  cfg: BertConfig

  def setup(self):
    cfg = self.cfg
    h = cfg.hidden_size
    self.word_embeddings = self.param(
        'word_embeddings', _init(cfg, ('vocab', 'embed')),
        (cfg.vocab_size, h), jnp.float32)
    self.position_embeddings = self.param(
        'position_embeddings', _init(cfg, ('position', 'embed')),
        (cfg.max_position_embeddings, h), jnp.float32)
    self.token_type_embeddings = self.param(
        'token_type_embeddings', _init(cfg, ('token_type', 'embed')),
        (cfg.type_vocab_size, h), jnp.float32)
    self.layer_norm = LayerNorm(cfg, name='LayerNorm')
    self.dropout = dropout.Dropout(cfg.hidden_dropout_prob,
                                   cfg.dropout_generator)

  def __call__(self, input_ids, segment_ids, deterministic):
    seq = input_ids.shape[1]
    if seq > self.cfg.max_position_embeddings:
      raise ValueError(f'sequence length {seq} exceeds max_position_embeddings '
                       f'{self.cfg.max_position_embeddings}')
    x = jnp.take(self.word_embeddings, input_ids, axis=0)
    # The reference multiplies a one-hot by the (2-row) token type table;
    # a gather is the same sum.
    x = x + jnp.take(self.token_type_embeddings, segment_ids, axis=0)
    x = x + self.position_embeddings[None, :seq]
    x = self.layer_norm(x.astype(self.cfg.dtype))
    return self.dropout(x, deterministic=deterministic)

  def table(self) -> jax.Array:
    return self.word_embeddings


class _Encoder(nn.Module):
  cfg: BertConfig

  @nn.compact
  def __call__(self, x, input_mask, deterministic):
    for i in range(self.cfg.num_hidden_layers):
      x = EncoderLayer(self.cfg, name=f'layer_{i}')(x, input_mask,
                                                    deterministic)
    return x


class BertModel(nn.Module):
  """Reference `bert` scope: embeddings, encoder, pooler.

  Returns (sequence_output [B, T, H], pooled_output [B, H], word table).
  """
  cfg: BertConfig

  def setup(self):
    self.embeddings = Embeddings(self.cfg, name='embeddings')
    self.encoder = _Encoder(self.cfg, name='encoder')
    self.pooler = _DenseBlock(self.cfg, self.cfg.hidden_size,
                              ('embed', 'hidden_out'), name='pooler')

  def __call__(self, input_ids, input_mask, segment_ids, deterministic):
    x = self.embeddings(input_ids, segment_ids, deterministic)
    x = self.encoder(x, input_mask, deterministic)
    pooled = jnp.tanh(self.pooler(x[:, 0]))
    return x, pooled, self.embeddings.table()


class _MlmTransform(nn.Module):
  cfg: BertConfig

  @nn.compact
  def __call__(self, x):
    x = _dense(self.cfg, self.cfg.hidden_size, ('embed', 'hidden_out'),
               ('hidden_out',), name='dense')(x)
    return LayerNorm(self.cfg, name='LayerNorm')(gelu(x))


class _MlmHead(nn.Module):
  """Reference `cls/predictions`; float32 logits over the vocabulary."""
  cfg: BertConfig

  @nn.compact
  def __call__(self, x, table):
    x = _MlmTransform(self.cfg, name='transform')(x)
    bias = self.param('output_bias', _zeros(('vocab',)),
                      (self.cfg.vocab_size,), jnp.float32)
    dt = self.cfg.dtype
    logits = jnp.einsum('bph,vh->bpv', x.astype(dt), table.astype(dt),
                        preferred_element_type=jnp.float32)
    return logits + bias


class _NspHead(nn.Module):
  """Reference `cls/seq_relationship`: output_weights [2, H] + output_bias."""
  cfg: BertConfig

  @nn.compact
  def __call__(self, pooled):
    w = self.param('output_weights', _init(self.cfg, ('nsp_classes', 'embed')),
                   (2, self.cfg.hidden_size), jnp.float32)
    b = self.param('output_bias', _zeros(('nsp_classes',)), (2,), jnp.float32)
    return jnp.einsum('bh,ch->bc', pooled.astype(jnp.float32), w) + b


class _Cls(nn.Module):
  cfg: BertConfig

  def setup(self):
    self.predictions = _MlmHead(self.cfg, name='predictions')
    self.seq_relationship = _NspHead(self.cfg, name='seq_relationship')

  def __call__(self, seq_at_masks, pooled, table):
    return self.predictions(seq_at_masks, table), self.seq_relationship(pooled)


def gather_positions(sequence: jax.Array, positions: jax.Array) -> jax.Array:
  """sequence [B, T, H] at positions [B, P] -> [B, P, H] (`gather_indexes`)."""
  return jnp.take_along_axis(sequence, positions[..., None].astype(jnp.int32),
                             axis=1)


class BertForPreTraining(nn.Module):
  """BERT with the masked-LM and next-sentence heads.

  `__call__(input_ids, input_mask, segment_ids, masked_lm_positions,
  deterministic)` returns float32 (mlm_logits [B, P, vocab],
  nsp_logits [B, 2]). Dropout draws from the 'dropout' rng collection when
  `deterministic` is False.
  """
  cfg: BertConfig

  def setup(self):
    self.bert = BertModel(self.cfg, name='bert')
    self.cls = _Cls(self.cfg, name='cls')

  def __call__(self, input_ids, input_mask, segment_ids, masked_lm_positions,
               deterministic: bool = True):
    seq, pooled, table = self.bert(input_ids, input_mask, segment_ids,
                                   deterministic)
    return self.cls(gather_positions(seq, masked_lm_positions), pooled, table)


class _SquadHead(nn.Module):
  """Reference SQuAD head (`cls/squad`, run_squad.py `create_model`):
  output_weights [2, H] and output_bias [2] over every token.

  The product goes through `dot_general` (default `lax.dot_general`), the
  hook Flax's dense layers have: `QUANTIZED_KERNEL` names the kernel that
  `mlperf_jax/inference/quantize.py` runs through it in int8.
  """
  QUANTIZED_KERNEL: ClassVar[str] = 'output_weights'
  cfg: BertConfig
  dot_general: Callable[..., jax.Array] | None = None

  @nn.compact
  def __call__(self, seq):
    w = self.param('output_weights', _init(self.cfg, ('span_ends', 'embed')),
                   (2, self.cfg.hidden_size), jnp.float32)
    b = self.param('output_bias', _zeros(('span_ends',)), (2,), jnp.float32)
    dot = self.dot_general or jax.lax.dot_general
    # seq [B, T, H] . w [2, H] over H -> [B, T, 2] ('bth,ch->btc').
    logits = dot(seq.astype(jnp.float32), w.astype(jnp.float32),
                 (((seq.ndim - 1,), (1,)), ((), ())))
    return logits + b


class _QaCls(nn.Module):
  cfg: BertConfig

  @nn.compact
  def __call__(self, seq):
    return _SquadHead(self.cfg, name='squad')(seq)


class BertForQuestionAnswering(nn.Module):
  """BERT with the SQuAD span head (the MLPerf Inference BERT model).

  `__call__(input_ids, input_mask, segment_ids, deterministic)` returns
  float32 logits [B, T, 2]: start and end scores of every token, the
  response layout of the MLPerf SQuAD accuracy script. The pooler stays in
  the tree (the reference's fine-tuned checkpoint holds it) though the span
  head does not read it.
  """
  cfg: BertConfig

  def setup(self):
    self.bert = BertModel(self.cfg, name='bert')
    self.cls = _QaCls(self.cfg, name='cls')

  def __call__(self, input_ids, input_mask, segment_ids,
               deterministic: bool = True):
    seq, _, _ = self.bert(input_ids, input_mask, segment_ids, deterministic)
    return self.cls(seq)


def span_loss(logits: jax.Array, start_positions: jax.Array,
              end_positions: jax.Array,
              weights: jax.Array | None = None) -> jax.Array:
  """run_squad.py's loss: the mean of the start and end cross-entropies
  (over the sequence), averaged over the batch (weighted rows where given,
  for padded batches)."""
  logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=1)
  nll_s = -jnp.take_along_axis(logp[..., 0], start_positions[:, None], 1)[:, 0]
  nll_e = -jnp.take_along_axis(logp[..., 1], end_positions[:, None], 1)[:, 0]
  per_row = 0.5 * (nll_s + nll_e)
  if weights is None:
    return jnp.mean(per_row)
  w = weights.astype(jnp.float32)
  return jnp.sum(w * per_row) / jnp.maximum(jnp.sum(w), 1.0)


# ---- losses and metrics (as run_pretraining.py) ----------------------------


def pretraining_loss(mlm_logits: jax.Array, nsp_logits: jax.Array,
                     masked_lm_ids: jax.Array, masked_lm_weights: jax.Array,
                     next_sentence_labels: jax.Array
                     ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """The reference's `total_loss = masked_lm_loss + next_sentence_loss`.

  masked_lm_loss = sum(w * nll) / (sum(w) + 1e-5) over the batch's masked
  positions; next_sentence_loss = mean nll over the batch.
  """
  logp = jax.nn.log_softmax(mlm_logits.astype(jnp.float32), axis=-1)
  nll = -jnp.take_along_axis(logp, masked_lm_ids[..., None].astype(jnp.int32),
                             axis=-1)[..., 0]
  w = masked_lm_weights.astype(jnp.float32)
  mlm = jnp.sum(w * nll) / (jnp.sum(w) + 1e-5)
  nsp_logp = jax.nn.log_softmax(nsp_logits.astype(jnp.float32), axis=-1)
  labels = next_sentence_labels.reshape(-1).astype(jnp.int32)
  nsp = -jnp.mean(jnp.take_along_axis(nsp_logp, labels[:, None], axis=-1))
  return mlm + nsp, {'mlm_loss': mlm, 'nsp_loss': nsp}


def masked_lm_sums(mlm_logits: jax.Array, masked_lm_ids: jax.Array,
                   masked_lm_weights: jax.Array) -> dict[str, jax.Array]:
  """Sums behind the reference's eval metric (`tf.metrics.accuracy` with
  weights = masked_lm_weights): weighted correct argmax predictions, the
  weight total and the weighted NLL."""
  w = masked_lm_weights.astype(jnp.float32)
  pred = jnp.argmax(mlm_logits, axis=-1)
  correct = (pred == masked_lm_ids.astype(pred.dtype)).astype(jnp.float32)
  logp = jax.nn.log_softmax(mlm_logits.astype(jnp.float32), axis=-1)
  nll = -jnp.take_along_axis(logp, masked_lm_ids[..., None].astype(jnp.int32),
                             axis=-1)[..., 0]
  return {'correct': jnp.sum(w * correct), 'weight': jnp.sum(w),
          'nll': jnp.sum(w * nll)}


# ---- names and counts -------------------------------------------------------


def tf_name(path: tuple[str, ...]) -> str:
  """The reference TF variable name of a parameter path.

  LayerNorm `scale`/`bias` are the reference's `gamma`/`beta`; every other
  leaf keeps its name (`kernel`, `bias`, `output_bias`, `output_weights`,
  `word_embeddings`, ...).
  """
  *scopes, leaf = path
  if scopes and scopes[-1] == 'LayerNorm':
    leaf = {'scale': 'gamma', 'bias': 'beta'}[leaf]
  return '/'.join([*scopes, leaf])


def tf_names(params: Mapping[str, Any]) -> dict[tuple[str, ...], str]:
  """`{flatten_dict path: reference TF variable name}` for every parameter."""
  return {p: tf_name(p) for p in traverse_util.flatten_dict(nn.unbox(params))}


def tf_shape(path: tuple[str, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
  """The reference TF shape of a parameter of ours (attention kernels and
  biases are 3-D/2-D here, 2-D/1-D in the reference)."""
  *scopes, leaf = path
  if len(shape) == 3 and scopes[-1] in ('query', 'key', 'value'):
    return (shape[0], shape[1] * shape[2])
  if len(shape) == 3:  # attention output dense [heads, head_size, H]
    return (shape[0] * shape[1], shape[2])
  if len(shape) == 2 and leaf == 'bias' and scopes[-1] in ('query', 'key',
                                                           'value'):
    return (shape[0] * shape[1],)
  return tuple(shape)


def param_count(params: Any) -> int:
  """Number of scalars in a parameter tree (boxed or not, arrays or shapes)."""
  return sum(int(np.prod(leaf.shape))
             for leaf in jax.tree_util.tree_leaves(nn.unbox(params)))
