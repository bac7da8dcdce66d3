# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Bad input to every command: one case per class of mistake.

Each case runs the command's `main` in this process (they fail before JAX
compiles anything, most before it is imported) in a workspace directory
that is also the working directory, and asserts: exit code 2, a message
naming the problem (and the fix, where one word says it), no traceback,
and that no file of the workspace was created, changed or removed. The
workspace holds what the cases point at: a file where a directory is
expected, damaged datasets, a finished run's checkpoint directory,
LoadGen logs, accuracy logs, a TFRecord with a bad checksum.

After the table, the faults that are not bad input: Ctrl-C, a busy
checkpoint directory, and `check` on a package with a run that did not
converge or a missing result file.
"""

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mlperf_jax import accuracy, check, compliance, infer, launch_local
from mlperf_jax import make_rcps, submit, train
from mlperf_jax.cli import options
from mlperf_jax.input_pipelines import bert_tfrecord
from mlperf_jax.submission import package_check
from mlperf_jax.submission import tree as st
from support.paths import FIXTURES

# The BERT fixture's shapes (tests/fixtures/make_tf_fixtures.py).
FIXTURE_SEQ, FIXTURE_PRED, FIXTURE_COUNT = 32, 5, 4


def _write(path, data):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb' if isinstance(data, bytes) else 'w') as f:
    f.write(data)


def _mllog(key, value=None, **metadata):
  return ':::MLLOG ' + json.dumps({
      'namespace': '', 'time_ms': 1, 'event_type': 'POINT_IN_TIME',
      'key': key, 'value': value, 'metadata': metadata}) + '\n'


def _make_workspace(ws):
  """Every input the cases point at, under `ws`."""
  _write(f'{ws}/afile', 'not a directory\n')
  # A finished run and its checkpoint directory (as train leaves them).
  log = f'{ws}/runs/mini_resnet/run1/mllog.txt'
  _write(log, _mllog('run_start') + _mllog('run_stop', status='success'))
  _write(f'{ws}/ckpt_done/12/meta/metadata', json.dumps(
      {'format': 1, 'log_path': os.path.abspath(log)}))
  _write(f'{ws}/ckpt_marked/{options.FINISHED_FILE}', json.dumps(
      {'status': 'aborted', 'log': log}))
  # ImageNet: empty, garbage dataset_info.json, a TFRecord build (needs
  # TensorFlow), garbage array_record shards.
  os.makedirs(f'{ws}/inet_empty')
  _write(f'{ws}/inet_garbage/imagenet2012/5.1.0/dataset_info.json', '{garb')
  _write(f'{ws}/inet_tfrecord/imagenet2012/5.1.0/dataset_info.json',
         json.dumps({'splits': []}))
  info = {'fileFormat': 'array_record', 'splits': [
      {'name': 'train', 'shardLengths': ['1281167']},
      {'name': 'validation', 'shardLengths': ['50000']}]}
  d = f'{ws}/inet_array/imagenet2012/5.1.0'
  _write(f'{d}/dataset_info.json', json.dumps(info))
  for split in ('train', 'validation'):
    _write(f'{d}/imagenet2012-{split}.array_record-00000-of-00001',
           b'garbage' * 64)
  # Criteo: a truncated train .bin and no test .bin.
  _write(f'{ws}/criteo/terabyte_processed_train.bin', b'\0' * 1000)
  # LoadGen logs from an earlier test, accuracy logs, a user.conf.
  _write(f'{ws}/inference_logs/old/mlperf_log_summary.txt', 'Result is : x\n')
  _write(f'{ws}/acc/bad.json', '{not json')
  _write(f'{ws}/acc/dict.json', '{"qsl_idx": 0}')
  _write(f'{ws}/acc/range.json', '[{"qsl_idx": 100000, "data": "00"}]')
  _write(f'{ws}/acc/hex.json', '[{"qsl_idx": 0, "data": "zz"}]')
  _write(f'{ws}/user.conf', 'resnet50.Offline.target_qps 100\n')
  # BERT TFRecords: one with a bad data checksum, a conversion destination
  # that is not empty.
  data = bytearray((FIXTURES / 'bert.tfrecord').read_bytes())
  data[-10] ^= 0xFF
  _write(f'{ws}/bert/crc.tfrecord', bytes(data))
  _write(f'{ws}/bert/dst/keep.txt', 'mine\n')
  _write(f'{ws}/rcps.json', '{}')


def _snapshot(root):
  out = {}
  for d, _, files in os.walk(root):
    for f in files:
      p = os.path.join(d, f)
      st_ = os.stat(p)
      out[p] = (st_.st_size, st_.st_mtime_ns)
  return out


@pytest.fixture(name='ws')
def _ws(tmp_path, monkeypatch):
  ws = tmp_path / 'ws'
  ws.mkdir()
  _make_workspace(str(ws))
  monkeypatch.chdir(ws)  # default output directories land here too
  return str(ws)


def _run(main, argv, capsys):
  """(exit code, stdout + stderr) of a command's main, in this process."""
  try:
    code = main(argv)
  except SystemExit as e:
    code = e.code
  out = capsys.readouterr()
  return code, out.out + out.err


W = '{ws}'  # replaced by the workspace path in every argument

CASES = [
    # name, main, argv, words the message must contain
    ('unknown workload', train.main, ['--workload', 'resnett'],
     ["unknown workload 'resnett'", 'resnet']),
    ('negative seed', train.main, ['--workload', 'resnet', '--seed', '-1'],
     ['--seed -1 is out of range', '0..2147483647']),
    ('huge seed', train.main,
     ['--workload', 'resnet', '--seed', str(2**64)], ['out of range']),
    ('output dir is a file', train.main,
     ['--workload', 'resnet', '--output-dir', f'{W}/afile'],
     ['--output-dir', 'is not a directory']),
    ('output dir under a file', train.main,
     ['--workload', 'resnet', '--output-dir', f'{W}/afile/runs'],
     ['cannot be created', 'is a file']),
    ('--set without =', train.main,
     ['--workload', 'resnet', '--set', 'global_batch_size'], ['KEY=VALUE']),
    ('unknown hyperparameter', train.main,
     ['--workload', 'resnet', '--set', 'lars_lr=1'],
     ["unknown hyperparameter 'lars_lr'", 'lars_opt_base_learning_rate']),
    ('malformed value', train.main,
     ['--workload', 'resnet', '--set', 'global_batch_size=abc'],
     ["'abc' is not an integer"]),
    ('NaN hyperparameter', train.main,
     ['--workload', 'resnet', '--set', 'lars_opt_base_learning_rate=nan'],
     ['lars_opt_base_learning_rate=nan', 'finite']),
    ('closed-division rule', train.main,
     ['--workload', 'resnet', '--set', 'label_smoothing=0.2'],
     ['label_smoothing=0.2', 'closed division']),
    ('unknown optimizer', train.main,
     ['--workload', 'resnet', '--set', 'opt_name=adam'],
     ["opt_name='adam'", 'lars, sgd']),
    ('every problem at once', train.main,
     ['--workload', 'resnet', '--seed', '-5', '--max-epochs', '0', '--set',
      'lars_opt_momentum=inf'],
     ['--seed -5', '--max-epochs must be >= 1', 'lars_opt_momentum=inf']),
    ('bad mesh syntax', train.main,
     ['--workload', 'resnet', '--mesh', 'data:4'], ['data:4']),
    ('--data-dir ignored at mini', train.main,
     ['--workload', 'resnet', '--data-dir', W],
     ['--data-dir is not read at --scale mini']),
    ('--data-dir missing', train.main,
     ['--workload', 'resnet', '--scale', 'reference', '--data-dir',
      f'{W}/nope'], ['is not a directory']),
    ('reference without data', train.main,
     ['--workload', 'dlrm', '--scale', 'reference'],
     ['needs --data-dir', '--synthetic-data']),
    ('missing init checkpoint', train.main,
     ['--workload', 'bert', '--init-checkpoint', f'{W}/model.ckpt'],
     ['does not exist', '.index']),
    ('init checkpoint not used', train.main,
     ['--workload', 'resnet', '--init-checkpoint', f'{W}/afile'],
     ['does not start from a checkpoint']),
    ('--resume without a directory', train.main,
     ['--workload', 'resnet', '--resume'], ['need --checkpoint-dir']),
    ('checkpoint interval 0', train.main,
     ['--workload', 'resnet', '--checkpoint-dir', f'{W}/ck',
      '--checkpoint-every-steps', '0'], ['must be >= 1']),
    ('checkpoint dir is a file', train.main,
     ['--workload', 'resnet', '--checkpoint-dir', f'{W}/afile'],
     ['exists and is not a directory']),
    ('resume a finished run', train.main,
     ['--workload', 'resnet', '--checkpoint-dir', f'{W}/ckpt_marked',
      '--resume'], ['has finished', 'never resumed', 'another']),
    ('resume a finished run (older checkpoint)', train.main,
     ['--workload', 'resnet', '--checkpoint-dir', f'{W}/ckpt_done',
      '--resume'], ['has finished', 'has a run_stop']),
    ('ImageNet: empty directory', train.main,
     ['--workload', 'resnet', '--scale', 'reference', '--data-dir',
      f'{W}/inet_empty'], ['No prepared imagenet2012', 'tfds build']),
    ('ImageNet: garbage dataset_info.json', train.main,
     ['--workload', 'resnet', '--scale', 'reference', '--data-dir',
      f'{W}/inet_garbage'], ['dataset_info.json cannot be read',
                             'tfds build']),
    ('ImageNet: TFRecord without TensorFlow', train.main,
     ['--workload', 'resnet', '--scale', 'reference', '--data-dir',
      f'{W}/inet_tfrecord'], ['only TensorFlow can read', 'array_record']),
    ('ImageNet: garbage array_record shards', train.main,
     ['--workload', 'resnet', '--scale', 'reference', '--data-dir',
      f'{W}/inet_array'], ['not a readable array_record shard', 'rebuild']),
    ('Criteo: truncated and missing .bin', train.main,
     ['--workload', 'dlrm', '--scale', 'reference', '--data-dir',
      f'{W}/criteo'], ['1000 bytes', 'truncated',
                       'terabyte_processed_test.bin not found']),
    ('submit: system with a path', submit.main,
     ['--workload', 'resnet', '--system', '../../x', '--output-dir',
      f'{W}/pkg'], ["--system '../../x' must be a plain name"]),
    ('submit: no output dir', submit.main,
     ['--workload', 'resnet', '--system', 's'], ['--output-dir DIR is required']),
    ('submit: --seed', submit.main,
     ['--workload', 'resnet', '--system', 's', '--output-dir', f'{W}/pkg',
      '--seed', '3'], ['--seeds S0,S1']),
    ('submit: seeds out of range', submit.main,
     ['--workload', 'resnet', '--system', 's', '--output-dir', f'{W}/pkg',
      '--seeds', '1,2,3,4,-5'], ['[-5]', '0..2147483647']),
    ('submit: --dry-run', submit.main,
     ['--workload', 'resnet', '--system', 's', '--output-dir', f'{W}/pkg',
      '--dry-run'], ['--dry-run is a train option']),
    ('infer: no inference model', infer.main, ['--workload', 'minigo'],
     ["'minigo' has no inference model", 'infer serves:', 'resnet']),
    ('infer: missing checkpoint', infer.main,
     ['--workload', 'resnet', '--checkpoint', f'{W}/final_params'],
     ['does not exist', 'final_params']),
    ('infer: malformed user.conf', infer.main,
     ['--workload', 'resnet', '--user-conf', f'{W}/user.conf'],
     ['user.conf:1', "'key = value'"]),
    ('infer: output dir holds logs', infer.main,
     ['--workload', 'resnet', '--output-dir', f'{W}/inference_logs/old'],
     ['already holds LoadGen logs', 'never']),
    ('infer: --tensor-parallel without support', infer.main,
     ['--workload', 'resnet', '--tensor-parallel', '2'],
     ["'resnet' has no tensor-parallel serving", 'supported: bert']),
    ('infer: reference without checkpoint', infer.main,
     ['--workload', 'resnet', '--scale', 'reference'],
     ['needs --checkpoint', '--data-dir']),
    ('accuracy: missing log', accuracy.main,
     ['--workload', 'resnet', f'{W}/acc/none.json'], ['is not a file']),
    ('accuracy: malformed JSON', accuracy.main,
     ['--workload', 'resnet', f'{W}/acc/bad.json'], ['is not JSON']),
    ('accuracy: not a list', accuracy.main,
     ['--workload', 'resnet', f'{W}/acc/dict.json'], ['not the list']),
    ('accuracy: index out of range', accuracy.main,
     ['--workload', 'resnet', f'{W}/acc/range.json'],
     ['qsl_idx 100000 is out of range', '0..359']),
    ('accuracy: data not hex', accuracy.main,
     ['--workload', 'resnet', f'{W}/acc/hex.json'], ['is not hex']),
    ('accuracy: workload without inference', accuracy.main,
     ['--workload', 'minigo', f'{W}/acc/bad.json'], ['no inference model']),
    ('compliance: unknown ruleset', compliance.main,
     [f'{W}/runs/mini_resnet/run1/mllog.txt', '--ruleset', '9.9.9'],
     ['no training ruleset 9.9.9', '1.1.0']),
    ('compliance: missing log', compliance.main, [f'{W}/nolog.txt'],
     ['no such log file']),
    ('check: not a package', check.main, [W], ['holds no results/']),
    ('check: missing RCP file', check.main,
     [W, '--rcps', f'{W}/none.json'], ['is not a file']),
    ('make_rcps: too few runs', make_rcps.main,
     ['--workload', 'resnet', '--runs', '3'], ['at least 2N = 10']),
    ('launch_local: bad port', launch_local.main,
     ['--port', '70000', '--', '--workload', 'resnet'], ['1-65535']),
    ('launch_local: no train arguments', launch_local.main, [],
     ['give the train arguments after --']),
    ('bert_tfrecord info: bad checksum', bert_tfrecord.main,
     ['info', f'{W}/bert/crc.tfrecord', '--seq-length', str(FIXTURE_SEQ),
      '--max-predictions', str(FIXTURE_PRED)], ['data checksum mismatch']),
    ('bert_tfrecord convert: non-empty destination', bert_tfrecord.main,
     ['convert', str(FIXTURES / 'bert.tfrecord'), f'{W}/bert/dst',
      '--seq-length', str(FIXTURE_SEQ), '--max-predictions',
      str(FIXTURE_PRED)], ['is not an empty directory', 'nothing was written']),
]


def test_at_least_40_classes():
  assert len({c[0] for c in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize('name, main, argv, words', CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input(name, main, argv, words, ws, capsys):
  del name
  argv = [a.replace(W, ws) for a in argv]
  before = _snapshot(ws)
  code, text = _run(main, argv, capsys)
  assert code == 2, text
  for w in words:
    assert w in text, text
  assert 'Traceback' not in text
  assert _snapshot(ws) == before, 'the command changed the workspace'


def test_listing_hyperparameters(ws, capsys):
  before = _snapshot(ws)
  code, text = _run(train.main, ['--workload', 'resnet', '--list-hparams'],
                    capsys)
  assert code == 0
  assert re.search(r'lars_opt_base_learning_rate\s+2\.0\s+float', text)
  assert 'global_batch_size' in text and 'opt_name=NAME' in text
  assert _snapshot(ws) == before  # nothing written


def test_help_texts(capsys):
  code, text = _run(infer.main, ['--help'], capsys)
  assert code == 0 and 'inference model:' in text and 'resnet' in text
  code, text = _run(submit.main, ['--help'], capsys)
  assert code == 0
  assert 'the submission directory (required)' in text
  assert '--dry-run' not in text and '\n  --seed ' not in text


# ---- faults that are not bad input ------------------------------------------


def test_busy_checkpoint_dir_is_refused(tmp_path, capsys):
  import argparse  # pylint: disable=import-outside-toplevel
  d = tmp_path / 'ck'
  d.mkdir()
  with open(d / '.lock', 'a') as held:
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    p = argparse.ArgumentParser(prog='train')
    # pylint: disable-next=protected-access
    code, text = _run(lambda a: train._lock_checkpoint_dir(p, str(d)), [],
                      capsys)
  assert code == 2 and 'in use by another running train' in text
  # pylint: disable-next=protected-access
  lock = train._lock_checkpoint_dir(p, str(d))  # free again
  lock.close()


def test_ctrl_c_aborts_the_run_cleanly(tmp_path):
  out = tmp_path / 'runs'
  proc = subprocess.Popen(
      [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'resnet',
       '--seed', '2', '--max-epochs', '40', '--output-dir', str(out),
       '--quiet'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      # A terminal's Ctrl-C disposition: pytest-xdist workers ignore SIGINT,
      # and a child that inherits SIG_IGN never gets Python's handler.
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  deadline = time.time() + 300
  while proc.poll() is None and time.time() < deadline:
    logs = list(out.rglob('mllog.txt'))
    if logs and '"block_start"' in logs[0].read_text():
      proc.send_signal(signal.SIGINT)
      break
    time.sleep(0.1)
  stdout, stderr = proc.communicate(timeout=120)
  assert proc.returncode == 130, stdout + stderr
  assert 'Traceback' not in stderr and 'interrupted' in stderr
  lines = logs[0].read_text().splitlines()
  assert '"key": "run_stop"' in lines[-1] and '"aborted"' in lines[-1]
  assert sum('"key": "run_stop"' in l for l in lines) == 1


def _package(mini_run, tmp_path, *, epochs_plus=0):
  """A 5-run mini ResNet package made of copies of the session's mini run
  (other seeds), and an RCP JSON whose mean is the run's convergence point
  (+ `epochs_plus`)."""
  run = mini_run('resnet')
  assert run.proc.returncode == 0, run.output()
  text = run.log.read_text()
  root = tmp_path / 'pkg'
  tree = st.Tree(str(root), 'cpu', 'mini_resnet')
  for i in range(5):
    st.write_atomic(tree.result_path(i), re.sub(
        r'("key": "seed", "value": )\d+', rf'\g<1>{100 + i}', text))
  conv = [r for r in run.records() if r['key'] == 'eval_accuracy'][-1]
  e = float(conv['metadata']['epoch_num']) + epochs_plus
  rec = json.load(open(package_check.RCPS_MINI))['mini_resnet_ref_128']
  rec = dict(rec, **{'Epochs to converge': [e - 1] + [e] * 8 + [e + 1]})
  rcps = tmp_path / 'rcps.json'
  rcps.write_text(json.dumps({'mini_resnet_ref_128': rec}))
  return root, tree, str(rcps)


def _not_converged(path):
  text = open(path).read()
  last = [l for l in text.splitlines() if '"eval_accuracy"' in l][-1]
  low = re.sub(r'"value": [0-9.]+', '"value": 0.5', last)
  text = text.replace(last, low).replace('"status": "success"',
                                         '"status": "aborted"')
  st.write_atomic(path, text)


def test_check_accepts_one_unconverged_run_and_names_missing_files(
    mini_run, tmp_path, capsys):
  root, tree, rcps = _package(mini_run, tmp_path)
  _not_converged(tree.result_path(2))
  code, text = _run(check.main, [str(root), '--rcps', rcps], capsys)
  assert code == 0, text
  assert 'result_2.txt fails the mini ruleset: no eval_accuracy reached the ' \
         'quality target 0.97' in text
  assert 'accepted under olympic scoring' in text
  assert 'ERROR - FAILED' not in text
  assert re.search(r'RCP check: PASSED \(olympic mean of the runs [0-9.]+ '
                   'epochs to converge', text)
  # A second non-converged run is too many; a missing file is named.
  _not_converged(tree.result_path(3))
  os.remove(tree.result_path(4))
  code, text = _run(check.main, [str(root), '--rcps', rcps], capsys)
  assert code == 1
  assert '2 files fail their checks; olympic scoring accepts at most 1' in text
  assert 'lacks result_4.txt' in text
  assert 'runs did not converge; the RCP check accepts at most 1' in text


def test_check_explains_an_rcp_failure(mini_run, tmp_path, capsys):
  root, _, rcps = _package(mini_run, tmp_path, epochs_plus=6)
  code, text = _run(check.main, [str(root), '--rcps', rcps], capsys)
  assert code == 1
  assert 'is faster than the fastest acceptable mean' in text
  assert 'RCP found' not in text


def test_bert_dataset_checks(tmp_path):
  """`bert_tfrecord.check_dataset` (what BertWorkload.check_request calls):
  missing splits, the eval count, a bad checksum, a truncated file, a
  truncated converted array; a good directory has no problem."""
  kw = dict(seq_length=FIXTURE_SEQ, max_predictions=FIXTURE_PRED)
  src = FIXTURES / 'bert.tfrecord'

  def data_dir(name, eval_=True):
    d = tmp_path / name
    (d / 'train').mkdir(parents=True)
    shutil.copy(src, d / 'train' / 'part-0')
    if eval_:
      (d / 'eval').mkdir()
      shutil.copy(src, d / 'eval' / 'eval_10k')
    return d

  good = data_dir('good')
  assert bert_tfrecord.check_dataset(str(good), eval_samples=FIXTURE_COUNT,
                                     **kw) == []
  (p,) = bert_tfrecord.check_dataset(str(good), eval_samples=10000, **kw)
  assert 'holds 4 examples' in p and 'exactly 10000' in p
  (p,) = bert_tfrecord.check_dataset(str(data_dir('noeval', False)), **kw)
  assert p.startswith('BERT eval data') and 'no such directory' in p
  notrain = tmp_path / 'notrain'
  shutil.copytree(good / 'eval', notrain / 'eval')
  (p,) = bert_tfrecord.check_dataset(str(notrain), **kw)
  assert p.startswith('BERT train data') and 'no such directory' in p
  crc = data_dir('crc')
  raw = bytearray(src.read_bytes())
  raw[-10] ^= 0xFF
  (crc / 'eval' / 'eval_10k').write_bytes(bytes(raw))
  (p,) = bert_tfrecord.check_dataset(str(crc), **kw)
  assert 'checksum mismatch' in p
  trunc = data_dir('trunc')
  (trunc / 'train' / 'part-0').write_bytes(src.read_bytes()[:-7])
  (p,) = bert_tfrecord.check_dataset(str(trunc), **kw)
  assert 'truncated' in p
  conv = tmp_path / 'conv'
  (conv / 'train').parent.mkdir(exist_ok=True)
  bert_tfrecord.convert(str(src), str(conv / 'train'), **kw)
  shutil.copytree(good / 'eval', conv / 'eval')
  npy = conv / 'train' / 'shard-00000' / 'input_ids.npy'
  npy.write_bytes(npy.read_bytes()[:-20])
  (p,) = bert_tfrecord.check_dataset(str(conv), **kw)
  assert 'input_ids.npy' in p


def test_non_finite_hyperparameters_found():
  from mlperf_jax.cli import checks  # pylint: disable=import-outside-toplevel
  assert checks.non_finite_hparams(
      {'a': 1.0, 'b': float('nan'), 'c': [1.0, float('-inf')], 'd': 'x',
       'e': 3}) == ['b', 'c']
  assert np.isfinite(checks.SEED_MAX)


def test_launch_local_leaves_out_native_stack_traces():
  from mlperf_jax.runtime import launch  # pylint: disable=import-outside-toplevel
  lines = [
      'eval at epoch 1: top1 = 0.5\n',
      'F1202 00:01:02.000 coordination_service_agent.cc:1] Terminating '
      'process because the coordinator detected missing heartbeats\n',
      '*** Check failure stack trace: ***\n',
      '    @     0x7f3a2b1c4d5e  absl::log_internal::LogMessage::Die()\n',
      '    @     0x7f3a2b1c4d6f  xla::CoordinationServiceAgent::Run()\n',
      '\n',
      'error: a peer process died\n']
  out = list(launch.filter_native_traces(lines))
  assert out[:2] == lines[:2] and out[-1] == lines[-1]
  assert len(out) == 4 and 'native stack trace' in out[2]
  assert not any('0x7f3a' in l for l in out)


def test_stopping_submit_stops_its_train(tmp_path):
  """SIGTERM to submit alone (not its process group) reaches the child."""
  import threading  # pylint: disable=import-outside-toplevel
  from mlperf_jax.submission import package  # pylint: disable=import-outside-toplevel
  started = tmp_path / 'started'
  child = [sys.executable, '-c', 'import os, pathlib, time; '
           f'pathlib.Path({str(started)!r}).write_text(str(os.getpid())); '
           'time.sleep(120)']

  def kill_when_started():
    while not (started.exists() and started.read_text()):
      time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)

  threading.Thread(target=kill_when_started, daemon=True).start()
  with open(tmp_path / 'out.txt', 'w') as out:
    with pytest.raises(SystemExit) as e:
      package._call_forwarding_signals(child, out)  # pylint: disable=protected-access
  assert e.value.code == 128 + signal.SIGTERM
  with pytest.raises(ProcessLookupError):  # stopped and reaped
    os.kill(int(started.read_text()), 0)
