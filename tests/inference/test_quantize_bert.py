# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""int8 BERT: the `nn.DenseGeneral` / `dot_general`-hook layers against a
NumPy transcription of the integer arithmetic, the tiny BERT's int8
logits against FP32, and the fixed SQuAD calibration lists."""

import hashlib
import re
import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.inference import quantize, squad_calibration, squad_finetune
from mlperf_jax.models import bert as bert_model


class _Heads(nn.Module):
  """Q-like [H, heads, d] projection, attention-output-like [heads, d, H]
  projection (through BERT's reordered hook), then BERT's span head."""

  @nn.compact
  def __call__(self, x):
    h = nn.DenseGeneral((2, 3), name='proj')(x)            # [B, T, 2, 3]
    y = nn.DenseGeneral(5, axis=(-2, -1), name='out',
                        dot_general=bert_model.heads_last_first_dot)(h)
    return bert_model._SquadHead(bert_model.tiny_config(
        hidden_size=5, num_attention_heads=1),  # pylint: disable=protected-access
                                 name='span')(jnp.tanh(y))


def _predict(params, model_state, batch):
  del model_state
  return _Heads().apply({'params': params}, batch['x'])


def _np_quant(x, s):
  return np.clip(np.round(x / s), -127, 127).astype(np.int64)


def _np_weight(w, reduce):
  """Per-channel int8 weight (max |w| over the contracted `reduce` axes)."""
  s = np.abs(w).max(axis=reduce, keepdims=True) / 127
  return np.clip(np.round(w / s), -127, 127).astype(np.int64), s


def test_dense_general_and_hooked_layers_equal_numpy_integer_arithmetic():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 4, 6)).astype(np.float32)
  params = jax.device_get(nn.unbox(
      _Heads().init(jax.random.PRNGKey(0), x)['params']))
  for layer in params.values():
    for k in layer:
      if 'bias' in k:
        layer[k] = rng.normal(size=layer[k].shape).astype(np.float32) * 0.1
  cal = [{'x': rng.normal(size=(3, 4, 6)).astype(np.float32)}
         for _ in range(2)]
  model = quantize.quantize(_predict, params, None, cal)
  got = np.asarray(quantize.int8_predict(_predict)(model.bundle(), None,
                                                   {'x': x}))
  # Kernels in int8, each output channel's largest magnitude at 127: the
  # channels of [6, 2, 3] are its last two axes, of [2, 3, 5] the last,
  # of the span head's [2, 5] the first.
  assert model.weight_scales['proj'].shape == (2, 3)
  assert model.weight_scales['out'].shape == (5,)
  assert model.weight_scales['span'].shape == (2,)
  q = model.params['span']['output_weights']
  assert q.dtype == np.int8 and (np.abs(q).max(1) == 127).all()
  # Transcription: activations per tensor at calibrated max / 127, exact
  # integer products, rescale by s_x * s_w[channel], then the float bias.
  cal_x = np.concatenate([c['x'] for c in cal])
  p = params

  def stage1(v):
    return np.einsum('btd,dnh->btnh', v, p['proj']['kernel']) + p['proj'][
        'bias']

  def stage2(v):
    return np.einsum('btnh,nhd->btd', v, p['out']['kernel']) + p['out'][
        'bias']
  # Float calibration activations (each layer's input range).
  sx = [np.abs(cal_x).max() / 127, np.abs(stage1(cal_x)).max() / 127,
        np.abs(np.tanh(stage2(stage1(cal_x)))).max() / 127]
  w1, s1 = _np_weight(p['proj']['kernel'], (0,))
  w2, s2 = _np_weight(p['out']['kernel'], (0, 1))
  w3, s3 = _np_weight(p['span']['output_weights'], (1,))
  h = np.einsum('btd,dnh->btnh', _np_quant(x, sx[0]), w1) * (sx[0] * s1[0])
  h = h + p['proj']['bias']
  y = np.einsum('btnh,nhd->btd', _np_quant(h, sx[1]), w2) * (
      sx[1] * s2[0, 0]) + p['out']['bias']
  want = np.einsum('bth,ch->btc', _np_quant(np.tanh(y), sx[2]), w3) * (
      sx[2] * s3[:, 0]) + p['span']['output_bias']
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
  fp = np.asarray(_predict(params, None, {'x': x}))
  assert 0 < np.abs(got - fp).max() < 0.05 * np.abs(fp).max()


def test_attention_output_hook_is_the_einsum_bit_for_bit():
  rng = np.random.default_rng(1)
  ctx = rng.normal(size=(2, 8, 4, 16)).astype(np.float32)
  k = rng.normal(size=(4, 16, 32)).astype(np.float32)
  want = jax.jit(lambda a, b: jnp.einsum('btnh,nhd->btd', a, b))(ctx, k)
  got = jax.jit(lambda a, b: bert_model.heads_last_first_dot(
      a, b, (((2, 3), (0, 1)), ((), ()))))(ctx, k)
  np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_tiny_bert_int8_logits_close_to_fp32_with_int8_products():
  cfg = bert_model.tiny_config()
  params = squad_finetune.init_qa_params(cfg, None, seed=2)
  model = bert_model.BertForQuestionAnswering(cfg)

  def predict(p, s, batch):
    del s
    return {'logits': model.apply({'params': p}, batch['input_ids'],
                                  batch['input_mask'], batch['segment_ids'])}

  rng = np.random.default_rng(0)
  t = cfg.max_position_embeddings

  def batch(n):
    lens = rng.integers(12, t, (n, 1))
    return {'input_ids': rng.integers(0, cfg.vocab_size, (n, t)).astype(
                np.int32),
            'input_mask': (np.arange(t) < lens).astype(np.int32),
            'segment_ids': (np.arange(t) >= 8).astype(np.int32)[None].repeat(
                n, 0)}
  cal = [batch(8), batch(8)]
  qm = quantize.quantize(predict, params, {}, cal)
  layers = [f'bert/encoder/layer_{i}/{n}' for i in range(2) for n in (
      'attention/self/query', 'attention/self/key', 'attention/self/value',
      'attention/output/dense', 'intermediate/dense', 'output/dense')]
  assert sorted(qm.act_scales) == sorted(
      layers + ['bert/pooler/dense', 'cls/squad'])
  x = batch(4)
  fp = np.asarray(jax.jit(predict)(params, {}, x)['logits'])
  lowered = jax.jit(quantize.int8_predict(predict)).lower(qm.bundle(), {}, x)
  got = np.asarray(lowered.compile()(qm.bundle(), {}, x)['logits'])
  err = np.abs(got - fp).max()
  assert 0 < err < 0.05 * np.abs(fp).max(), (err, np.abs(fp).max())
  # Each projection an int8 x int8 -> int32 product (the pooler, which the
  # span head does not read, is dropped); the two attention einsums
  # (activation x activation) stay float32.
  text = lowered.as_text()
  dots = [l.split(':')[-1] for l in text.splitlines()
          if 'stablehlo.dot_general' in l]
  i8 = [d for d in dots if re.search(
      r'\(tensor<[0-9x]+xi8>, tensor<[0-9x]+xi8>\) -> tensor<[0-9x]+xi32>',
      d)]
  assert len(i8) == len(layers) + 1
  assert len(dots) - len(i8) == 2 * cfg.num_hidden_layers
  # The float model's parameter tree is untouched.
  assert jax.tree.structure(qm.params) == jax.tree.structure(params)


def test_bert_calibration_lists():
  names = squad_calibration.calibration.read_list(
      squad_calibration.REFERENCE_LIST)
  assert len(names) == 100
  assert all(re.fullmatch(r'[0-9a-f]{24}', n) for n in names)
  with open(squad_calibration.REFERENCE_LIST, 'rb') as f:
    # sha256 of mlcommons/inference bert_calibration_qas_ids.txt.
    assert hashlib.sha256(f.read()).hexdigest() == (
        '282d3175dc3d67b33f4883ad109a024b4ef126ef436bb0dd4b0c98bf0f004a19')
  from mlperf_jax.inference import squad_task  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import squad_mini  # pylint: disable=import-outside-toplevel
  from mlperf_jax.workloads import bert as bert_workload  # pylint: disable=import-outside-toplevel
  wl = bert_workload.BertWorkload('mini')
  cal = wl.calibration_set()
  train = squad_task.build(
      squad_mini.load()['train'], squad_task.mini_vocab(),
      max_seq_length=64, doc_stride=24, max_query_length=16)
  # Every window of 100 seeded training questions, none of them scored.
  questions = squad_calibration.mini_questions(train)
  assert len(set(questions)) == 100
  assert questions == [train.examples[i].qas_id for i in
                       squad_calibration.calibration.seeded_subset(
                           len(train.examples), 100, 0)]
  assert not set(questions) & {e.qas_id for e in wl.squad_task().examples}
  windows = squad_calibration.windows_of(train, questions)
  assert list(cal.ids) == windows and len(windows) >= 100
  assert {train.examples[train.features[i].example_index].qas_id
          for i in windows} == set(questions)
  assert '100 mini QA training questions' in cal.source
  for k in (0, len(cal) - 1):
    got, want = cal.load(k), train.sample(windows[k])
    assert sorted(got) == ['input_ids', 'input_mask', 'segment_ids']
    for name, v in want.items():
      np.testing.assert_array_equal(got[name], v)
  with pytest.raises(ValueError, match='not in the SQuAD set'):
    squad_calibration.windows_of(train, ['not-a-question'])


def test_reference_calibration_is_every_window_of_the_listed_questions():
  qas_ids = squad_calibration.calibration.read_list(
      squad_calibration.REFERENCE_LIST)
  # A stand-in dev set: the 100 listed questions among others, 1-3 windows
  # each, in an order unlike the list's.
  ids = ['x%d' % i for i in range(50)] + qas_ids[::-1]
  examples = [types.SimpleNamespace(qas_id=q) for q in ids]
  features = [types.SimpleNamespace(example_index=e)
              for e in range(len(ids)) for _ in range(1 + e % 3)]
  task = types.SimpleNamespace(
      examples=examples, features=features,
      sample=lambda i: {'input_ids': np.full(4, i)})
  cal = squad_calibration.reference(task)
  listed = set(qas_ids)
  want = [i for i, f in enumerate(features)
          if ids[f.example_index] in listed]
  assert list(cal.ids) == want and len(want) == sum(
      1 + e % 3 for e in range(50, 150))
  assert cal.load(0)['input_ids'][0] == want[0]
  assert f'their {len(want)} windows' in cal.source
  task.examples = examples[:120]
  with pytest.raises(ValueError, match='30 calibration questions are not'):
    squad_calibration.reference(task)
