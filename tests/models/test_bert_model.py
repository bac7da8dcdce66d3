# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""BERT model: reference parameter counts and names, attention paths, padding,
the eval metric, checkpoint import, and sharded-vs-single-device training."""

import os
import re

import jax
import jax.numpy as jnp
import mlperf_logging
import numpy as np
import pytest

from mlperf_jax.models import bert_tf as bert_checkpoint
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps
from mlperf_jax.formats import tf_checkpoint
from mlperf_jax.models import bert
from mlperf_jax.api import HostShard
from mlperf_jax.workloads.bert import BertWorkload
from mlperf_jax.runtime import loop
from support import tf_checkpoint_writer


def _inputs(b, t, p, vocab=128, seed=0):
  rng = np.random.default_rng(seed)
  ids = rng.integers(5, vocab, (b, t)).astype(np.int32)
  lengths = rng.integers(t // 2, t + 1, b)
  mask = (np.arange(t)[None] < lengths[:, None]).astype(np.int32)
  seg = (np.arange(t)[None] >= (lengths[:, None] // 2)).astype(np.int32) * mask
  pos = np.stack([np.sort(rng.choice(np.arange(1, n - 1), p, replace=False))
                  for n in lengths]).astype(np.int32)
  return ids, mask, seg, pos


@pytest.fixture(scope='module')
def large_shapes():
  model = bert.BertForPreTraining(bert.bert_large_config())
  args = (jnp.zeros((1, 512), jnp.int32),) * 3 + (jnp.zeros((1, 76),
                                                            jnp.int32),)
  v = jax.eval_shape(lambda r: model.init(r, *args), jax.random.PRNGKey(0))
  return v['params']


def test_reference_parameter_counts(large_shapes):
  assert bert.param_count(large_shapes['bert']) == 335_141_888
  assert bert.param_count(large_shapes) == 336_226_108


def test_tf_names_are_the_398_of_the_1_1_0_checker(large_shapes):
  yaml = os.path.join(os.path.dirname(mlperf_logging.__file__),
                      'compliance_checker/training_1.1.0/closed_bert.yaml')
  expected = re.findall(r'"((?:bert|cls)/[^"]+)"', open(yaml).read())
  names = bert.tf_names(large_shapes)
  assert len(expected) == 398
  assert sorted(names.values()) == sorted(expected)


def test_every_parameter_has_logical_axes(large_shapes):
  import flax.linen as nn  # pylint: disable=import-outside-toplevel
  boxed = jax.tree.leaves(large_shapes,
                          is_leaf=lambda x: isinstance(x, nn.Partitioned))
  assert boxed and all(isinstance(x, nn.Partitioned) for x in boxed)
  specs = nn.get_partition_spec(large_shapes)
  q = specs['bert']['encoder']['layer_3']['attention']['self']['query']
  assert q['kernel'] == jax.sharding.PartitionSpec('embed', 'heads', 'kv')
  inter = specs['bert']['encoder']['layer_3']['intermediate']['dense']
  assert inter['kernel'] == jax.sharding.PartitionSpec('embed', 'mlp')


def _tiny_apply(cfg, ids, mask, seg, pos, params=None):
  model = bert.BertForPreTraining(cfg)
  if params is None:
    params = model.init(jax.random.PRNGKey(1), ids, mask, seg, pos)['params']
  return params, model.apply({'params': params}, ids, mask, seg, pos,
                             deterministic=True)


def test_fused_attention_matches_plain_path():
  ids, mask, seg, pos = _inputs(3, 16, 4)
  params, (mlm, nsp) = _tiny_apply(bert.tiny_config(), ids, mask, seg, pos)
  _, (mlm_f, nsp_f) = _tiny_apply(bert.tiny_config(fused_attention=True), ids,
                                  mask, seg, pos, params)
  np.testing.assert_allclose(mlm_f, mlm, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(nsp_f, nsp, rtol=1e-5, atol=1e-5)


def test_padding_is_masked_out():
  ids, mask, seg, pos = _inputs(2, 16, 4)
  params, (mlm, nsp) = _tiny_apply(bert.tiny_config(), ids, mask, seg, pos)
  ids2 = np.where(mask == 1, ids, 7)  # change only the padded tokens
  assert (ids2 != ids).any()
  _, (mlm2, nsp2) = _tiny_apply(bert.tiny_config(), ids2, mask, seg, pos,
                                params)
  np.testing.assert_allclose(mlm2, mlm, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(nsp2, nsp, rtol=1e-5, atol=1e-6)
  # ... while a real token does change the outputs.
  ids3 = ids.copy()
  ids3[:, 1] = 9
  _, (mlm3, _) = _tiny_apply(bert.tiny_config(), ids3, mask, seg, pos, params)
  assert np.abs(np.asarray(mlm3) - np.asarray(mlm)).max() > 1e-4


def test_bfloat16_compute_close_to_float32():
  ids, mask, seg, pos = _inputs(2, 16, 4)
  params, (mlm, _) = _tiny_apply(bert.tiny_config(), ids, mask, seg, pos)
  _, (mlm_bf, _) = _tiny_apply(bert.tiny_config(dtype=jnp.bfloat16), ids,
                               mask, seg, pos, params)
  assert mlm_bf.dtype == jnp.float32  # logits (and softmax) stay float32
  assert jax.tree.leaves(params)[0].dtype == jnp.float32
  np.testing.assert_allclose(mlm_bf, mlm, atol=0.1)


def test_gelu_is_the_reference_tanh_form():
  x = np.linspace(-4, 4, 101).astype(np.float32)
  ref = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
  np.testing.assert_allclose(bert.gelu(jnp.asarray(x)), ref, rtol=1e-6,
                             atol=1e-6)


def test_masked_lm_accuracy_hand_computed():
  # 2 sequences x 3 predictions over a 4-token vocabulary.
  logits = np.full((2, 3, 4), -1.0, np.float32)
  argmax = [[2, 0, 3], [1, 1, 0]]
  for i in range(2):
    for j in range(3):
      logits[i, j, argmax[i][j]] = 5.0
  ids = np.array([[2, 1, 3], [1, 0, 0]], np.int32)
  # Right: (0,0), (0,2), (1,0); (1,2) is right but padding (weight 0); the
  # second sequence is an eval padding example (batch mask 0) in case B.
  weights = np.array([[1, 1, 1], [1, 1, 0]], np.float32)
  s = bert.masked_lm_sums(jnp.asarray(logits), ids, weights)
  assert float(s['correct']) == 3.0 and float(s['weight']) == 5.0
  batch_mask = np.array([1, 0], np.float32)
  s = bert.masked_lm_sums(jnp.asarray(logits), ids,
                          weights * batch_mask[:, None])
  assert float(s['correct']) == 2.0 and float(s['weight']) == 3.0
  # Summed over batches the metric is sum(correct) / sum(weight), not a mean
  # of per-batch accuracies (the reference's tf.metrics.accuracy).
  wl = BertWorkload('mini', synthetic=True)
  acc = wl.eval_accumulator()
  acc.add({'correct': np.float32(3), 'weight': np.float32(5),
           'nll': np.float32(1)})
  acc.add({'correct': np.float32(1), 'weight': np.float32(1),
           'nll': np.float32(1)})
  assert acc.result()['masked_lm_accuracy'] == pytest.approx(4 / 6)


def test_pretraining_loss_matches_numpy():
  rng = np.random.default_rng(3)
  mlm = rng.normal(size=(2, 3, 5)).astype(np.float32)
  nsp = rng.normal(size=(2, 2)).astype(np.float32)
  ids = rng.integers(0, 5, (2, 3))
  w = np.array([[1, 1, 0], [1, 0, 0]], np.float32)
  labels = np.array([[0], [1]])
  total, parts = bert.pretraining_loss(mlm, nsp, ids, w, labels)
  lp = mlm - np.log(np.exp(mlm).sum(-1, keepdims=True))
  nll = -np.take_along_axis(lp, ids[..., None], -1)[..., 0]
  ref_mlm = (w * nll).sum() / (w.sum() + 1e-5)
  lpn = nsp - np.log(np.exp(nsp).sum(-1, keepdims=True))
  ref_nsp = -np.mean(lpn[np.arange(2), labels[:, 0]])
  assert float(parts['mlm_loss']) == pytest.approx(ref_mlm, rel=1e-5)
  assert float(total) == pytest.approx(ref_mlm + ref_nsp, rel=1e-5)


def test_checkpoint_import_maps_names_and_shapes(tmp_path):
  cfg = bert.tiny_config()
  model = bert.BertForPreTraining(cfg)
  ids, mask, seg, pos = _inputs(2, 16, 4)
  abstract = jax.eval_shape(lambda r: model.init(r, ids, mask, seg, pos),
                            jax.random.PRNGKey(0))['params']
  # A random checkpoint in the reference layout, written as TF would.
  rng = np.random.default_rng(0)
  h, n = cfg.hidden_size, cfg.num_attention_heads
  ref = {}
  for _, (name, shape) in bert_checkpoint.name_map(abstract).items():
    ref[name] = rng.normal(size=shape).astype(np.float32)
  assert ref['bert/encoder/layer_1/attention/self/query/kernel'].shape == (h, h)
  assert ref['bert/encoder/layer_0/attention/self/key/bias'].shape == (h,)
  assert ref['cls/seq_relationship/output_weights'].shape == (2, h)
  assert ref['bert/embeddings/LayerNorm/gamma'].shape == (h,)
  ref['global_step'] = np.array(28252, np.int64)  # ignored on import
  ref['bert/pooler/dense/kernel/adam_m'] = np.zeros((h, h), np.float32)
  prefix = str(tmp_path / 'model.ckpt-28252')
  tf_checkpoint_writer.write_tf_checkpoint(prefix, ref)
  params = bert_checkpoint.import_params(
      tf_checkpoint.read_tf_checkpoint(prefix), abstract)
  q = params['bert']['encoder']['layer_1']['attention']['self']['query']
  np.testing.assert_array_equal(
      q['kernel'].reshape(h, h),
      ref['bert/encoder/layer_1/attention/self/query/kernel'])
  # Head j of the reference's 2-D kernel is columns [j*d, (j+1)*d).
  d = h // n
  np.testing.assert_array_equal(
      q['kernel'][:, 1, :],
      ref['bert/encoder/layer_1/attention/self/query/kernel'][:, d:2 * d])
  out = params['bert']['encoder']['layer_0']['attention']['output']['dense']
  np.testing.assert_array_equal(
      out['kernel'][1],
      ref['bert/encoder/layer_0/attention/output/dense/kernel'][d:2 * d])
  np.testing.assert_array_equal(
      params['bert']['embeddings']['LayerNorm']['scale'],
      ref['bert/embeddings/LayerNorm/gamma'])
  np.testing.assert_array_equal(params['cls']['predictions']['output_bias'],
                                ref['cls/predictions/output_bias'])
  # The imported tree runs, and export gives back the checkpoint exactly.
  model.apply({'params': params}, ids, mask, seg, pos)
  back = bert_checkpoint.export_params(params)
  assert set(back) == set(ref) - {'global_step',
                                  'bert/pooler/dense/kernel/adam_m'}
  for k, v in back.items():
    np.testing.assert_array_equal(v, ref[k])


def test_checkpoint_import_reports_every_problem():
  cfg = bert.tiny_config()
  model = bert.BertForPreTraining(cfg)
  ids, mask, seg, pos = _inputs(1, 16, 4)
  abstract = jax.eval_shape(lambda r: model.init(r, ids, mask, seg, pos),
                            jax.random.PRNGKey(0))['params']
  tensors = {name: np.zeros(shape, np.float32) for name, shape in
             bert_checkpoint.name_map(abstract).values()}
  del tensors['bert/encoder/layer_1/output/LayerNorm/beta']
  tensors['bert/pooler/dense/kernel'] = np.zeros((3, 3), np.float32)
  with pytest.raises(bert_checkpoint.CheckpointMappingError) as e:
    bert_checkpoint.import_params(tensors, abstract)
  msg = str(e.value)
  assert '2 problem(s)' in msg
  assert 'layer_1/output/LayerNorm/beta' in msg and 'pooler' in msg


# ---- sharded training equals one device ---------------------------------------


class _TinyBert(BertWorkload):
  """The BERT workload with a tiny model on synthetic data (seq 16)."""

  def model_config(self):
    return bert.tiny_config()

  def seq_length(self):
    return 16

  def max_predictions(self):
    return 4


def _tiny_losses(mesh, n=4):
  wl = _TinyBert('mini', synthetic=True)
  hp = wl.resolve_hparams({'global_batch_size': '8',
                                       'opt_base_learning_rate': '0.01'})
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  c = steps.build(wl, tx, hp, mesh, compile_eval=False)
  state = c.init(jax.random.PRNGKey(0))
  it = wl.train_batches(hp, seed=0, host=HostShard())
  losses = []
  for _ in range(n):
    state, m = c.train_step(state, shd.host_to_global(next(it),
                                                      c.batch_sharding))
    losses.append(float(m['loss']))
  return np.array(losses), jax.tree.map(np.asarray, state.params), c


@pytest.fixture(scope='module')
def tiny_single():
  return _tiny_losses(shd.make_mesh('data=1', devices=jax.devices()[:1]))


@pytest.mark.parametrize('spec', ['data=4,tensor=2', 'fsdp=8'])
def test_tensor_and_fsdp_parallel_match_one_device(tiny_single, spec):
  assert jax.device_count() == 8
  ref_losses, ref_params, _ = tiny_single
  losses, params, c = _tiny_losses(shd.make_mesh(spec))
  assert abs(ref_losses[-1] - ref_losses[0]) > 1e-3  # training moved
  np.testing.assert_allclose(losses, ref_losses, rtol=2e-5, atol=2e-5)
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(ref_params)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
  # The parameters really are split as the logical rules say.
  sh = c.state_sharding.params['bert']['encoder']['layer_0']
  q = sh['attention']['self']['query']['kernel'].spec
  inter = sh['intermediate']['dense']['kernel'].spec
  # 'embed' -> fsdp, heads and the MLP hidden dimension -> tensor (axes of
  # size 1 in a mesh shard nothing).
  assert q == jax.sharding.PartitionSpec('fsdp', 'tensor', None)
  assert inter == jax.sharding.PartitionSpec('fsdp', 'tensor')
  assert dict(c.mesh.shape)['tensor'] == (2 if 'tensor' in spec else 1)
