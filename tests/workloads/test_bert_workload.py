# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""BERT workload: eval cadence in samples, decay mask, tensor names, the mini
corpus and masking, and whole runs checked by the official checker."""

import collections
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from support.devices import one_device_env

from mlperf_jax import compliance
from mlperf_jax.input_pipelines import text_corpus
from mlperf_jax.models import bert as bert_model
from mlperf_jax.api import HostShard
from mlperf_jax.workloads import bert as bert_wl
from support import checker


def test_reference_eval_interval_formula():
  # FLOOR(0.05 * (230.23 * GBS + 3,000,000), 25000)
  assert bert_wl.reference_eval_interval(448) == 150_000
  assert bert_wl.reference_eval_interval(3072) == 175_000
  assert bert_wl.reference_eval_interval(8192) == 225_000
  assert bert_wl.reference_eval_interval(2) == 150_000


def test_reference_blocks_count_samples_and_round_up_to_steps():
  wl = bert_wl.BertWorkload('reference', synthetic=True)
  hp = wl.resolve_hparams()  # GBS 448, 8103 steps
  blocks = list(wl.blocks(hp, wl.default_max_epochs(hp)))
  b0, b1 = blocks[0], blocks[1]
  assert b0.first_epoch_num == 0 and b0.steps == 335  # ceil(150000 / 448)
  assert b0.epoch_count == 335 * 448 and b0.eval_epoch_num == 150_080
  assert b1.first_epoch_num == 150_080 and b1.eval_epoch_num == 670 * 448
  assert all(b.eval_epoch_num > 0 for b in blocks)  # no eval at 0
  assert sum(b.steps for b in blocks) == 8103  # the reference's run length
  for prev, nxt in zip(blocks, blocks[1:]):
    assert nxt.first_epoch_num == prev.eval_epoch_num
  # Eval k sits at the first step boundary at or after k * interval samples.
  for k, b in enumerate(blocks[:-1], start=1):
    assert 0 <= b.eval_epoch_num - k * 150_000 < 448


def test_param_labels_decay_mask_and_tensor_names():
  wl = bert_wl.BertWorkload('reference', synthetic=True)
  import jax  # pylint: disable=import-outside-toplevel
  hp = wl.resolve_hparams()
  boxed, _ = jax.eval_shape(lambda r: wl.init(r, hp),
                            jax.ShapeDtypeStruct((2,), np.uint32))
  names = wl.init_tensor_names(boxed)
  assert len(names) == 398 and len(set(names)) == 398
  import flax  # pylint: disable=import-outside-toplevel
  from mlperf_jax.hparams import registry  # pylint: disable=import-outside-toplevel
  ctx = registry.OptimizerContext(steps_per_epoch=1,
                                  param_labels=wl.param_labels)
  # LAMB's decay mask: everything but LayerNorm and bias variables.
  mask = flax.traverse_util.flatten_dict(
      ctx.mask(registry.KERNEL, registry.EMBEDDING)(flax.linen.unbox(boxed)))
  by_name = {bert_model.tf_name(p): m for p, m in mask.items()}
  assert by_name['bert/embeddings/word_embeddings']
  assert by_name['bert/encoder/layer_5/attention/self/query/kernel']
  assert by_name['cls/seq_relationship/output_weights']
  assert not by_name['bert/encoder/layer_5/attention/self/query/bias']
  assert not by_name['bert/encoder/layer_5/output/LayerNorm/gamma']
  assert not by_name['cls/predictions/output_bias']
  assert not by_name['cls/predictions/transform/LayerNorm/beta']
  # word, position, token type; 6 kernels a layer; pooler, transform, NSP.
  assert sum(by_name.values()) == 3 + 24 * 6 + 3
  assert wl.variant.log_init_tensors
  assert not bert_wl.BertWorkload('mini', synthetic=True
                                  ).variant.log_init_tensors


# ---- the mini corpus -------------------------------------------------------------


@pytest.fixture(scope='module')
def corpus():
  return text_corpus.load(bert_wl.mini_corpus_config())


def test_held_out_split_is_by_document_and_deterministic(corpus):
  docs = text_corpus.documents()
  held = [n for n, _ in docs if text_corpus.is_held_out(n, 10)]
  assert 0.05 * len(docs) < len(held) < 0.2 * len(docs)
  assert any(n.startswith('topic:') for n, _ in docs)
  assert any(n.startswith('module:') for n, _ in docs)
  again = text_corpus.build(bert_wl.mini_corpus_config())
  for k in corpus.train:
    np.testing.assert_array_equal(again.train[k], corpus.train[k])
  for k in corpus.eval:
    np.testing.assert_array_equal(again.eval[k], corpus.eval[k])
  assert again.vocab == corpus.vocab


def test_wordpiece_vocabulary(corpus):
  v = corpus.vocab
  assert len(v) == 2048 and len(set(v)) == 2048
  assert v[:5] == list(text_corpus.SPECIAL_TOKENS)
  tok = text_corpus.WordPieceTokenizer(v)
  ids = tok.encode('Return a new list of the values in the dictionary.')
  pieces = [v[i] for i in ids]
  assert text_corpus.UNK_ID not in ids
  assert 'the' in pieces and 'list' in pieces and pieces[-1] == '.'
  # Pieces reassemble the words (continuations carry '##').
  words = ' '.join(pieces).replace(' ##', '')
  assert words == 'return a new list of the values in the dictionary .'


def test_train_wordpiece_on_a_toy_corpus():
  vocab = text_corpus.train_wordpiece({'low': 5, 'lower': 2, 'newest': 6,
                                       'widest': 3}, vocab_size=30)
  assert vocab[:5] == list(text_corpus.SPECIAL_TOKENS)
  assert '##e' in vocab and 'l' in vocab  # every character is a piece
  assert '##est' in vocab or '##es' in vocab  # the most frequent pairs merge
  assert vocab == text_corpus.train_wordpiece(
      {'widest': 3, 'newest': 6, 'lower': 2, 'low': 5}, vocab_size=30)


def test_instances_look_like_the_reference(corpus):
  tr = corpus.train
  tokens, seg, lengths = tr['tokens'], tr['segment_ids'], tr['lengths']
  assert (tokens[:, 0] == text_corpus.CLS_ID).all()
  for k in range(0, len(tokens), 97):
    n = lengths[k]
    row = tokens[k, :n]
    assert row[-1] == text_corpus.SEP_ID and (row == text_corpus.SEP_ID).sum() == 2
    assert (tokens[k, n:] == 0).all() and (seg[k, n:] == 0).all()
    sep = int(np.flatnonzero(row == text_corpus.SEP_ID)[0])
    assert (seg[k, :sep + 1] == 0).all() and (seg[k, sep + 1:n] == 1).all()
  nsp = tr['next_sentence_labels'].mean()
  assert 0.4 < nsp < 0.7


def test_masking_follows_the_reference_rates(corpus):
  cfg = bert_wl.mini_corpus_config()
  tr = corpus.train
  idx = np.arange(2000)
  out = text_corpus.mask_instances(tr['tokens'][idx], tr['lengths'][idx],
                                   cfg, np.random.default_rng(0))
  pos, ids, w = (out['masked_lm_positions'], out['masked_lm_ids'],
                 out['masked_lm_weights'])
  n_pred = w.sum(1)
  expected = np.minimum(cfg.max_predictions,
                        np.maximum(1, np.round(tr['lengths'][idx] * 0.15)))
  np.testing.assert_array_equal(n_pred, expected)
  counts = collections.Counter()
  for k in range(len(idx)):
    m = int(n_pred[k])
    p = pos[k, :m]
    assert (np.diff(p) > 0).all()  # sorted, distinct
    assert (pos[k, m:] == 0).all() and (w[k, m:] == 0).all()
    orig = tr['tokens'][idx[k], p]
    np.testing.assert_array_equal(ids[k, :m], orig)
    assert not np.isin(orig, [text_corpus.CLS_ID, text_corpus.SEP_ID]).any()
    new = out['input_ids'][k, p]
    counts['mask'] += int((new == text_corpus.MASK_ID).sum())
    counts['same'] += int((new == orig).sum())
    counts['n'] += m
  assert abs(counts['mask'] / counts['n'] - 0.8) < 0.02
  # 10 % kept + the random replacements that hit the original token.
  assert abs(counts['same'] / counts['n'] - 0.1) < 0.02


def test_mini_train_batches_deterministic_and_host_sharded():
  wl = bert_wl.BertWorkload('mini')
  hp = wl.resolve_hparams({'global_batch_size': '8'})
  a = next(wl.train_batches(hp, seed=3, host=HostShard()))
  b = next(wl.train_batches(hp, seed=3, host=HostShard()))
  for k in a:
    np.testing.assert_array_equal(a[k], b[k])
  assert set(a) == set(wl.batch_spec(hp, train=True))
  for k, spec in wl.batch_spec(hp, train=True).items():
    assert a[k].shape == spec.shape and a[k].dtype == spec.dtype, k
  h0 = next(wl.train_batches(hp, seed=3, host=HostShard(0, 2)))
  h1 = next(wl.train_batches(hp, seed=3, host=HostShard(1, 2)))
  # Same instances (masks are drawn per host, like augmentations).
  for k in ('segment_ids', 'input_mask', 'next_sentence_labels'):
    np.testing.assert_array_equal(np.concatenate([h0[k], h1[k]]), a[k])
  ev = list(wl.eval_batches(hp, host=HostShard()))
  assert sum(float(e['mask'].sum()) for e in ev) == wl.variant.eval_samples
  assert wl.variant.train_samples == len(text_corpus.load(
      bert_wl.mini_corpus_config()).train['tokens'])


def test_reference_reads_the_tfrecord_layout(tmp_path):
  from mlperf_jax.input_pipelines import bert_tfrecord  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import synthetic  # pylint: disable=import-outside-toplevel
  ref = bert_wl.BertWorkload('reference')
  ref_hp = ref.resolve_hparams({'global_batch_size': '6'})
  arrays = dict(next(synthetic.train_batches_from_spec(
      ref.batch_spec(ref_hp, train=True), ref.synthetic_bounds(ref_hp),
      seed=0, host=HostShard())))
  os.makedirs(tmp_path / 'train')
  bert_tfrecord.write_bert_tfrecord(str(tmp_path / 'train' / 'part-00000'),
                                    arrays)
  wl = bert_wl.BertWorkload('reference', data_dir=str(tmp_path))
  hp = wl.resolve_hparams({'global_batch_size': '6'})
  batch = next(wl.train_batches(hp, seed=0, host=HostShard()))
  for k, spec in wl.batch_spec(hp, train=True).items():
    assert batch[k].shape == spec.shape and batch[k].dtype == spec.dtype, k
  # One epoch of 6 = the 6 written sequences, in some order.
  assert sorted(map(tuple, batch['segment_ids'])) == sorted(
      map(tuple, arrays['segment_ids']))


def test_mini_target_is_well_above_the_unigram_baseline(corpus):
  target = bert_wl.VARIANTS['mini'].target.value
  assert corpus.unigram_accuracy < 0.06
  assert target > 2.5 * corpus.unigram_accuracy


# ---- whole runs, judged by the official checker -----------------------------------


def _train(out, *args, timeout=900, env=None):
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'bert',
       '--output-dir', str(out), '--quiet', *args],
      capture_output=True, text=True, timeout=timeout, check=False, env=env)
  logs = sorted(out.rglob('mllog.txt'))
  return proc, logs


def _records(log):
  return [json.loads(l.split(':::MLLOG ', 1)[1])
          for l in log.read_text().splitlines() if ':::MLLOG ' in l]


def test_mini_run_counts_progress_in_samples(mini_run):
  # The conformance suite's cached mini BERT run checks the target and the
  # ruleset; here: what is BERT's own.
  run = mini_run('bert')
  assert run.proc.returncode == 0, run.output()
  accs = [r for r in _records(run.log) if r['key'] == 'eval_accuracy']
  # Progress in samples: eval k after ceil(k * 2048 / 32) steps of 32.
  assert [a['metadata']['epoch_num'] for a in accs] == [
      2048 * (k + 1) for k in range(len(accs))]


@pytest.fixture(scope='module')
def reference_smoke(tmp_path_factory):
  out = tmp_path_factory.mktemp('ref_bert')
  # One CPU device: BERT-large's LAMB state replicated over 8 fake devices
  # would need > 20 GB.
  env = one_device_env()
  proc, logs = _train(out, '--scale', 'reference', '--synthetic-data',
                      '--max-steps', '1', '--set', 'global_batch_size=2',
                      '--seed', '5', env=env)
  return proc, logs[0]


# One step of BERT-large on a CPU: ~90 s of compilation, the largest single
# cost of the suite; run with -m slow (ResNet's and DLRM's reference smoke
# logs go through the official checker in every run).
@pytest.mark.slow
@pytest.mark.parametrize('ruleset', ['1.1.0', '5.0.0'])
def test_reference_smoke_log_passes_official_rules_except_target(
    reference_smoke, ruleset):
  proc, log = reference_smoke
  assert proc.returncode == 1, proc.stdout + proc.stderr  # aborted: budget
  recs = _records(log)
  assert 'synthetic data' in log.read_text()
  assert len([r for r in recs if r['key'] == 'weights_initialization']) == 398
  values = {r['key']: r['value'] for r in recs}
  assert values['train_samples'] == 2 * 8103  # GBS x training steps
  assert values['eval_samples'] == 10_000
  assert values['opt_epsilon'] == values['opt_lamb_epsilon'] == 1e-6
  ev = [r for r in recs if r['key'] == 'eval_accuracy']
  assert ev and ev[0]['metadata']['epoch_num'] == 2  # 1 step of 2 samples
  checker.assert_only_the_target_fails(compliance.check(str(log), ruleset),
                                       '0.720')


def weights_digest(params):
  """loop.params_digest's documented digest, computed here: sha256 over
  (path, dtype, shape, bytes) of each leaf in path order."""
  import hashlib  # pylint: disable=import-outside-toplevel
  import jax  # pylint: disable=import-outside-toplevel
  h = hashlib.sha256()
  leaves = jax.tree_util.tree_flatten_with_path(params)[0]
  for path, leaf in sorted(leaves, key=lambda kv: jax.tree_util.keystr(kv[0])):
    a = np.asarray(leaf)
    h.update(f'{jax.tree_util.keystr(path)}|{a.dtype.str}|{a.shape}|'.encode())
    h.update(a.tobytes())
  return h.hexdigest()


def test_init_checkpoint_starts_from_the_tf_checkpoint(tmp_path):
  """--init-checkpoint: weights come from a reference-layout TF checkpoint."""
  import flax.linen as nn  # pylint: disable=import-outside-toplevel
  import jax  # pylint: disable=import-outside-toplevel
  from mlperf_jax.models import bert_tf as bert_checkpoint  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import loop
  from support import tf_checkpoint_writer  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime.mllog import RunLog  # pylint: disable=import-outside-toplevel
  wl = bert_wl.BertWorkload('mini')
  hp = wl.resolve_hparams()

  def first_loss(log=None, **kw):
    r = loop.run(wl, hp, loop.RunOptions(seed=0, max_steps=1, progress=False,
                                         **kw), log or RunLog(None, enabled=False))
    return r.losses[0]

  def write(seed, name):
    # What steps.make_init_fn draws for `seed`: the first half of the split.
    rng = jax.random.split(jax.random.PRNGKey(seed))[0]
    params = nn.meta.unbox(wl.init(rng, hp)[0])
    prefix = str(tmp_path / name / 'model.ckpt')
    tf_checkpoint_writer.write_tf_checkpoint(
        prefix, bert_checkpoint.export_params(params))
    return prefix

  baseline = first_loss()
  same = write(0, 'same')
  log = RunLog(str(tmp_path / 'mllog.txt'))
  assert first_loss(log, init_checkpoint=same) == baseline
  log.close()
  # The log names the checkpoint and the digest of the weights loaded.
  notes = [l for l in (tmp_path / 'mllog.txt').read_text().splitlines()
           if 'initial weights loaded' in l]
  assert len(notes) == 1 and same in notes[0]
  rng = jax.random.split(jax.random.PRNGKey(0))[0]
  assert weights_digest(nn.meta.unbox(wl.init(rng, hp)[0])) in notes[0]
  assert first_loss(init_checkpoint=write(7, 'other')) != baseline
  # A checkpoint of another model is bad input, named as such.
  bad = str(tmp_path / 'bad' / 'model.ckpt')
  tf_checkpoint_writer.write_tf_checkpoint(
      bad, {'bert/embeddings/word_embeddings': np.zeros((3, 4), np.float32)})
  with pytest.raises(ValueError, match='missing variable'):
    first_loss(init_checkpoint=bad)
