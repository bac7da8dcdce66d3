# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`formats/onnx_model`: ONNX files written by the `onnx` package, read with
our protobuf reader (tensors in raw_data and in the typed fields, attributes,
Constant nodes, external data refused)."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlperf_jax.formats import onnx_model


def test_tensors_attributes_and_constants_read_as_onnx_wrote_them():
  rng = np.random.default_rng(0)
  raw = rng.normal(size=(2, 3, 4)).astype(np.float32)
  typed = helper.make_tensor('typed', TensorProto.FLOAT, [2, 2],
                             [1.5, -2.0, 3.25, 0.0])            # float_data
  ints = helper.make_tensor('ints', TensorProto.INT64, [3], [-7, 0, 2**40])
  half = numpy_helper.from_array(np.array([1.5, -0.25], np.float16), 'half')
  const = helper.make_node('Constant', [], ['c'], value=numpy_helper.from_array(
      np.arange(6, dtype=np.int32).reshape(2, 3), 'cv'))
  node = helper.make_node('Conv', ['x', 'raw'], ['y'], name='conv',
                          kernel_shape=[3, 3], pads=[0, -1, 1, 2],
                          epsilon=1e-3, auto_pad='SAME_UPPER')
  graph = helper.make_graph(
      [const, node], 'g',
      [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 8, 8])],
      [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)],
      [numpy_helper.from_array(raw, 'raw'), typed, ints, half])
  model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
  g = onnx_model.parse(model.SerializeToString())
  assert g.opset == 13 and g.inputs == ['x'] and g.outputs == ['y']
  np.testing.assert_array_equal(g.initializers['raw'].array(), raw)
  np.testing.assert_array_equal(g.initializers['typed'].array(),
                                [[1.5, -2.0], [3.25, 0.0]])
  np.testing.assert_array_equal(g.initializers['ints'].array(),
                                [-7, 0, 2**40])
  np.testing.assert_array_equal(g.initializers['half'].array(), [1.5, -0.25])
  np.testing.assert_array_equal(g.initializers['c'].array(),
                                np.arange(6).reshape(2, 3))
  (conv,) = [n for n in g.nodes if n.op_type == 'Conv']
  assert conv.inputs == ('x', 'raw') and conv.name == 'conv'
  assert conv.attr('kernel_shape') == (3, 3)
  assert conv.attr('pads') == (0, -1, 1, 2)
  assert conv.attr('epsilon') == pytest.approx(1e-3)
  assert conv.attr('auto_pad') == b'SAME_UPPER'
  assert g.consumers()['raw'] == [conv] and g.producer()['y'] is conv


def test_bad_files_are_named(tmp_path):
  with pytest.raises(onnx_model.OnnxError, match='not an ONNX model'):
    onnx_model.parse(b'\x0a\x05ab')  # field 1 runs past the end
  t = numpy_helper.from_array(np.zeros(4, np.float32), 'w')
  t.ClearField('raw_data')
  t.data_location = TensorProto.EXTERNAL
  graph = helper.make_graph([], 'g', [], [], [t])
  path = tmp_path / 'ext.onnx'
  onnx.save(helper.make_model(graph), str(path))
  with pytest.raises(onnx_model.OnnxError, match='external file'):
    onnx_model.read(str(path))
