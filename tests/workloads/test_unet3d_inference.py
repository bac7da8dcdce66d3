# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""3D U-Net inference: volumes of different shapes through the sliding
window (one executable per window batch), the SUT under the Python LoadGen
against the training eval of the same parameters, the accuracy script's
mean DICE against a NumPy DICE, and (with the cached mini run) `infer` +
`accuracy` against the run's own last evaluation."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from support.devices import one_device_env
from support.unet3d_eval import training_eval

from mlperf_jax import accuracy
from mlperf_jax import workloads
from mlperf_jax.inference import serving
from mlperf_jax.loadgen import official
from mlperf_jax.models import sliding_window as sw
from mlperf_jax.input_pipelines import kits19

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Uneven volumes: one trimmed, one padded, one below a window on an axis.
SHAPES = [(40, 36, 44), (12, 30, 26), (36, 36, 36)]


class _Linear:
  """A host 'model': each window's 3 logits are fixed linear maps of its
  voxels (so every voxel's result depends on the window's origin through
  the importance weighting only), and it counts its calls."""

  def __init__(self):
    self.calls = []

  def __call__(self, w):
    self.calls.append(w.shape)
    x = w[..., 0]
    return np.stack([-x, 0.5 * x + 0.1, x - 0.3], -1).astype(np.float32)


def test_volumes_of_any_shape_batched_together_equal_one_by_one():
  rng = np.random.default_rng(0)
  images = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
  model = _Linear()
  together = sw.volumes_logits(model, images, 16, 0.5, 3, batch=5)
  assert {c for c in model.calls} == {(5, 16, 16, 16, 1)}
  for img, (logits, plan) in zip(images, together):
    alone, plan1 = sw.sliding_window_logits(_Linear(), img[..., None], 16,
                                            0.5, 3, batch=3)
    assert plan.trim == plan1.trim and logits.shape == alone.shape
    np.testing.assert_allclose(logits, alone, rtol=1e-6, atol=1e-6)
  # Every window of every volume ran once (plus the last batch's padding).
  n = sum(len(p.origins) for _, p in together)
  assert len(model.calls) == -(-n // 5)


def _mini_with_eval_cases(images, labels):
  wl = workloads.get('unet3d', 'mini')
  wl.__dict__['_cases'] = {'eval': kits19.ArrayCases(images, labels)}
  return wl


def _uneven_cases():
  from mlperf_jax.input_pipelines import synthetic_kidneys  # pylint: disable=import-outside-toplevel
  images, labels = [], []
  for k, s in enumerate(SHAPES):
    x, y = synthetic_kidneys.make_case(max(s), 100 + k)
    images.append(x[:s[0], :s[1], :s[2]].copy())
    labels.append(y[:s[0], :s[1], :s[2]].copy())
  return images, labels


@pytest.mark.parametrize('scenario', ['SingleStream', 'Offline'])
def test_sut_mean_dice_equals_the_training_eval(tmp_path, scenario):
  """Uneven volumes served under the Python LoadGen (accuracy mode) and
  scored by the accuracy script's path give the training eval's mean DICE
  (eval batches + accumulator) of the same parameters; the SUT compiled one
  executable, for the eval's window batch."""
  images, labels = _uneven_cases()
  wl = _mini_with_eval_cases(images, labels)
  hp = wl.resolve_hparams()
  import flax  # pylint: disable=import-outside-toplevel
  params, _ = wl.init(jax.random.PRNGKey(3), hp)
  params = flax.linen.meta.unbox(params)
  want = training_eval(wl, hp, params)
  # Serving.
  spec = wl.inference()
  lg = official.get('python')
  qsl = serving.SampleQSL.for_spec(lg, spec)
  # Weights as arguments: the executable is the same for both scenarios
  # (one compilation, then the persistent cache).
  sut = serving.BatchingSUT(lg, spec, qsl, scenario=scenario, params=params,
                            model_state={}, weights_as_constants=False)
  assert list(sut._compiled) == [wl.eval_batch_size(hp)]  # pylint: disable=protected-access
  sut.warmup()
  s = lg.TestSettings()
  s.scenario = getattr(lg.TestScenario, scenario)
  s.mode = lg.TestMode.AccuracyOnly
  ls = lg.LogSettings()
  ls.log_output.outdir = str(tmp_path)
  try:
    lg.StartTestWithLogSettings(sut.handle, qsl.handle, s, ls)
  finally:
    sut.destroy()
    qsl.destroy()
  assert sut.error is None
  got = accuracy.score(spec, str(tmp_path / 'mlperf_log_accuracy.json'))
  assert got['samples'] == len(SHAPES)
  assert got['mean_dice'] == pytest.approx(want['mean_dice'], abs=1e-9)
  assert got['tumour_dice'] == pytest.approx(want['tumour_dice'], abs=1e-9)
  # Offline hands the SUT several volumes per call; SingleStream one.
  assert max(sut.stats.batch_sizes) == (1 if scenario == 'SingleStream'
                                        else len(SHAPES))


def test_accuracy_rejects_a_response_of_the_wrong_size():
  wl = workloads.get('unet3d', 'mini')
  spec = wl.inference()
  with pytest.raises(ValueError, match='is not a .* uint8 volume'):
    spec.accuracy({0: b'\x00' * 10})


def _run(*args):
  return subprocess.run([sys.executable, '-m', *args], capture_output=True,
                        text=True, cwd=REPO, env=one_device_env(),
                        check=False, timeout=1800)


# The cached mini run is itself slow for this workload (see
# test_unet3d_workload.py): this rides on it under -m slow.
@pytest.mark.slow
def test_infer_and_accuracy_script_report_the_training_eval(mini_run,
                                                            tmp_path):
  """`infer --scenario Offline --mode accuracy` on the mini run's final
  parameters, then the accuracy script, print the run's last mean DICE."""
  run = mini_run('unet3d')
  assert run.proc.returncode == 0, run.output()
  accs = [r['value'] for r in run.records() if r['key'] == 'eval_accuracy']
  ckpt = os.path.join(os.path.dirname(run.log), 'final_params')
  out = tmp_path / 'infer'
  r = _run('mlperf_jax.infer', '--workload', 'unet3d', '--scenario',
           'Offline', '--mode', 'accuracy', '--checkpoint', ckpt,
           '--output-dir', str(out))
  assert r.returncode == 0, r.stdout + r.stderr
  log = out / 'mlperf_log_accuracy.json'
  assert len(json.load(open(log))) == workloads.get(
      'unet3d', 'mini').variant.eval_samples
  r = _run('mlperf_jax.accuracy', '--workload', 'unet3d', str(log))
  assert r.returncode == 0, r.stderr
  assert r.stdout.startswith('mean_dice = ')
  assert float(r.stdout.split()[2]) == pytest.approx(accs[-1], abs=2e-6)
