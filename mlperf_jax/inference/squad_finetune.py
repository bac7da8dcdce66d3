# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Fine-tunes our BERT on SQuAD-format features (the span head), and scores
parameters on a SQuAD set directly (without a LoadGen).

As google-research/bert `run_squad.py` (the recipe behind the MLPerf
Inference BERT checkpoint): the span head `cls/squad` (output_weights [2, H]
drawn from a truncated normal of stddev 0.02, output_bias zero) on top of
the pre-trained encoder; loss the mean of the start and end cross-entropies;
Adam with decoupled weight decay 0.01 (not on LayerNorm and bias
variables), beta 0.9 / 0.999, epsilon 1e-6, the learning rate warmed up
linearly over the first 10 % of the steps and then decayed linearly to
zero; batches of shuffled training features, dropout on. The reference's
defaults are 2-3 epochs at 3e-5 to 5e-5, batch 32, sequence 384; the mini
scale uses its own (`MINI_FINETUNE`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

import numpy as np

_NO_DECAY_RE = re.compile('LayerNorm|layer_norm|bias')


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
  learning_rate: float = 5e-5
  epochs: float = 2.0
  batch_size: int = 32
  warmup_proportion: float = 0.1
  weight_decay: float = 0.01
  seed: int = 0


def qa_model(cfg):
  from mlperf_jax.models import bert as bert_model  # pylint: disable=import-outside-toplevel
  return bert_model.BertForQuestionAnswering(cfg)


def boxed_qa_abstract(cfg):
  """The QA model's abstract parameters with their logical-axis boxes."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  ids = jax.ShapeDtypeStruct((1, cfg.max_position_embeddings), jnp.int32)
  return jax.eval_shape(
      lambda i: qa_model(cfg).init(jax.random.PRNGKey(0), i, i, i)['params'],
      ids)


def init_qa_params(cfg, encoder_params: Mapping[str, Any] | None, seed: int):
  """QA parameters: a fresh span head, the encoder from `encoder_params`
  (the 'bert' subtree of pre-training parameters) where given."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  from flax import linen as nn  # pylint: disable=import-outside-toplevel
  t = cfg.max_position_embeddings
  ids = jnp.zeros((1, t), jnp.int32)
  params = nn.unbox(qa_model(cfg).init(jax.random.PRNGKey(seed), ids, ids,
                                       ids)['params'])
  if encoder_params is not None:
    enc = nn.unbox(encoder_params)
    mine = jax.tree_util.tree_structure(params['bert'])
    if jax.tree_util.tree_structure(enc) != mine:
      raise ValueError('the pre-trained encoder does not fit the model '
                       'configuration (another scale or vocabulary?)')
    params = {**params, 'bert': jax.tree.map(jnp.asarray, enc)}
  return params


def _optimizer(params, fc: FinetuneConfig, steps: int):
  import optax  # pylint: disable=import-outside-toplevel
  from flax import traverse_util  # pylint: disable=import-outside-toplevel
  from mlperf_jax.models import bert as bert_model  # pylint: disable=import-outside-toplevel
  warm = max(1, int(fc.warmup_proportion * steps))
  schedule = optax.join_schedules(
      [optax.linear_schedule(0.0, fc.learning_rate, warm),
       optax.linear_schedule(fc.learning_rate, 0.0, max(1, steps - warm))],
      [warm])
  names = bert_model.tf_names(params)
  mask = traverse_util.unflatten_dict(
      {p: not _NO_DECAY_RE.search(n) for p, n in names.items()})
  return optax.adamw(schedule, b1=0.9, b2=0.999, eps=1e-6,
                     weight_decay=fc.weight_decay, mask=mask)


def finetune(cfg, params, train: Mapping[str, np.ndarray], fc: FinetuneConfig,
             *, log_every: int = 0):
  """Fine-tuned parameters (and the per-step losses).

  Args:
    cfg: the model's `BertConfig` (dropout as in pre-training).
    params: QA parameters (`init_qa_params`).
    train: `squad.feature_arrays` of training features (with positions).
  """
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import optax  # pylint: disable=import-outside-toplevel
  from mlperf_jax.models import bert as bert_model  # pylint: disable=import-outside-toplevel
  n = len(train['input_ids'])
  b = min(fc.batch_size, n)
  steps = max(1, int(fc.epochs * n) // b)
  tx = _optimizer(params, fc, steps)
  model = qa_model(cfg)

  def loss_fn(p, batch, rng):
    logits = model.apply({'params': p}, batch['input_ids'],
                         batch['input_mask'], batch['segment_ids'],
                         deterministic=False, rngs={'dropout': rng})
    return bert_model.span_loss(logits, batch['start_positions'],
                                batch['end_positions'])

  @jax.jit
  def step(p, opt, batch, rng):
    loss, g = jax.value_and_grad(loss_fn)(p, batch, rng)
    upd, opt = tx.update(g, opt, p)
    return optax.apply_updates(p, upd), opt, loss

  opt = tx.init(params)
  order_rng = np.random.default_rng(fc.seed)
  key = jax.random.PRNGKey(fc.seed)
  order, losses = np.empty(0, np.int64), []
  for k in range(steps):
    if len(order) < b:
      order = np.concatenate([order, order_rng.permutation(n)])
    idx, order = order[:b], order[b:]
    batch = {name: jnp.asarray(v[idx]) for name, v in train.items()}
    params, opt, loss = step(params, opt, batch, jax.random.fold_in(key, k))
    losses.append(float(loss))
    if log_every and (k + 1) % log_every == 0:
      print(f'finetune step {k + 1}/{steps}: loss '
            f'{np.mean(losses[-log_every:]):.4f}', flush=True)
  return params, losses


def logits_of(cfg, params, arrays: Mapping[str, np.ndarray],
              batch_size: int = 64) -> np.ndarray:
  """float32 logits [N, T, 2] of every feature (deterministic)."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  model = qa_model(cfg)
  fwd = jax.jit(lambda p, i, m, s: model.apply({'params': p}, i, m, s))
  n = len(arrays['input_ids'])
  out = []
  for a in range(0, n, batch_size):
    rows = np.arange(a, a + batch_size).clip(max=n - 1)  # fixed shape
    got = fwd(params, *(jnp.asarray(arrays[k][rows]) for k in (
        'input_ids', 'input_mask', 'segment_ids')))
    out.append(np.asarray(got, np.float32)[:min(batch_size, n - a)])
  return np.concatenate(out)
