# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ONNX files of a ResNet v1.5 as tf2onnx writes TF official models' one.

The form of MLPerf Inference's `resnet50_v1.onnx` (tf2onnx `--fold_const
--opset 8 --inputs-as-nchw input_tensor:0` of `resnet50_v1.pb`): an NCHW
input; `conv2d_fixed_padding` as an explicit `Pad` (3 before the stem, 1
before each strided 3x3) and an unpadded `Conv`; `BatchNormalization` nodes
(epsilon 1e-5); `MaxPool` 3x3/2 padded as TF 'SAME'; in each unit the
projection shortcut first, as the TF graph builds it; `ReduceMean` over H and
W, `Squeeze`, `MatMul` + `Add` to 1001 logits (class 0: background),
`Softmax` and `ArgMax`. Tensor names are the TF variables' (`resnet_model/
conv2d_7/kernel`, `resnet_model/batch_normalization_7/gamma`, ...), numbered
in creation order. Built with the `onnx` package (a test dependency).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 8  # as the official file


class _Builder:

  def __init__(self, rng, with_data: bool, fold_bn: bool):
    self.rng, self.with_data, self.fold_bn = rng, with_data, fold_bn
    self.nodes, self.inits, self.values = [], [], {}
    self.convs = self.bns = 0
    self.count = 0

  def tensor(self, name, value_or_shape, positive=False):
    if self.with_data:
      if isinstance(value_or_shape, np.ndarray):
        value = value_or_shape
      else:
        value = self.rng.normal(0, 0.3, value_or_shape).astype(np.float32)
        if positive:
          value = np.abs(value) + 0.5
      self.values[name] = value
      self.inits.append(onnx.numpy_helper.from_array(value, name))
    else:  # dims only: a graph to trace, never decoded
      t = TensorProto(name=name, data_type=TensorProto.FLOAT)
      t.dims.extend(value_or_shape)
      self.inits.append(t)
    return name

  def node(self, op, inputs, **attrs):
    self.count += 1
    out = f'{op.lower()}_{self.count}:0'
    self.nodes.append(helper.make_node(op, inputs, [out],
                                       name=f'{op}_{self.count}', **attrs))
    return out

  def conv_bn(self, x, c_in, c_out, k, stride, relu):
    pad = (k - 1) // 2 if stride > 1 else 0
    if stride > 1 and pad:
      x = self.node('Pad', [x], pads=[0, 0, pad, pad, 0, 0, pad, pad])
    suffix = f'_{self.convs}' if self.convs else ''
    self.convs += 1
    kernel = self.tensor(f'resnet_model/conv2d{suffix}/kernel',
                         (c_out, c_in, k, k))
    same = 0 if stride > 1 else (k - 1) // 2
    bsuffix = f'_{self.bns}' if self.bns else ''
    self.bns += 1
    bn = f'resnet_model/batch_normalization{bsuffix}'
    if self.fold_bn:
      bias = self.tensor(f'{bn}/folded_bias', (c_out,))
      y = self.node('Conv', [x, kernel, bias], kernel_shape=[k, k],
                    strides=[stride, stride], pads=[same] * 4)
    else:
      y = self.node('Conv', [x, kernel], kernel_shape=[k, k],
                    strides=[stride, stride], pads=[same] * 4)
      y = self.node('BatchNormalization', [
          y, self.tensor(f'{bn}/gamma', (c_out,)),
          self.tensor(f'{bn}/beta', (c_out,)),
          self.tensor(f'{bn}/moving_mean', (c_out,)),
          self.tensor(f'{bn}/moving_variance', (c_out,), positive=True)],
                    epsilon=1e-5)
    return self.node('Relu', [y]) if relu else y


def resnet_v15_model(stage_sizes=(3, 4, 6, 3), num_filters=64,
                     num_classes=1001, rng=None, with_data=True,
                     fold_bn=False) -> tuple[onnx.ModelProto, dict]:
  """The model and {tensor name: value} (empty without data)."""
  b = _Builder(rng if rng is not None else np.random.default_rng(0),
               with_data, fold_bn)
  x = 'input_tensor:0'
  x = b.conv_bn(x, 3, num_filters, 7, 2, relu=True)
  x = b.node('MaxPool', [x], kernel_shape=[3, 3], strides=[2, 2],
             pads=[0, 0, 1, 1])
  c_in = num_filters
  for i, units in enumerate(stage_sizes):
    filters = num_filters * 2**i
    for j in range(units):
      stride = 2 if i > 0 and j == 0 else 1
      shortcut = x
      if j == 0:
        shortcut = b.conv_bn(x, c_in, 4 * filters, 1, stride, relu=False)
      y = b.conv_bn(x, c_in, filters, 1, 1, relu=True)
      y = b.conv_bn(y, filters, filters, 3, stride, relu=True)
      y = b.conv_bn(y, filters, 4 * filters, 1, 1, relu=False)
      x = b.node('Relu', [b.node('Add', [y, shortcut])])
      c_in = 4 * filters
  x = b.node('ReduceMean', [x], axes=[2, 3], keepdims=1)
  x = b.node('Squeeze', [x], axes=[2, 3])
  kernel = b.tensor('resnet_model/dense/kernel', (c_in, num_classes))
  bias = b.tensor('resnet_model/dense/bias', (num_classes,))
  logits = b.node('Add', [b.node('MatMul', [x, kernel]), bias])
  b.nodes.append(helper.make_node('Identity', [logits], ['logits:0']))
  b.nodes.append(helper.make_node('Softmax', ['logits:0'],
                                  ['softmax_tensor:0']))
  b.nodes.append(helper.make_node('ArgMax', ['logits:0'], ['ArgMax:0'],
                                  axis=1, keepdims=0))
  graph = helper.make_graph(
      b.nodes, 'resnet50_v1',
      [helper.make_tensor_value_info('input_tensor:0', TensorProto.FLOAT,
                                     ['N', 3, 'H', 'W'])],
      [helper.make_tensor_value_info('logits:0', TensorProto.FLOAT,
                                     ['N', num_classes]),
       helper.make_tensor_value_info('ArgMax:0', TensorProto.INT64, ['N']),
       helper.make_tensor_value_info('softmax_tensor:0', TensorProto.FLOAT,
                                     ['N', num_classes])],
      b.inits)
  model = helper.make_model(graph, opset_imports=[
      helper.make_opsetid('', OPSET)])
  model.ir_version = 4
  return model, b.values


def reference_evaluator(model: onnx.ModelProto):
  """onnx's pure-Python runtime over `model` converted to opset 15.

  Its BatchNormalization of opsets 6 and 9 computes batch statistics (9
  takes the schema's default momentum for training mode); from 14 an
  inference-mode node uses the given mean and variance, as the ONNX
  standard's opset-8 node. The converter rewrites `Pad` and `Squeeze`
  (amounts and axes become inputs from 11 and 13)."""
  from onnx import version_converter  # pylint: disable=import-outside-toplevel
  from onnx.reference import ReferenceEvaluator  # pylint: disable=import-outside-toplevel
  return ReferenceEvaluator(version_converter.convert_version(model, 15))
