# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""BERT inference (SQuAD v1.1): the span head, its TF checkpoint import,
fine-tuning the mini BERT and serving it under both LoadGens, scored by the
accuracy script and equal to scoring the same parameters directly."""

import json
import subprocess
import sys

import numpy as np
import pytest
from flax import traverse_util
from support import tf_checkpoint_writer
from support.devices import one_device_env

from mlperf_jax.inference import squad_finetune
from mlperf_jax.models import bert as bert_model
from mlperf_jax.models import bert_tf
from mlperf_jax.workloads import bert as bert_workload


def test_reference_qa_model_is_bert_large_plus_a_2_output_head():
  wl = bert_workload.BertWorkload('reference')
  shapes = wl.qa_abstract_params()
  # 335,141,888 in embeddings + encoder + pooler, and [2, 1024] + [2].
  assert bert_model.param_count(shapes) == 335_141_888 + 2 * 1024 + 2
  names = bert_tf.name_map(shapes)
  assert names[('cls', 'squad', 'output_weights')] == (
      'cls/squad/output_weights', (2, 1024))
  assert names[('cls', 'squad', 'output_bias')] == ('cls/squad/output_bias',
                                                    (2,))
  assert not any(n.startswith('cls/predictions') for n, _ in names.values())


def test_span_head_logits_and_loss_by_hand():
  cfg = bert_model.tiny_config()
  params = squad_finetune.init_qa_params(cfg, None, seed=3)
  ids = np.arange(2 * 32).reshape(2, 32) % cfg.vocab_size
  mask = np.ones_like(ids)
  seg = np.zeros_like(ids)
  logits = np.asarray(bert_model.BertForQuestionAnswering(cfg).apply(
      {'params': params}, ids, mask, seg))
  seq, _, _ = bert_model.BertModel(cfg).apply({'params': params['bert']},
                                             ids, mask, seg, True)
  w = np.asarray(params['cls']['squad']['output_weights'])
  b = np.asarray(params['cls']['squad']['output_bias'])
  np.testing.assert_allclose(logits, np.asarray(seq) @ w.T + b, rtol=1e-5,
                             atol=1e-5)
  starts, ends = np.array([3, 0]), np.array([5, 31])

  def nll(x, k):
    x = x - x.max()
    return np.log(np.exp(x).sum()) - x[k]
  want = np.mean([0.5 * (nll(logits[i, :, 0], starts[i])
                         + nll(logits[i, :, 1], ends[i])) for i in range(2)])
  got = bert_model.span_loss(logits, starts, ends)
  assert float(got) == pytest.approx(want, rel=1e-5)


def test_tf_checkpoint_with_span_head_imports(tmp_path):
  wl = bert_workload.BertWorkload('mini')
  params = squad_finetune.init_qa_params(wl.model_config(), None, seed=5)
  tensors = bert_tf.export_params(params)
  assert tensors['cls/squad/output_weights'].shape == (2, 128)
  # Q/K/V kernels in the reference's 2-D layout.
  assert tensors['bert/encoder/layer_0/attention/self/query/kernel'].shape == (
      128, 128)
  tensors['global_step'] = np.asarray(7, np.int64)  # ignored, as optimizer
  tensors['cls/squad/output_weights/adam_m'] = np.zeros((2, 128), np.float32)
  prefix = str(tmp_path / 'model.ckpt-5474')
  tf_checkpoint_writer.write_tf_checkpoint(prefix, tensors)
  got, state = wl.load_serving_checkpoint(prefix + '.index')
  assert state == {}
  flat_got = traverse_util.flatten_dict(got)
  flat_want = traverse_util.flatten_dict(params)
  assert flat_got.keys() == flat_want.keys()
  for k, v in flat_want.items():
    np.testing.assert_array_equal(np.asarray(flat_got[k]), np.asarray(v))
  served, _ = wl.serving_params(got, {})
  assert served is got  # a span head: served as it is
  del tensors['cls/squad/output_bias']
  tf_checkpoint_writer.write_tf_checkpoint(str(tmp_path / 'bad'), tensors)
  with pytest.raises(ValueError, match='cls/squad/output_bias'):
    wl.load_serving_checkpoint(str(tmp_path / 'bad'))


# ---- mini: fine-tune, serve, score ---------------------------------------------


def _finetune(run, out, *extra):
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.finetune', '--workload', 'bert',
       '--checkpoint', str(run.log.parent / 'final_params'),
       '--output-dir', str(out), *extra],
      capture_output=True, text=True, timeout=1800, check=False,
      env=one_device_env())
  assert proc.returncode == 0, proc.stdout + proc.stderr
  return out, json.loads((out / 'finetune.json').read_text())


@pytest.fixture(scope='module')
def finetuned(mini_run, tmp_path_factory):
  """The cached mini BERT run fine-tuned by the `finetune` command for a
  few steps (cheap: the serving path is what is checked with it)."""
  run = mini_run('bert')
  assert run.log is not None, run.output()
  return _finetune(run, tmp_path_factory.mktemp('bert_ft_short'),
                   '--epochs', '0.1')


def _served_f1(out, logs, scenario, loadgen, *extra, stdout=None):
  """`infer --mode accuracy` on `out/final_params`; the F1 it prints (the
  whole output appended to `stdout` where given)."""
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'bert',
       '--scenario', scenario, '--mode', 'accuracy', '--loadgen', loadgen,
       '--checkpoint', str(out / 'final_params'), '--output-dir', str(logs),
       *extra],
      capture_output=True, text=True, timeout=600, check=False,
      env=one_device_env())
  assert proc.returncode == 0, proc.stdout + proc.stderr
  if stdout is not None:
    stdout.append(proc.stdout)
  return float(proc.stdout.split('f1 = ')[1].split()[0])


@pytest.mark.parametrize('scenario, loadgen', [
    ('Offline', 'official'),
    pytest.param('Server', 'python', marks=pytest.mark.slow),
    pytest.param('Offline', 'python', marks=pytest.mark.slow),
    pytest.param('Server', 'official', marks=pytest.mark.slow)])
def test_accuracy_run_equals_direct_f1(finetuned, tmp_path, scenario,
                                       loadgen):
  out, result = finetuned
  logs = tmp_path / 'logs'
  printed = _served_f1(out, logs, scenario, loadgen)
  # The same parameters scored directly by `finetune` (batches of 64 there,
  # the LoadGen's buckets here): the same F1 (printed to 6 decimals).
  assert printed == pytest.approx(result['dev']['f1'], abs=1e-6)
  # The accuracy script, run on its own over the log, prints the same.
  script = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.accuracy', '--workload', 'bert',
       str(logs / 'mlperf_log_accuracy.json')],
      capture_output=True, text=True, timeout=300, check=False,
      env=one_device_env())
  assert script.returncode == 0, script.stdout + script.stderr
  assert float(script.stdout.split('f1 = ')[1].split()[0]) == printed
  entries = json.loads((logs / 'mlperf_log_accuracy.json').read_text())
  assert len({e['qsl_idx'] for e in entries}) == int(
      result['dev']['samples'])
  assert {len(bytes.fromhex(e['data'])) for e in entries} == {64 * 2 * 4}


def test_pretraining_params_at_reference_scale_are_refused():
  wl = bert_workload.BertWorkload('reference')
  with pytest.raises(ValueError, match='finetune'):
    wl.serving_params({'bert': {}, 'cls': {'predictions': {}}}, {})


def test_mini_qa_set_is_extractive_held_out_and_set_by_the_question():
  import re  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import squad_mini  # pylint: disable=import-outside-toplevel
  sets = squad_mini.load()
  titles = {k: {a['title'] for a in v['data']} for k, v in sets.items()}
  assert not titles['train'] & titles['dev']  # the corpus's document split
  questions = {q: (pat, g) for q, pat, g in squad_mini.KINDS.values()}
  n = 0
  for split in sets.values():
    for a in split['data']:
      for p in a['paragraphs']:
        # Questions of two kinds or more: the kind must be read.
        assert len({qa['question'] for qa in p['qas']}) == len(p['qas']) >= 2
        for qa in p['qas']:
          (ans,) = qa['answers']
          start = ans['answer_start']
          assert p['context'][start:start + len(ans['text'])] == ans['text']
          # The question's kind matches the paragraph once: at the answer.
          pat, g = questions[qa['question']]
          (m,) = re.finditer(pat, p['context'])
          assert (m.start(g), m.group(g)) == (start, ans['text'])
          n += 1
  assert n > 1500
  # The answerers that ignore the question: the trivial ones far below the
  # target, finding spans of any kind (without reading which) below it.
  base = squad_mini.baselines(sets['dev'], sets['train'])
  target = bert_workload.MINI_SQUAD_TARGET_F1
  blind = base.pop('first_span_of_any_kind_f1')
  assert set(base) == {'first_word_f1', 'random_span_f1',
                       'most_frequent_answer_f1'}
  assert 0 < max(base.values()) < 0.2 * target
  assert 0 < blind < 0.75 * target


@pytest.fixture(scope='module')
def finetuned_to_target(mini_run, tmp_path_factory):
  """The cached mini BERT run fine-tuned with the mini defaults."""
  run = mini_run('bert')
  assert run.log is not None, run.output()
  return _finetune(run, tmp_path_factory.mktemp('bert_ft_full'))


@pytest.mark.slow
def test_served_finetuned_mini_meets_the_squad_target(finetuned_to_target,
                                                      tmp_path):
  """`finetune` with its mini defaults, served in an accuracy run: the
  accuracy script's F1 reaches the mini target (and equals direct
  scoring)."""
  target = bert_workload.MINI_SQUAD_TARGET_F1
  out, result = finetuned_to_target
  assert result['dev']['f1'] >= target
  logs = tmp_path / 'logs'
  printed = _served_f1(out, logs, 'Offline', 'python')
  assert printed == pytest.approx(result['dev']['f1'], abs=1e-6)
  assert printed >= target


@pytest.mark.slow
def test_served_int8_mini_keeps_99_percent_of_fp32(finetuned_to_target,
                                                   tmp_path):
  """`infer --precision int8` on the mini fine-tune (calibrated on 100
  seeded training questions): F1 >= 99 % of the same parameters' FP32 F1,
  the MLPerf BERT 99 % rule (measured 2026-12-02: 46.524 / 46.785 =
  0.9944)."""
  out, result = finetuned_to_target
  printed = []
  f1 = _served_f1(out, tmp_path / 'logs', 'Offline', 'python', '--precision',
                  'int8', stdout=printed)
  (text,) = printed
  assert '14 layers, calibrated on' in text
  fp32 = float(text.split('fp32 f1 (direct): ')[1].split(';')[0])
  assert fp32 == pytest.approx(result['dev']['f1'], abs=1e-6)
  assert f1 != fp32 and f1 >= 0.99 * fp32, (f1, fp32)
