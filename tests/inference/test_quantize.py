# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""int8 post-training quantization: each layer against a NumPy transcription
of the integer arithmetic, the compiled program's integer types, the fixed
calibration lists, and the mini ResNet's accuracy contract (int8 >= 99 % of
FP32 on the same trained parameters)."""

import hashlib
import json
import re
import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.inference import calibration, precision, quantize


class _Tiny(nn.Module):
  """Conv (strided, SAME, with bias) -> ReLU -> mean -> Dense."""

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(6, (3, 3), strides=2, padding='SAME', name='conv')(x)
    x = nn.relu(x)
    return nn.Dense(4, name='fc')(jnp.mean(x, axis=(1, 2)))


def _predict(params, model_state, batch):
  del model_state
  return {'logits': _Tiny().apply({'params': params}, batch['image'])}


def _np_conv_same_stride2(x, w):
  """NHWC x HWIO, stride 2, TF 'SAME' padding, in int64 (no JAX)."""
  n, h, wd, _ = x.shape
  kh, kw, _, o = w.shape
  oh, ow = -(-h // 2), -(-wd // 2)
  ph = max((oh - 1) * 2 + kh - h, 0)
  pw = max((ow - 1) * 2 + kw - wd, 0)
  xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2),
                  (0, 0)))
  out = np.zeros((n, oh, ow, o), np.int64)
  for i in range(oh):
    for j in range(ow):
      patch = xp[:, 2 * i:2 * i + kh, 2 * j:2 * j + kw, :].astype(np.int64)
      out[:, i, j, :] = np.einsum('nhwc,hwco->no', patch, w.astype(np.int64))
  return out


def _np_quant(x, s):
  return np.clip(np.round(x / s), -127, 127).astype(np.int64)


@pytest.fixture(scope='module')
def tiny():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(5, 7, 7, 3)).astype(np.float32)
  params = jax.device_get(nn.unbox(
      _Tiny().init(jax.random.PRNGKey(0), x)['params']))
  params['conv']['bias'] = rng.normal(size=6).astype(np.float32) * 0.1
  cal = [{'image': rng.normal(size=(8, 7, 7, 3)).astype(np.float32)}
         for _ in range(2)]
  return params, x, cal


def test_calibrated_ranges_are_layer_input_maxima(tiny):
  params, _, cal = tiny
  ranges = quantize.layer_input_ranges(_predict, params, None, cal)
  assert sorted(ranges) == ['conv', 'fc']
  images = np.concatenate([c['image'] for c in cal])
  assert ranges['conv'] == pytest.approx(np.abs(images).max(), rel=1e-6)
  hidden = np.maximum(np.asarray(nn.Conv(6, (3, 3), strides=2,
                                         padding='SAME').apply(
      {'params': params['conv']}, images)), 0).mean(axis=(1, 2))
  assert ranges['fc'] == pytest.approx(np.abs(hidden).max(), rel=1e-5)


def test_int8_model_equals_numpy_integer_arithmetic(tiny):
  params, x, cal = tiny
  model = quantize.quantize(_predict, params, None, cal)
  got = np.asarray(quantize.int8_predict(_predict)(
      model.bundle(), None, {'image': x})['logits'])
  # Transcription: per-channel int8 weights, per-tensor int8 inputs with
  # scale = calibrated max / 127, exact integer products, then rescale.
  ranges = quantize.layer_input_ranges(_predict, params, None, cal)
  sx = {k: np.float32(v / 127) for k, v in ranges.items()}

  def wq(w):
    s = np.abs(w.reshape(-1, w.shape[-1])).max(0) / 127
    return np.clip(np.round(w / s), -127, 127).astype(np.int64), s

  w1, s1 = wq(params['conv']['kernel'])
  h = (_np_conv_same_stride2(_np_quant(x, sx['conv']), w1) *
       (sx['conv'] * s1) + params['conv']['bias'])
  h = np.maximum(h, 0).mean(axis=(1, 2))
  w2, s2 = wq(params['fc']['kernel'])
  want = (_np_quant(h, sx['fc']) @ w2) * (sx['fc'] * s2) + params['fc']['bias']
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
  # ... and int8 is close to, but not the same as, float.
  fp = np.asarray(_predict(params, None, {'image': x})['logits'])
  assert 0 < np.abs(got - fp).max() < 0.05 * np.abs(fp).max()
  # Stored weights are int8 with each channel's largest magnitude at 127.
  k = model.params['conv']['kernel']
  assert k.dtype == np.int8
  assert (np.abs(k.reshape(-1, 6)).max(0) == 127).all()


def test_compiled_products_are_int8_with_int32_accumulation(tiny):
  params, x, cal = tiny
  model = quantize.quantize(_predict, params, None, cal)
  text = jax.jit(quantize.int8_predict(_predict)).lower(
      model.bundle(), None, {'image': x}).as_text()
  conv = [l for l in text.splitlines() if 'stablehlo.convolution' in l]
  dot = [l for l in text.splitlines() if 'stablehlo.dot_general' in l]
  assert conv and dot
  for line in conv + dot:
    sig = line.split(':')[-1]
    assert re.search(r'\(tensor<[0-9x]+xi8>, tensor<[0-9x]+xi8>\) -> '
                     r'tensor<[0-9x]+xi32>', sig), line


def test_imagenet_calibration_list_is_mlperfs():
  names = calibration.read_list(calibration.IMAGENET_CAL_LIST)
  assert len(names) == 500
  assert all(re.fullmatch(r'ILSVRC2012_val_000\d{5}\.JPEG', n) for n in names)
  with open(calibration.IMAGENET_CAL_LIST, 'rb') as f:
    # sha256 of mlcommons/inference cal_image_list_option_1.txt.
    assert hashlib.sha256(f.read()).hexdigest() == (
        '7662247d1d9407d6cb564268f64c5a4a6cf9f1a34fd2e6cdc3b94dcf278b3dc9')
  # Found by file name in a data set whose records are in another order.
  file_names = [f'ILSVRC2012_val_{i:08d}.JPEG' for i in range(50_000, 0, -1)]
  idx = calibration.resolve_file_names(names[:3], file_names)
  assert [file_names[i] for i in idx] == names[:3]
  with pytest.raises(ValueError, match='not in the data set'):
    calibration.resolve_file_names(names, file_names[:100])


def test_mini_calibration_set_is_fixed_training_digits():
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import digits  # pylint: disable=import-outside-toplevel
  cal = workloads.get('resnet', 'mini').calibration_set()
  train = digits.load_digits_split()['train_image']
  assert len(cal) == 100 and len(set(cal.ids)) == 100
  assert list(cal.ids) == calibration.seeded_subset(len(train), 100, 0)
  np.testing.assert_array_equal(cal.load(3)['image'], train[cal.ids[3]])


def test_mini_resnet_int8_keeps_99_percent_of_fp32(mini_run, tmp_path):
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import checkpoint  # pylint: disable=import-outside-toplevel
  run = mini_run('resnet')
  assert run.log is not None, run.output()
  wl = workloads.get('resnet', 'mini')
  params, state = checkpoint.load_final_params(
      str(run.log.parent / 'final_params'), wl)
  spec = wl.inference()
  fp32 = precision.direct_accuracy(spec, params, state)
  int8 = precision.prepare(wl, spec, params, state, 'int8')
  got = precision.direct_accuracy(int8.spec, int8.params, int8.model_state)
  assert got['samples'] == 360
  assert precision.ratio(got, fp32, 'top1') >= 0.99, (got, fp32)
  assert '100 samples' in int8.note and 'default_rng(0)' in int8.note
  # Reproducible: the same parameters and list give the same int8 model.
  again = precision.prepare(wl, spec, params, state, 'int8')
  for a, b in zip(jax.tree.leaves(int8.params), jax.tree.leaves(again.params)):
    np.testing.assert_array_equal(a, b)
  # bf16: the same parameters, bfloat16 products, also within 99 %.
  bf16 = precision.prepare(wl, spec, params, state, 'bf16')
  assert 'bf16' in jax.jit(bf16.spec.predict).lower(
      params, state, {'image': np.zeros((2, 8, 8, 1), np.float32)}).as_text()
  got_bf16 = precision.direct_accuracy(bf16.spec, params, state)
  assert precision.ratio(got_bf16, fp32, 'top1') >= 0.99, (got_bf16, fp32)
  # Served through the official LoadGen (`infer --precision int8`), the
  # accuracy log holds exactly the directly computed int8 predictions.
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'resnet',
       '--scenario', 'Offline', '--mode', 'accuracy', '--loadgen', 'official',
       '--precision', 'int8', '--checkpoint',
       str(run.log.parent / 'final_params'), '--output-dir', str(tmp_path)],
      capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  labels = digits_labels()
  first = {}
  for e in json.loads((tmp_path / 'mlperf_log_accuracy.json').read_text()):
    first.setdefault(e['qsl_idx'], e['data'])
  served = np.mean([int(np.frombuffer(bytes.fromhex(first[i]), '<i4')[0])
                    == labels[i] for i in range(360)])
  assert served == pytest.approx(got['top1'], abs=1e-9)
  assert f'top1 = {got["top1"]:.6f}' in proc.stdout
  assert f'ratio to fp32: {got["top1"] / fp32["top1"]:.4f}' in proc.stdout


def digits_labels():
  from mlperf_jax.input_pipelines import digits  # pylint: disable=import-outside-toplevel
  return digits.load_digits_split()['eval_label']


def test_int8_without_calibration_set_is_bad_input_before_compute(tmp_path):
  # DLRM has no calibration set: exit 2 before any training or compiling,
  # nothing written.
  out = tmp_path / 'logs'
  proc = subprocess.run(
      [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'dlrm',
       '--precision', 'int8', '--output-dir', str(out)],
      capture_output=True, text=True, timeout=120, check=False)
  assert proc.returncode == 2, proc.stdout + proc.stderr
  assert "workload 'dlrm' has no calibration set" in proc.stderr
  assert 'training the mini model' not in proc.stdout
  assert not out.exists()
