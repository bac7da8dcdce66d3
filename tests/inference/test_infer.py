# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.infer` at the mini scale, through the official
LoadGen (the judge) and, where present, the project's Python LoadGen."""

import json
import subprocess
import sys

import numpy as np
import pytest

from mlperf_jax.input_pipelines import digits


def _infer(out, *args):
  return subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'resnet',
       '--output-dir', str(out), *args],
      capture_output=True, text=True, timeout=300, check=False)


def _top1(stdout):
  """The top-1 the accuracy script printed ('top1 = 0.972222 (...)')."""
  line = [l for l in stdout.splitlines() if 'top1 = ' in l][0]
  return float(line.split('top1 = ')[1].split()[0])


def _independent_top1(log_path):
  """Top-1 of an accuracy log from the raw JSON and the digits labels,
  without the project's accuracy code: one little-endian int32 class per
  response, the first response of each sample."""
  labels = digits.load_digits_split()['eval_label']
  first = {}
  for e in json.loads(log_path.read_text()):
    first.setdefault(e['qsl_idx'], e['data'])
  pred = {i: int(np.frombuffer(bytes.fromhex(d), '<i4')[0])
          for i, d in first.items()}
  return np.mean([pred[i] == labels[i] for i in sorted(pred)])


@pytest.mark.parametrize('loadgen', ['official', 'python'])
def test_offline_accuracy_mode_scores_the_whole_set(tmp_path, loadgen):
  proc = _infer(tmp_path, '--scenario', 'Offline', '--mode', 'accuracy',
                '--loadgen', loadgen)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  # The model trained on the fly reports its eval top-1; serving the same
  # 360 held-out digits through LoadGen must give exactly that number.
  trained = float(proc.stdout.split('quality ')[1].split()[0])
  entries = json.loads((tmp_path / 'mlperf_log_accuracy.json').read_text())
  assert sorted(e['qsl_idx'] for e in entries) == list(range(360))
  assert all(len(e['data']) == 8 for e in entries)  # one int32 each
  served = _top1(proc.stdout)
  # Printed to 4 decimals; one sample differs by 1/360 = 0.0028.
  assert served == pytest.approx(trained, abs=1e-4)
  assert 'samples = 360' in proc.stdout
  assert (tmp_path / 'mlperf_log_summary.txt').exists()
  assert (tmp_path / 'mlperf_log_detail.txt').exists()
  # The standalone accuracy script dispatches to the workload and agrees
  # with an independent reading of the log.
  log = tmp_path / 'mlperf_log_accuracy.json'
  acc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.accuracy', '--workload', 'resnet',
       '--scale', 'mini', str(log)],
      capture_output=True, text=True, timeout=120, check=False)
  assert acc.returncode == 0, acc.stdout + acc.stderr
  assert _top1(acc.stdout) == pytest.approx(_independent_top1(log), abs=1e-6)
  assert _top1(acc.stdout) == pytest.approx(served, abs=1e-6)


@pytest.mark.parametrize('scenario, loadgen', [
    ('Server', 'official'), ('Offline', 'python'),
    # Its latency bound is the same code path as Server's: an extra.
    pytest.param('SingleStream', 'official', marks=pytest.mark.slow)])
def test_performance_mode_is_valid(tmp_path, scenario, loadgen):
  proc = _infer(tmp_path, '--scenario', scenario, '--loadgen', loadgen)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  summary = (tmp_path / 'mlperf_log_summary.txt').read_text()
  assert f'Scenario : {scenario}' in summary
  assert 'Result is : VALID' in summary


def test_bad_input_exits_2(tmp_path):
  proc = _infer(tmp_path, '--scenario', 'Offline', '--checkpoint',
                str(tmp_path / 'nope'))
  assert proc.returncode == 2 and 'does not exist' in proc.stderr
  proc = _infer(tmp_path, '--scale', 'reference')
  assert proc.returncode == 2 and '--checkpoint' in proc.stderr
  assert '--data-dir' in proc.stderr
  # The accuracy script needs the workload and a readable log.
  acc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.accuracy', str(tmp_path / 'x')],
      capture_output=True, text=True, timeout=120, check=False)
  assert acc.returncode == 2 and '--workload' in acc.stderr
  acc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.accuracy', '--workload', 'resnet',
       str(tmp_path / 'missing.json')],
      capture_output=True, text=True, timeout=120, check=False)
  assert acc.returncode == 2 and 'cannot read' in acc.stderr
  # A workload without an inference model is bad input, found before any
  # training.
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'minigo',
       '--output-dir', str(tmp_path)],
      capture_output=True, text=True, timeout=120, check=False)
  assert proc.returncode == 2 and 'no inference model' in proc.stderr
  assert 'training' not in proc.stdout


def test_serves_the_final_parameters_saved_by_train(tmp_path):
  runs = tmp_path / 'runs'
  train = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.train', '--workload', 'resnet',
       '--seed', '4', '--quiet', '--output-dir', str(runs)],
      capture_output=True, text=True, timeout=300, check=False)
  assert train.returncode == 0, train.stdout + train.stderr
  (params,) = list(runs.rglob('final_params'))
  metrics = json.loads((params.parent / 'metrics.json').read_text())
  proc = _infer(tmp_path / 'inf', '--checkpoint', str(params), '--mode',
                'accuracy')
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert 'training the mini model' not in proc.stdout
  served = _top1(proc.stdout)
  # Serving the saved parameters reproduces the run's final eval exactly.
  assert served == pytest.approx(metrics['quality'], abs=1e-5)


class _FakeValidation:
  """A stand-in for the ImageNet validation source: records made on access
  (label i % 1000), with a count of reads."""

  def __init__(self, n):
    self.n, self.reads = n, 0

  def __len__(self):
    return self.n

  def __getitem__(self, i):
    self.reads += 1
    rng = np.random.default_rng(int(i))
    return {'image': rng.integers(0, 256, (300, 400, 3), np.uint8),
            'label': int(i) % 1000, 'file_name': f'{i}.JPEG'}


def test_reference_spec_reads_imagenet_validation_lazily(monkeypatch):
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import imagenet  # pylint: disable=import-outside-toplevel
  source = _FakeValidation(3000)
  opened = []

  def open_split(data_dir, split):
    opened.append((data_dir, split))
    return source
  monkeypatch.setattr(imagenet, 'open_split', open_split)
  wl = workloads.get('resnet', 'reference', data_dir='/data/imagenet')
  spec = wl.inference()
  assert opened == [('/data/imagenet', 'validation')]
  assert (spec.count, spec.performance_count) == (3000, 1024)
  assert source.reads == 0  # nothing decoded up front
  assert spec.buckets('Offline') == (1, 8, 32, 128)
  assert spec.buckets('Server') == (1, 2, 4, 8, 16, 32, 64)
  sample = spec.load_sample(7)
  np.testing.assert_array_equal(
      sample['image'], imagenet.eval_example(source[7], 224))
  assert sample['image'].shape == (224, 224, 3)
  # Responses: one little-endian int32 class each; an empty one (a failed
  # sample) is wrong. Labels are read only for the logged samples.
  outputs = {'label': np.array([5, 6, 9], np.int32)}
  assert spec.encode(outputs, 1) == np.int32(6).astype('<i4').tobytes()
  source.reads = 0
  acc = spec.accuracy({5: spec.encode(outputs, 0), 6: spec.encode(outputs, 1),
                       2000: spec.encode(outputs, 2), 11: b''})
  assert acc == {'top1': 0.5, 'samples': 4.0}
  assert source.reads == 4
