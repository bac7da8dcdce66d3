# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ResNet-50 v1.5 served from an ONNX file in the form of MLPerf Inference's
`resnet50_v1.onnx` (`support/onnx_resnet_writer`, written with the `onnx`
package; read here by our own protobuf reader, `formats/onnx_model`).

Numerics: a width-reduced ResNet-50 (all 16 units, inner widths 4..32)
against `onnx.reference.ReferenceEvaluator`, onnx's pure-Python runtime, as
the independent reference. Full scale: names and shapes of the real
network's graph (dims only, no data) through `jax.eval_shape`.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest
from support import onnx_resnet_writer as writer

from mlperf_jax.formats import onnx_model
from mlperf_jax.inference import run as inference_run
from mlperf_jax.models import resnet as resnet_model
from mlperf_jax.models import resnet_onnx_weights as onnx_weights
from mlperf_jax.workloads import resnet as resnet_workload

NARROW = 4  # num_filters of the width-reduced network
SIZE = 32   # its input images: 32 -> 16 (stem) -> 8 (pool) -> 8, 4, 2, 1


def _workload(num_filters=NARROW, size=SIZE, stage_sizes=(3, 4, 6, 3)):
  """The reference-scale ResNet workload with a narrower network."""
  variant = resnet_workload.VARIANTS['reference']
  narrow = dataclasses.replace(
      variant, model=lambda dtype: resnet_model.ResNetConfig(
          stage_sizes=stage_sizes, num_classes=1000, num_filters=num_filters),
      extra={**variant.extra, 'image_shape': (size, size, 3)})

  class Narrow(resnet_workload.ResNetWorkload):
    variants = {'reference': narrow}
  return Narrow('reference')


@pytest.fixture(scope='module')
def narrow_file(tmp_path_factory):
  model, values = writer.resnet_v15_model(num_filters=NARROW)
  path = tmp_path_factory.mktemp('onnx') / 'resnet50_v1.onnx'
  onnx.save(model, str(path))
  return path, values, model


def test_every_tensor_lands_in_its_place_and_logits_match_onnx(narrow_file):
  path, values, model = narrow_file
  wl = _workload()
  params, state = wl.load_serving_checkpoint(str(path))
  cfg = wl.serving_config()
  assert (cfg.num_classes, cfg.label_offset, cfg.strided_padding,
          cfg.bn_epsilon) == (1001, -1, 'symmetric', 1e-5)
  # Placement: TF creation order, projection shortcut first in a stage.
  conv = lambda k: values[f'resnet_model/conv2d{"_%d" % k if k else ""}/kernel']
  bn = lambda k, leaf: values[
      f'resnet_model/batch_normalization{"_%d" % k if k else ""}/{leaf}']
  np.testing.assert_array_equal(params['conv0']['kernel'],
                                conv(0).transpose(2, 3, 1, 0))
  k = 1
  for i, units in enumerate((3, 4, 6, 3)):
    for j in range(units):
      unit = f'stage{i + 1}_unit{j + 1}'
      names = (['conv1sc'] if j == 0 else []) + ['conv1', 'conv2', 'conv3']
      for name in names:
        np.testing.assert_array_equal(params[unit][name]['kernel'],
                                      conv(k).transpose(2, 3, 1, 0))
        bn_name = 'bnsc' if name == 'conv1sc' else 'bn' + name[-1]
        np.testing.assert_array_equal(params[unit][bn_name]['scale'],
                                      bn(k, 'gamma'))
        np.testing.assert_array_equal(params[unit][bn_name]['bias'],
                                      bn(k, 'beta'))
        np.testing.assert_array_equal(
            state['batch_stats'][unit][bn_name]['mean'], bn(k, 'moving_mean'))
        np.testing.assert_array_equal(
            state['batch_stats'][unit][bn_name]['var'],
            bn(k, 'moving_variance'))
        k += 1
  assert k == 53
  np.testing.assert_array_equal(params['fc1']['kernel'],
                                values['resnet_model/dense/kernel'])
  # Numerics against onnx's own runtime, NCHW in, on two random images.
  images = np.random.default_rng(1).normal(0, 1, (2, SIZE, SIZE, 3)).astype(
      np.float32)
  want_logits, want_argmax = writer.reference_evaluator(model).run(
      ['logits:0', 'ArgMax:0'],
      {'input_tensor:0': images.transpose(0, 3, 1, 2)})
  logits = jax.jit(lambda p, s, x: resnet_model.ResNet(cfg).apply(
      {'params': p, **s}, x, train=False))(params, state, images)
  np.testing.assert_allclose(logits, want_logits, rtol=2e-4,
                             atol=2e-4 * np.abs(want_logits).max())
  labels = jax.jit(wl.predict)(params, state, {'image': images})['label']
  np.testing.assert_array_equal(labels, want_argmax - 1)
  # The Keras 'same' padding of training would not serve these weights.
  same = dataclasses.replace(cfg, strided_padding='same')
  other = resnet_model.ResNet(same).apply({'params': params, **state},
                                          images, train=False)
  assert np.abs(np.asarray(other) - want_logits).max() > 1e-2 * np.abs(
      want_logits).max()


def test_folded_batch_norm_is_served_as_a_bias(tmp_path):
  model, values = writer.resnet_v15_model(stage_sizes=(1, 1), num_filters=2,
                                          fold_bn=True)
  path = tmp_path / 'folded.onnx'
  onnx.save(model, str(path))
  wl = _workload(num_filters=2, size=16, stage_sizes=(1, 1))
  params, state = wl.load_serving_checkpoint(str(path))
  np.testing.assert_array_equal(
      params['stage2_unit1']['bn2']['bias'],
      values['resnet_model/batch_normalization_7/folded_bias'])
  images = np.random.default_rng(2).normal(0, 1, (1, 16, 16, 3)).astype(
      np.float32)
  want = writer.reference_evaluator(model).run(
      ['logits:0'], {'input_tensor:0': images.transpose(0, 3, 1, 2)})[0]
  got = resnet_model.ResNet(wl.serving_config()).apply(
      {'params': params, **state}, images, train=False)
  np.testing.assert_allclose(got, want, rtol=2e-4,
                             atol=2e-4 * np.abs(want).max())
  # Opset 15's form (Pad amounts and Squeeze axes as inputs) reads the same.
  from onnx import version_converter  # pylint: disable=import-outside-toplevel
  onnx.save(version_converter.convert_version(model, 15),
            str(tmp_path / 'opset15.onnx'))
  again, _ = wl.load_serving_checkpoint(str(tmp_path / 'opset15.onnx'))
  jax.tree.map(np.testing.assert_array_equal, again, params)


def test_full_scale_names_and_shapes_through_eval_shape():
  model, _ = writer.resnet_v15_model(with_data=False)
  graph = onnx_model.parse(model.SerializeToString())
  net = onnx_weights.trace(graph)
  overrides = net.config_overrides()
  assert overrides == {'num_classes': 1001, 'label_offset': -1,
                       'strided_padding': 'symmetric', 'bn_epsilon': 1e-5}
  cfg = resnet_model.resnet50_config(**overrides)
  shapes = jax.eval_shape(lambda x: resnet_model.ResNet(cfg).init(
      jax.random.PRNGKey(0), x, train=False),
      jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32))
  # 25,557,032 at 1000 classes, plus the background class's 2048 + 1.
  assert resnet_model.param_count(shapes['params']) == 25_559_081
  table = onnx_weights.mapping(net, graph, shapes['params'],
                               shapes['batch_stats'])
  names = {k: onnx_weights.source_name(v) for k, v in table.items()}
  assert len(names) == len(set(names.values())) == 5 * 53 + 2
  assert set(names.values()) == set(graph.initializers)
  assert names['params', 'conv0', 'kernel'] == 'resnet_model/conv2d/kernel'
  assert names['params', 'stage1_unit1', 'conv1sc', 'kernel'] == (
      'resnet_model/conv2d_1/kernel')
  assert names['params', 'stage2_unit1', 'conv2', 'kernel'] == (
      'resnet_model/conv2d_13/kernel')
  assert names['batch_stats', 'stage4_unit3', 'bn3', 'var'] == (
      'resnet_model/batch_normalization_52/moving_variance')
  assert names['params', 'fc1', 'kernel'] == 'resnet_model/dense/kernel'


def test_mismatches_are_named(narrow_file, tmp_path):
  path, _, _ = narrow_file
  graph = onnx_model.read(str(path))
  net = onnx_weights.trace(graph)
  cfg = resnet_model.ResNetConfig(stage_sizes=(3, 4, 6, 3), num_filters=8,
                                  **net.config_overrides())
  shapes = jax.eval_shape(lambda x: resnet_model.ResNet(cfg).init(
      jax.random.PRNGKey(0), x, train=False),
      jax.ShapeDtypeStruct((1, SIZE, SIZE, 3), jnp.float32))
  with pytest.raises(onnx_weights.OnnxResNetError,
                     match=r'stage1_unit1/conv1/kernel: .* gives shape '
                     r'\(1, 1, 16, 4\), ours \(1, 1, 32, 8\)'):
    onnx_weights.mapping(net, graph, shapes['params'], shapes['batch_stats'])
  # A pool padded as PyTorch (1 on each side) is refused, not served wrong.
  model = onnx.load(str(path))
  for node in model.graph.node:
    for a in node.attribute:
      if node.op_type == 'MaxPool' and a.name == 'pads':
        a.ints[:] = [1, 1, 1, 1]
  bad = tmp_path / 'bad_pool.onnx'
  onnx.save(model, str(bad))
  with pytest.raises(inference_run.InferenceInputError,
                     match='max pool .* pads \\(1, 1, 1, 1\\)'):
    inference_run.trained_params(_workload(), str(bad))
  junk = tmp_path / 'junk.onnx'
  junk.write_bytes(b'\x07not a model')
  with pytest.raises(inference_run.InferenceInputError, match='not an ONNX'):
    inference_run.trained_params(_workload(), str(junk))
