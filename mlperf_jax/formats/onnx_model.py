# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""A reader of ONNX model files (`ModelProto`), without the `onnx` package.

An `.onnx` file is one protocol-buffer `ModelProto` (onnx/onnx.proto3).
What an importer needs of it is read here with `protowire`:

* `ModelProto`: `graph` (7), `opset_import` (8: `domain` 1, `version` 2);
* `GraphProto`: `node` (1), `initializer` (5), `input` (11), `output` (12)
  (`ValueInfoProto`: only its `name`, 1);
* `NodeProto`: `input` (1) and `output` (2) names, `name` (3), `op_type`
  (4), `attribute` (5), `domain` (7);
* `AttributeProto`: `name` (1), `f` (2), `i` (3), `s` (4), `t` (5),
  `floats` (7), `ints` (8), `type` (20);
* `TensorProto`: `dims` (1), `data_type` (2), `float_data` (4),
  `int32_data` (5), `int64_data` (7), `name` (8), `raw_data` (9),
  `double_data` (10), `data_location` (14; 1 = external, refused).

Tensors are decoded lazily (`Tensor.array()`), so a graph can be walked and
its shapes checked before 100 MB of weights are copied. `Constant` nodes'
`value` tensors count as initializers (converters emit both).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from mlperf_jax.formats import protowire

# TensorProto.DataType -> NumPy dtype (the ones weights come in).
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16,
           6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16,
           11: np.float64}


class OnnxError(ValueError):
  """A file that is not a readable ONNX model."""


def _floats(wire_type: int, value) -> list[float]:
  """A repeated float field: packed (LEN) or one fixed32 value."""
  if wire_type == protowire.LEN:
    return np.frombuffer(value, '<f4').tolist()
  return [float(np.array([value], np.uint32).view(np.float32)[0])]


def _ints(wire_type: int, value) -> list[int]:
  """A repeated int64 field: packed (LEN) or one varint."""
  if wire_type == protowire.LEN:
    return protowire.decode_packed_varints(value).tolist()
  return [protowire.to_int64(value)]


@dataclasses.dataclass
class Tensor:
  """One `TensorProto`, its data decoded on `array()`."""
  name: str
  dims: tuple[int, ...]
  data_type: int
  _fields: dict[int, list] = dataclasses.field(repr=False)

  @property
  def shape(self) -> tuple[int, ...]:
    return self.dims

  def array(self) -> np.ndarray:
    """The tensor as a NumPy array of its dims (a copy of the file's bytes).

    Raises:
      OnnxError: external data, an unsupported data type, or a size that
        does not match the dims.
    """
    if self.data_type not in _DTYPES:
      raise OnnxError(f'tensor {self.name!r}: unsupported data_type '
                      f'{self.data_type}')
    dtype = np.dtype(_DTYPES[self.data_type])
    count = int(np.prod(self.dims, dtype=np.int64))
    f = self._fields
    if 9 in f:
      flat = np.frombuffer(bytes(f[9][0][1]), dtype.newbyteorder('<'))
    elif 4 in f:
      flat = np.array([x for w, v in f[4] for x in _floats(w, v)], dtype)
    elif 10 in f:
      flat = np.concatenate([
          np.frombuffer(v, '<f8') if w == protowire.LEN else
          np.array([v], np.uint64).view(np.float64) for w, v in f[10]])
      flat = flat.astype(dtype)
    elif 7 in f or 5 in f:
      flat = np.array([x for w, v in f.get(7, f.get(5)) for x in _ints(w, v)],
                      np.int64)
      if dtype == np.float16:  # float16 bits travel in int32_data
        flat = flat.astype(np.uint16).view(np.float16)
      flat = flat.astype(dtype)
    else:
      flat = np.zeros(0, dtype)
    if flat.size != count:
      raise OnnxError(f'tensor {self.name!r}: {flat.size} values for dims '
                      f'{list(self.dims)} ({count})')
    return flat.reshape(self.dims).astype(dtype.newbyteorder('='))


def _tensor(buf) -> Tensor:
  fields: dict[int, list] = {}
  dims: list[int] = []
  name, data_type = '', 1
  for field, wire, value in protowire.iter_fields(buf):
    if field == 1:
      dims.extend(_ints(wire, value))
    elif field == 2:
      data_type = value
    elif field == 8:
      name = bytes(value).decode()
    elif field == 14 and value == 1:
      raise OnnxError(f'tensor {name or "?"}: its data is in an external '
                      'file; save the model with the weights inside '
                      '(onnx.save(model, path, save_as_external_data=False))')
    elif field in (4, 5, 7, 9, 10):
      fields.setdefault(field, []).append((wire, value))
  return Tensor(name, tuple(dims), data_type, fields)


@dataclasses.dataclass
class Node:
  """One `NodeProto`: op, input and output tensor names, attributes."""
  op_type: str
  inputs: tuple[str, ...]
  outputs: tuple[str, ...]
  name: str = ''
  attributes: dict[str, Any] = dataclasses.field(default_factory=dict)

  def attr(self, name: str, default: Any = None) -> Any:
    return self.attributes.get(name, default)


def _attribute(buf) -> tuple[str, Any]:
  name, scalar, floats, ints, tensor = '', None, [], [], None
  for field, wire, value in protowire.iter_fields(buf):
    if field == 1:
      name = bytes(value).decode()
    elif field == 2:
      scalar = _floats(wire, value)[0]
    elif field == 3:
      scalar = protowire.to_int64(value)
    elif field == 4:
      scalar = bytes(value)
    elif field == 5:
      tensor = _tensor(value)
    elif field == 7:
      floats.extend(_floats(wire, value))
    elif field == 8:
      ints.extend(_ints(wire, value))
  if tensor is not None:
    return name, tensor
  if floats or ints:
    return name, tuple(floats or ints)
  return name, scalar


def _node(buf) -> Node:
  inputs, outputs, attributes = [], [], {}
  name = op_type = ''
  for field, _, value in protowire.iter_fields(buf):
    if field == 1:
      inputs.append(bytes(value).decode())
    elif field == 2:
      outputs.append(bytes(value).decode())
    elif field == 3:
      name = bytes(value).decode()
    elif field == 4:
      op_type = bytes(value).decode()
    elif field == 5:
      key, val = _attribute(value)
      attributes[key] = val
  return Node(op_type, tuple(inputs), tuple(outputs), name, attributes)


def _value_name(buf) -> str:
  for field, _, value in protowire.iter_fields(buf):
    if field == 1:
      return bytes(value).decode()
  return ''


@dataclasses.dataclass
class Graph:
  """A `GraphProto`: nodes in file (topological) order and its tensors."""
  nodes: list[Node]
  initializers: dict[str, Tensor]
  inputs: list[str]
  outputs: list[str]
  opset: int | None = None

  def producer(self) -> dict[str, Node]:
    """Tensor name -> the node that writes it."""
    return {out: n for n in self.nodes for out in n.outputs}

  def consumers(self) -> dict[str, list[Node]]:
    """Tensor name -> the nodes that read it, in graph order."""
    table: dict[str, list[Node]] = {}
    for n in self.nodes:
      for name in n.inputs:
        table.setdefault(name, []).append(n)
    return table


def parse(data: bytes) -> Graph:
  """The graph of a serialised `ModelProto`.

  Raises:
    OnnxError: bytes that are not a `ModelProto` with a graph.
  """
  graph_buf, opset = None, None
  try:
    for field, wire, value in protowire.iter_fields(data):
      if field == 7 and wire == protowire.LEN:
        graph_buf = value
      elif field == 8 and wire == protowire.LEN:
        domain, version = '', None
        for f, _, v in protowire.iter_fields(value):
          if f == 1:
            domain = bytes(v).decode()
          elif f == 2:
            version = v
        if domain in ('', 'ai.onnx'):
          opset = version
    if graph_buf is None:
      raise OnnxError('no graph (ModelProto field 7): not an ONNX model')
    nodes, inits, inputs, outputs = [], {}, [], []
    for field, wire, value in protowire.iter_fields(graph_buf):
      if wire != protowire.LEN:
        continue
      if field == 1:
        nodes.append(_node(value))
      elif field == 5:
        t = _tensor(value)
        inits[t.name] = t
      elif field == 11:
        inputs.append(_value_name(value))
      elif field == 12:
        outputs.append(_value_name(value))
  except (protowire.WireError, UnicodeDecodeError) as e:
    raise OnnxError(f'not an ONNX model (bad protobuf: {e})') from None
  for n in nodes:
    if n.op_type == 'Constant' and isinstance(n.attr('value'), Tensor):
      inits[n.outputs[0]] = n.attr('value')
  # Initializers may also be listed as graph inputs (IR < 4): not inputs.
  inputs = [name for name in inputs if name not in inits]
  return Graph(nodes, inits, inputs, outputs, opset)


def read(path: str) -> Graph:
  """`parse` of a file.

  Raises:
    OSError: unreadable file. OnnxError: not an ONNX model.
  """
  with open(path, 'rb') as f:
    data = f.read()
  try:
    return parse(data)
  except OnnxError as e:
    raise OnnxError(f'{path}: {e}') from None
