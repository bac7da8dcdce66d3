# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""RNN-T workload: the mini data, WER against jiwer, the exact EMA, the
reference dry run and LibriSpeech reader, the finished mini run's log."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from mlperf_jax import workloads
from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import librispeech
from mlperf_jax.input_pipelines import spoken_numbers as sn
from mlperf_jax.metrics import wer
from mlperf_jax.runtime import loop
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps as steps_lib
from mlperf_jax.workloads import rnnt as rnnt_wl


def test_number_words_are_librispeech_normalised():
  assert sn.number_words(0) == 'zero'
  assert sn.number_words(40) == 'forty'
  assert sn.number_words(305) == 'three hundred five'
  assert sn.number_words(9019) == 'nine thousand nineteen'
  assert sn.number_words(2345) == 'two thousand three hundred forty five'
  words = {w for n in range(10000) for w in sn.number_words(n).split()}
  assert len(words) == 30
  assert all(librispeech.normalize_transcript(w) == w for w in words)


def test_plan_holds_one_voice_out_and_is_fixed():
  plan = sn._plan()
  assert plan == sn._plan()
  assert len(plan) == rnnt_wl.MINI_TRAIN + rnnt_wl.MINI_EVAL
  train, held = plan[:rnnt_wl.MINI_TRAIN], plan[rnnt_wl.MINI_TRAIN:]
  assert {p[1] for p in held} == {sn.EVAL_VOICE}
  assert sn.EVAL_VOICE not in {p[1] for p in train}
  assert len({p[1] for p in train}) == len(sn.VOICES) - 1
  assert len({p[0] for p in plan}) == len(plan)  # transcripts distinct


def test_missing_espeak_is_a_clear_error(monkeypatch):
  monkeypatch.setenv('PATH', '/nonexistent')
  with pytest.raises(RuntimeError, match='apt-get install espeak-ng'):
    sn.espeak_binary()
  wl = workloads.get('rnnt', 'mini')
  problems = wl.check_request(wl.resolve_hparams(), division='closed',
                              init_checkpoint=None, dry_run=False)
  assert any('apt-get install espeak-ng' in p for p in problems)


def test_wer_matches_jiwer():
  jiwer = pytest.importorskip('jiwer')
  rng = np.random.default_rng(0)
  vocab = 'one two three four five six seven'.split()
  refs, hyps = [], []
  for _ in range(40):
    r = list(rng.choice(vocab, size=int(rng.integers(1, 8))))
    h = [w for w in r if rng.random() > 0.2]
    h = [str(rng.choice(vocab)) if rng.random() < 0.2 else w for w in h]
    if rng.random() < 0.3:
      h.insert(int(rng.integers(0, len(h) + 1)), str(rng.choice(vocab)))
    refs.append(' '.join(r))
    hyps.append(' '.join(h))
  expect = jiwer.wer(refs, hyps)
  assert wer.word_error_rate(hyps, refs) == pytest.approx(expect, abs=1e-12)
  acc = wer.WerAccumulator(librispeech.CharTokenizer().decode)
  tok = librispeech.CharTokenizer()
  pad = lambda xs: np.array([tok.encode(x) + [-1] * (60 - len(x)) for x in xs])
  acc.add({'hyp': pad(hyps), 'hyp_lens': np.array([len(h) for h in hyps]),
           'labels': pad(refs), 'label_lens': np.array([len(r) for r in refs]),
           'mask': np.ones(len(refs))})
  assert acc.result()['wer'] == pytest.approx(expect, abs=1e-12)


def test_mini_data_sizes_and_batches():
  wl = workloads.get('rnnt', 'mini')
  hp = wl.resolve_hparams()
  data = rnnt_wl._mini_data(None, True)
  assert len(data.train_idx) == wl.variant.train_samples
  assert len(data.eval_idx) == wl.variant.eval_samples
  a = next(wl.train_batches(hp, seed=3, host=HostShard()))
  b = next(wl.train_batches(hp, seed=3, host=HostShard()))
  for k in a:
    np.testing.assert_array_equal(a[k], b[k])
  assert (a['feat_lens'] > 0).all() and (a['feat_lens'] <= data.frames).all()
  text = [data.tokenizer.decode(a['labels'][i, :n])
          for i, n in enumerate(a['label_lens'])]
  train_texts = {data.transcript(int(i)) for i in data.train_idx}
  assert all(t in train_texts for t in text)
  # Every number word is one SentencePiece piece.
  assert (a['label_lens'] == [len(t.split()) for t in text]).all()
  assert data.tokenizer.num_labels == rnnt_wl.MINI_VOCAB


def test_eval_uses_the_reference_ema_after_the_last_step():
  wl = workloads.get('rnnt', 'mini')
  hp = wl.resolve_hparams()
  d = float(hp['model_eval_ema_factor'])
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  one = shd.make_mesh('data=1', devices=jax.devices()[:1])
  c = steps_lib.build(wl, tx, hp, one, compile_eval=False)
  state = c.init(jax.random.PRNGKey(0))
  it = wl.train_batches(hp, seed=0, host=HostShard())
  seen = [jax.device_get(state.params)]
  for _ in range(2):
    state, _ = c.train_step(state, shd.host_to_global(next(it),
                                                      c.batch_sharding))
    seen.append(jax.device_get(state.params))
  # apply_ema: E_0 = p_0, E_k = d E_{k-1} + (1 - d) p_k.
  ema = seen[0]
  for p in seen[1:]:
    ema = jax.tree.map(lambda e, x: d * e + (1 - d) * x, ema, p)
  got = wl.eval_params(state.params, state.model_state, hp)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ema)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
  assert any(np.abs(a - b).max() > 1e-6 for a, b in zip(
      jax.tree.leaves(got), jax.tree.leaves(seen[-1])))


def test_reference_dry_run_prints_parameters_and_joint_memory(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'rnnt',
       '--scale', 'reference', '--dry-run', '--output-dir', str(tmp_path)],
      capture_output=True, text=True, timeout=600, check=False)
  out = proc.stdout + proc.stderr
  assert proc.returncode == 0, out
  assert '49,006,080' in out or '49006080' in out, out
  assert 'joint tensor' in out and 'chunks of 16 frames' in out, out


def _write_tree(root, rng):
  import soundfile
  texts = ['HELLO WORLD', "IT'S A TEST", 'ONE TWO THREE', 'FOUR FIVE',
           'SIX SEVEN EIGHT', 'NINE TEN']
  k = 0
  for split in (*librispeech.TRAIN_SPLITS, librispeech.EVAL_SPLIT):
    folder = os.path.join(root, split, '19', '198')
    os.makedirs(folder)
    lines = []
    for j in range(3):
      uid = f'19-198-{j:04d}'
      seconds = [0.5, 1.0, 20.0][j] if split != librispeech.EVAL_SPLIT else 1
      soundfile.write(os.path.join(folder, uid + '.flac'),
                      (0.1 * rng.normal(size=int(16000 * seconds))), 16000)
      lines.append(f'{uid} {texts[k % len(texts)]}')
      k += 1
    with open(os.path.join(folder, '19-198.trans.txt'), 'w') as f:
      f.write('\n'.join(lines) + '\n')
  os.makedirs(os.path.join(root, 'sentencepieces'))
  librispeech.train_sentencepiece(
      [librispeech.normalize_transcript(t) for t in texts] * 20,
      os.path.join(root, 'sentencepieces', 'librispeech1023'), vocab_size=20)


def test_librispeech_reader_on_a_local_flac_tree(tmp_path):
  root = str(tmp_path)
  assert len(librispeech.check_layout(root)) == 5
  _write_tree(root, np.random.default_rng(0))
  assert librispeech.check_layout(root) == []
  data = librispeech.LibriSpeech(root, max_duration=16.7, num_buckets=2)
  # The 20 s utterance of each training split is dropped.
  assert len(data.train) == 6 and len(data.eval) == 3
  assert data.eval[0].transcript == 'hello world' or data.eval[0].transcript
  assert librispeech.normalize_transcript("IT'S  A-TEST.") == "it's a test"
  batch = next(data.train_batches(global_batch_size=2, seed=0,
                                  host=HostShard()))
  assert batch['feats'].shape[1] in data.bucket_sizes
  assert batch['feats'].shape[2] == 240
  evals = list(data.eval_batches(global_batch_size=2, host=HostShard()))
  assert sum(float(b['mask'].sum()) for b in evals) == 3
  ids = batch['labels'][0, :batch['label_lens'][0]]
  assert data.tokenizer.decode(ids) in {u.transcript for u in data.train}


def test_mini_run_log_has_the_rnnt_keys(mini_run):
  run = mini_run('rnnt')
  assert run.proc.returncode == 0, run.output()
  recs = run.records()
  keys = {r['key'] for r in recs}
  assert {'data_speed_perturbaton_min', 'data_speed_perturbaton_max',
          'eval_max_prediction_symbols', 'model_eval_ema_factor'} <= keys
  wers = [r['value'] for r in recs if r['key'] == 'eval_accuracy']
  # The empty output scores 1.0; the run ends below the target.
  assert wers[0] > wers[-1] and wers[-1] <= 0.058


def test_inference_spec_encodes_int64_tokens_and_scores_wer():
  wl = workloads.get('rnnt', 'mini')
  spec = wl.inference()
  assert spec.count == rnnt_wl.MINI_EVAL and spec.metric == 'wer'
  sample = spec.load_sample(0)
  assert sample['feats'].shape[1] == 240 and sample['feat_lens'].shape == (1,)
  data = rnnt_wl._mini_data(None, True)
  ref = [data.tokenizer.encode(data.transcript(int(i))) for i in data.eval_idx]
  out = {'hyp': np.array([r + [-1] * (20 - len(r)) for r in ref[:3]]),
         'hyp_lens': np.array([len(r) for r in ref[:3]])}
  perfect = {i: rnnt_wl.encode_tokens(out, i) for i in range(3)}
  assert np.frombuffer(perfect[1], '<i8').tolist() == ref[1]
  assert spec.accuracy(perfect)['wer'] == 0.0
  assert spec.accuracy({i: b'' for i in range(3)})['wer'] == 1.0


def test_serving_the_final_parameters_gives_the_training_wer(mini_run,
                                                              tmp_path):
  run = mini_run('rnnt')
  assert run.proc.returncode == 0, run.output()
  (params,) = list(run.log.parent.rglob('final_params'))
  wers = [r['value'] for r in run.records() if r['key'] == 'eval_accuracy']
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'rnnt',
       '--checkpoint', str(params), '--mode', 'accuracy', '--scenario',
       'Offline', '--output-dir', str(tmp_path)],
      capture_output=True, text=True, timeout=600, check=False)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  acc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.accuracy', '--workload', 'rnnt',
       '--scale', 'mini', str(tmp_path / 'mlperf_log_accuracy.json')],
      capture_output=True, text=True, timeout=300, check=False)
  assert acc.returncode == 0, acc.stdout + acc.stderr
  line = [l for l in acc.stdout.splitlines() if 'wer = ' in l][0]
  assert float(line.split('wer = ')[1].split()[0]) == pytest.approx(
      wers[-1], abs=1e-6)


@pytest.fixture(scope='module')
def reference_smoke(tmp_path_factory):
  out = tmp_path_factory.mktemp('ref_rnnt')
  # One CPU device (the 49 M-parameter LAMB state replicated 8 times is
  # needless here).
  env = dict(os.environ,
             XLA_FLAGS='--xla_force_host_platform_device_count=1')
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'rnnt',
       '--scale', 'reference', '--synthetic-data', '--max-steps', '1',
       '--set', 'global_batch_size=2', '--seed', '5', '--quiet',
       '--output-dir', str(out)],
      capture_output=True, text=True, timeout=1800, check=False, env=env)
  return proc, sorted(out.rglob('mllog.txt'))


# One step and one eval of the 49 M-parameter model at 16.7 s on a CPU:
# minutes; run with -m slow.
@pytest.mark.slow
@pytest.mark.parametrize('ruleset', ['1.1.0', '3.1.0'])
def test_reference_smoke_log_passes_official_rules_except_target(
    reference_smoke, ruleset):
  import json
  from mlperf_jax import compliance
  from support import checker
  proc, logs = reference_smoke
  assert proc.returncode == 1, proc.stdout + proc.stderr  # aborted: budget
  recs = [json.loads(l.split(':::MLLOG ', 1)[1])
          for l in logs[0].read_text().splitlines() if ':::MLLOG ' in l]
  inits = [r['metadata']['tensor'] for r in recs
           if r['key'] == 'weights_initialization']
  assert sorted(inits) == sorted(['pre_rnn', 'post_rnn', 'pred_embed',
                                  'dec_rnn', 'joint_pred', 'joint_enc',
                                  'joint_net'])
  values = {r['key']: r['value'] for r in recs}
  assert values['eval_samples'] == 2703
  assert values['data_speed_perturbaton_max'] == 1.15
  checker.assert_only_the_target_fails(
      compliance.check(str(logs[0]), ruleset), '0.058')
