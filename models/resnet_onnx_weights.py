# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ResNet-50 v1.5 variables from an ONNX graph: MLPerf Inference's weights.

The official MLPerf Inference ResNet-50 v1.5, `resnet50_v1.onnx`
(mlcommons/inference `vision/classification_and_detection`), is TF official
models' ResNet-50 v1.5 (`resnet50_v1.pb`) converted by tf2onnx
(`tools/resnet50-to-onnx.sh`: `--fold_const --opset 8 --inputs-as-nchw
input_tensor:0`). Its initializer names are whatever the converter made of
the TF graph's, so weights are found by walking the graph, not by name:

* the stem: the first `Conv`, its `BatchNormalization`, `Relu`, `MaxPool`;
* each bottleneck unit, from the tensor that enters it: one or two `Conv`s
  read it; the one whose normalised output goes straight into the residual
  `Add` is the projection shortcut (`conv1sc`/`bnsc`), the other starts
  conv1 -> BN -> Relu -> conv2 -> BN -> Relu -> conv3 -> BN -> `Add` ->
  `Relu`, whose output enters the next unit; units map to ours in order;
* the head: `ReduceMean`/`GlobalAveragePool`, then `MatMul` + `Add` (or
  `Gemm`) with the [2048, classes] kernel.

`Pad`, `Identity`, `Squeeze`, `Reshape` and `Flatten` nodes on the way are
stepped over (a `Pad` before a `Conv` adds to its padding). A BN folded into
its convolution (a `Conv` bias, or an `Add` of a constant) becomes a BN of
scale 1, mean 0 and variance `1 - epsilon`, which adds the bias exactly.

ONNX kernels are [out, in, kh, kw] (ours [kh, kw, in, out]); the dense
kernel of `MatMul` is already [in, out] (`Gemm` with `transB` is
transposed). The graph also fixes what our configuration must be
(`Network.config_overrides`): 1001 classes with background class 0, served
with the reference's `PostProcessArgMax(offset=-1)` (`label_offset=-1`);
the strided 3x3 convolutions padded one pixel on each side (TF official
models' `conv2d_fixed_padding`, `strided_padding='symmetric'`); the BN
epsilon of its nodes. Any other padding is refused rather than served wrong.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import numpy as np
from flax import traverse_util

from mlperf_jax.formats import onnx_model

_STEP_OVER = ('Identity', 'Squeeze', 'Reshape', 'Flatten', 'Unsqueeze')


class OnnxResNetError(ValueError):
  """A graph that is not a ResNet of the expected form."""


@dataclasses.dataclass
class ConvBN:
  """One convolution and the BatchNorm after it, as tensors of the graph."""
  kernel: onnx_model.Tensor
  strides: tuple[int, int]
  pads: tuple[int, int, int, int] | str  # (top, left, bottom, right)
  bn: tuple[onnx_model.Tensor, ...] | None  # scale, bias, mean, var
  folded_bias: onnx_model.Tensor | None
  epsilon: float
  node: str

  def variables(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """({'kernel'}, BN {'scale', 'bias'}, BN {'mean', 'var'}) arrays."""
    kernel = np.transpose(self.kernel.array(), (2, 3, 1, 0))
    if self.bn is not None:
      scale, bias, mean, var = (t.array().astype(np.float32)
                                for t in self.bn)
    else:
      c = kernel.shape[-1]
      bias = self.folded_bias.array().astype(np.float32).reshape(-1)
      scale, mean = np.ones(c, np.float32), np.zeros(c, np.float32)
      var = np.full(c, 1.0 - self.epsilon, np.float32)
    return ({'kernel': kernel.astype(np.float32)},
            {'scale': scale, 'bias': bias}, {'mean': mean, 'var': var})


@dataclasses.dataclass
class Unit:
  conv1: ConvBN
  conv2: ConvBN
  conv3: ConvBN
  shortcut: ConvBN | None


@dataclasses.dataclass
class Network:
  """The graph's ResNet: stem, units in order, dense head."""
  stem: ConvBN
  pool: tuple[tuple[int, ...], tuple[int, ...], Any]
  units: list[Unit]
  dense_kernel: onnx_model.Tensor
  dense_transposed: bool
  dense_bias: onnx_model.Tensor | None

  @property
  def num_classes(self) -> int:
    shape = self.dense_kernel.shape
    return shape[0] if self.dense_transposed else shape[-1]

  def conv_bns(self) -> list[ConvBN]:
    out = [self.stem]
    for u in self.units:
      out += [u.conv1, u.conv2, u.conv3] + ([u.shortcut] if u.shortcut else [])
    return out

  def config_overrides(self) -> dict[str, Any]:
    """The `ResNetConfig` fields this graph's network needs.

    Raises:
      OnnxResNetError: paddings, pooling or epsilons our ResNet cannot run.
    """
    def fail(msg):
      raise OnnxResNetError(msg)

    if self.num_classes not in (1000, 1001):
      fail(f'{self.num_classes} output classes: expected 1000, or 1001 with '
           'a background class 0')
    eps = {c.epsilon for c in self.conv_bns() if c.bn is not None}
    if len(eps) > 1:
      fail(f'BatchNormalization nodes with different epsilons {sorted(eps)}')
    strided = set()
    for c in self.conv_bns():
      k = c.kernel.shape[2]
      half = (k - 1) // 2
      if c.strides not in ((1, 1), (2, 2)):
        fail(f'{c.node}: strides {c.strides}')
      if c.pads == 'SAME_UPPER' and c.strides == (2, 2) and k == 3:
        strided.add('same')
      elif c.pads == 'SAME_UPPER' and (k == 1 or c.strides == (1, 1)):
        pass
      elif c.pads == (half,) * 4:
        if c.strides == (2, 2) and k == 3:
          strided.add('symmetric')
      elif c.strides == (2, 2) and k == 3 and c.pads == (0, 0, 1, 1):
        strided.add('same')
      else:
        fail(f'{c.node}: {k}x{k} convolution at strides {c.strides} padded '
             f'{c.pads} (top, left, bottom, right): our ResNet pads '
             f'{(half,) * 4} (or one pixel at the end only when strided)')
    if self.stem.kernel.shape[2:] != (7, 7) or self.stem.strides != (2, 2):
      fail(f'stem {self.stem.node}: kernel {self.stem.kernel.shape} strides '
           f'{self.stem.strides}: expected a 7x7 convolution at stride 2')
    kernel, strides, pads = self.pool
    if tuple(kernel) != (3, 3) or tuple(strides) != (2, 2) or pads not in (
        'SAME_UPPER', (0, 0, 1, 1)):
      fail(f'max pool kernel {kernel} strides {strides} pads {pads}: '
           'expected 3x3 at stride 2 padded as TF "SAME"')
    if len(strided) > 1:
      fail('strided 3x3 convolutions padded both symmetrically and at the '
           'end only')
    out = {'num_classes': self.num_classes,
           'label_offset': -1 if self.num_classes == 1001 else 0}
    if strided:
      out['strided_padding'] = strided.pop()
    if eps:
      out['bn_epsilon'] = eps.pop()
    return out

  def used_tensors(self) -> set[str]:
    names = {self.dense_kernel.name}
    if self.dense_bias is not None:
      names.add(self.dense_bias.name)
    for c in self.conv_bns():
      names.add(c.kernel.name)
      names.update(t.name for t in c.bn or ())
      if c.folded_bias is not None:
        names.add(c.folded_bias.name)
    return names


class _Walker:
  """Follows the data flow of a graph node by node."""

  def __init__(self, graph: onnx_model.Graph):
    self.graph = graph
    self.consumers = graph.consumers()
    self.inits = graph.initializers

  def fail(self, msg: str):
    raise OnnxResNetError(f'not a ResNet-50 v1.5 graph: {msg}')

  def const(self, name: str, what: str) -> onnx_model.Tensor:
    if name not in self.inits:
      self.fail(f'{what} {name!r} is not an initializer')
    return self.inits[name]

  def readers(self, tensor: str) -> list[tuple[onnx_model.Node, tuple]]:
    """Nodes reading `tensor`, stepping over pass-through nodes; each with
    the spatial pads (top, left, bottom, right) of the `Pad`s passed."""
    out = []
    for node in self.consumers.get(tensor, []):
      if node.op_type in _STEP_OVER:
        out += self.readers(node.outputs[0])
      elif node.op_type == 'Pad':
        pads = node.attr('pads')
        if pads is None and len(node.inputs) > 1:
          pads = tuple(int(x) for x in self.const(
              node.inputs[1], 'Pad amounts').array().reshape(-1))
        if pads is None or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
          self.fail(f'Pad {node.name}: pads {pads} (expected spatial '
                    'padding of an NCHW tensor)')
        mine = (pads[2], pads[3], pads[6], pads[7])
        for reader, more in self.readers(node.outputs[0]):
          out.append((reader, tuple(a + b for a, b in zip(mine, more))))
      else:
        out.append((node, (0, 0, 0, 0)))
    return out

  def one(self, tensor: str, op_types: tuple[str, ...], after: str):
    readers = self.readers(tensor)
    if len(readers) != 1 or readers[0][0].op_type not in op_types:
      self.fail(f'after {after}: expected one {"/".join(op_types)}, found '
                f'{[n.op_type for n, _ in readers]}')
    return readers[0]

  def conv_bn(self, conv: onnx_model.Node, pre_pads) -> tuple[ConvBN, str]:
    """The ConvBN starting at `conv`, and the tensor it outputs."""
    kernel = self.const(conv.inputs[1], f'Conv {conv.name} kernel')
    if len(kernel.shape) != 4:
      self.fail(f'Conv {conv.name}: kernel of dims {kernel.shape}')
    if conv.attr('group', 1) != 1 or set(conv.attr('dilations', (1, 1))) != {1}:
      self.fail(f'Conv {conv.name}: grouped or dilated')
    auto = conv.attr('auto_pad', b'NOTSET')
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ('SAME_UPPER', 'SAME_LOWER'):
      pads = auto if not any(pre_pads) else self.fail(
          f'Conv {conv.name}: a Pad before an auto_pad convolution')
      if pads == 'SAME_LOWER':
        self.fail(f'Conv {conv.name}: auto_pad SAME_LOWER')
    else:
      p = conv.attr('pads', (0, 0, 0, 0)) if auto != 'VALID' else (0,) * 4
      pads = tuple(int(a + b) for a, b in zip(pre_pads, p))
    strides = tuple(conv.attr('strides', (1, 1)))
    out = conv.outputs[0]
    folded = (self.const(conv.inputs[2], f'Conv {conv.name} bias')
              if len(conv.inputs) > 2 and conv.inputs[2] else None)
    bn, eps = None, 1e-5
    node, _ = self.one(out, ('BatchNormalization', 'Add', 'Relu'),
                       f'Conv {conv.name}')
    if node.op_type == 'BatchNormalization':
      if folded is not None:
        self.fail(f'Conv {conv.name}: both a bias and a BatchNormalization')
      bn = tuple(self.const(n, f'BatchNormalization {node.name} input')
                 for n in node.inputs[1:5])
      # A float32 attribute: its shortest decimal (1e-05, not 9.99...e-06).
      eps = float(str(np.float32(node.attr('epsilon', 1e-5))))
      out = node.outputs[0]
    elif node.op_type == 'Add' and folded is None:
      other = [n for n in node.inputs if n != out]
      if other and other[0] in self.inits:
        folded = self.inits[other[0]]
        out = node.outputs[0]
    if bn is None and folded is None:
      self.fail(f'Conv {conv.name}: no BatchNormalization or bias after it')
    return ConvBN(kernel, strides, pads, bn, folded, eps,
                  conv.name or conv.outputs[0]), out

  def relu(self, tensor: str, after: str) -> str:
    node, _ = self.one(tensor, ('Relu',), after)
    return node.outputs[0]

  def unit(self, x: str, index: int) -> tuple[Unit, str] | None:
    readers = self.readers(x)
    convs = [(n, p) for n, p in readers if n.op_type == 'Conv']
    if not convs:
      return None
    if len(convs) > 2:
      self.fail(f'unit {index + 1}: {len(convs)} convolutions read its input')
    shortcut, main = None, None
    for conv, pads in convs:
      cb, out = self.conv_bn(conv, pads)
      nxt = [n.op_type for n, _ in self.readers(out)]
      if nxt == ['Add']:
        shortcut, short_out = cb, out
      else:
        main = cb, out
    if main is None:
      self.fail(f'unit {index + 1}: no conv1 -> Relu path')
    conv1, t = main
    conv2_node, pads = self.one(self.relu(t, conv1.node), ('Conv',),
                                f'{conv1.node} Relu')
    conv2, t = self.conv_bn(conv2_node, pads)
    conv3_node, pads = self.one(self.relu(t, conv2.node), ('Conv',),
                                f'{conv2.node} Relu')
    conv3, t = self.conv_bn(conv3_node, pads)
    add, _ = self.one(t, ('Add',), conv3.node)
    residual = short_out if shortcut is not None else x
    if set(add.inputs) != {t, residual}:
      self.fail(f'unit {index + 1}: residual Add {add.name} reads '
                f'{list(add.inputs)}, not {conv3.node} and the shortcut')
    return Unit(conv1, conv2, conv3, shortcut), self.relu(
        add.outputs[0], f'unit {index + 1} Add')

  def network(self) -> Network:
    convs = [n for n in self.graph.nodes if n.op_type == 'Conv']
    if not convs:
      self.fail('no Conv node')
    first = convs[0]
    pre = (0, 0, 0, 0)
    producer = self.graph.producer().get(first.inputs[0])
    if producer is not None and producer.op_type == 'Pad':
      pads = producer.attr('pads')
      if pads is None and len(producer.inputs) > 1:
        pads = tuple(int(v) for v in self.const(
            producer.inputs[1], 'Pad amounts').array().reshape(-1))
      pre = (pads[2], pads[3], pads[6], pads[7])
    stem, t = self.conv_bn(first, pre)
    pool, _ = self.one(self.relu(t, 'the stem'), ('MaxPool',), 'stem Relu')
    auto = pool.attr('auto_pad', b'NOTSET')
    auto = auto.decode() if isinstance(auto, bytes) else auto
    pool_pads = auto if auto.startswith('SAME') else tuple(
        pool.attr('pads', (0, 0, 0, 0)))
    pool_info = (pool.attr('kernel_shape'), pool.attr('strides', (1, 1)),
                 pool_pads)
    t = pool.outputs[0]
    units = []
    while (step := self.unit(t, len(units))) is not None:
      unit, t = step
      units.append(unit)
    node, _ = self.one(t, ('ReduceMean', 'GlobalAveragePool'),
                       f'unit {len(units)}')
    if node.op_type == 'ReduceMean' and tuple(sorted(
        node.attr('axes', (2, 3)))) != (2, 3):
      self.fail(f'ReduceMean {node.name} over axes {node.attr("axes")}')
    dense, _ = self.one(node.outputs[0], ('MatMul', 'Gemm'), 'the mean')
    kernel = self.const(dense.inputs[1], 'dense kernel')
    transposed = dense.op_type == 'Gemm' and bool(dense.attr('transB', 0))
    bias = None
    if dense.op_type == 'Gemm' and len(dense.inputs) > 2:
      bias = self.const(dense.inputs[2], 'dense bias')
    elif dense.op_type == 'MatMul':
      readers = [n for n, _ in self.readers(dense.outputs[0])
                 if n.op_type == 'Add']
      for add in readers:
        other = [n for n in add.inputs if n in self.inits]
        if other:
          bias = self.inits[other[0]]
    return Network(stem, pool_info, units, kernel, transposed, bias)


def trace(graph: onnx_model.Graph) -> Network:
  """The ResNet of an ONNX graph (tensors not yet decoded).

  Raises:
    OnnxResNetError: the graph is not a bottleneck ResNet of this form.
  """
  return _Walker(graph).network()


def _our_units(params: Any) -> list[str]:
  names = [k for k in params if k.startswith('stage')]
  return sorted(names, key=lambda n: tuple(
      int(x) for x in n[len('stage'):].split('_unit')))


def mapping(net: Network, graph: onnx_model.Graph, params: Any,
            batch_stats: Any) -> dict[tuple[str, ...], tuple[Any, str]]:
  """Where each of our variables comes from, shapes checked, nothing decoded.

  Args:
    net: `trace(graph)`.
    graph: the graph (for the list of its unused weights).
    params, batch_stats: the expected trees (arrays or
      `jax.ShapeDtypeStruct`s, e.g. `jax.eval_shape` of `init` with
      `config_overrides` applied), giving the paths and shapes.

  Returns:
    `{(collection, *path): (ConvBN or dense Tensor, leaf name)}` with
    collection 'params' or 'batch_stats'.

  Raises:
    OnnxResNetError: naming every missing, unexpected or mis-shaped tensor.
  """
  params = nn.unbox(params)
  ours = _our_units(params)
  problems = []
  if len(ours) != len(net.units):
    problems.append(f'the graph has {len(net.units)} bottleneck units, our '
                    f'ResNet {len(ours)}')
  sources: dict[tuple[str, ...], tuple[ConvBN, str]] = {}
  pairs = [('conv0', 'bn0', net.stem)]
  for name, unit in zip(ours, net.units):
    pairs += [(f'{name}/conv{k}', f'{name}/bn{k}', cb) for k, cb in
              ((1, unit.conv1), (2, unit.conv2), (3, unit.conv3))]
    if unit.shortcut is not None:
      pairs.append((f'{name}/conv1sc', f'{name}/bnsc', unit.shortcut))
  for conv, bn, cb in pairs:
    sources[tuple(conv.split('/'))] = (cb, 'conv')
    sources[tuple(bn.split('/'))] = (cb, 'bn')
  flat_p = traverse_util.flatten_dict(params)
  flat_s = traverse_util.flatten_dict(nn.unbox(batch_stats))
  out_p, out_s = {}, {}

  def shape_of(cb: ConvBN, collection: str, leaf: str) -> tuple[int, ...]:
    o, i, kh, kw = cb.kernel.shape
    if collection == 'conv':
      return (kh, kw, i, o)
    if cb.bn is not None:
      return tuple(cb.bn[('scale', 'bias', 'mean', 'var').index(leaf)].shape)
    return (o,)

  for flat, out in ((flat_p, out_p), (flat_s, out_s)):
    for path, leaf in flat.items():
      *module, name = path
      if tuple(module) == ('fc1',):
        t = net.dense_bias if name == 'bias' else net.dense_kernel
        if t is None:
          problems.append('fc1/bias: the graph\'s dense layer has no bias')
          continue
        shape = tuple(t.shape)
        if name == 'kernel' and net.dense_transposed:
          shape = shape[::-1]
        if name == 'bias':
          shape = (int(np.prod(shape)),)
        if shape != tuple(leaf.shape):
          problems.append(f'{"/".join(path)}: {t.name} has shape {shape}, '
                          f'ours {tuple(leaf.shape)}')
          continue
        out[path] = (t, name)
        continue
      if tuple(module) not in sources:
        problems.append(f'{"/".join(path)}: missing from the graph')
        continue
      cb, kind = sources[tuple(module)]
      shape = shape_of(cb, kind, name)
      if shape != tuple(leaf.shape):
        problems.append(f'{"/".join(path)}: {cb.node} gives shape {shape}, '
                        f'ours {tuple(leaf.shape)}')
        continue
      out[path] = (cb, name)
  used = net.used_tensors()
  weight_ops = ('Conv', 'BatchNormalization', 'MatMul', 'Gemm')
  unused = sorted({n for node in graph.nodes if node.op_type in weight_ops
                   for n in node.inputs if n in graph.initializers} - used)
  for n in unused:
    problems.append(f'unexpected tensor {n} {graph.initializers[n].shape}')
  if problems:
    raise OnnxResNetError('not ResNet weights of this configuration: ' +
                          '; '.join(problems))
  return {**{('params',) + p: v for p, v in out_p.items()},
          **{('batch_stats',) + p: v for p, v in out_s.items()}}


def source_name(src: tuple[Any, str]) -> str:
  """The graph tensor a `mapping` entry reads."""
  obj, leaf = src
  if isinstance(obj, onnx_model.Tensor):
    return obj.name
  if leaf == 'kernel':
    return obj.kernel.name
  if obj.bn is None:
    return (obj.folded_bias.name if leaf == 'bias'
            else f'({leaf} of a folded BN)')
  return obj.bn[('scale', 'bias', 'mean', 'var').index(leaf)].name


def variables(net: Network, graph: onnx_model.Graph, params: Any,
              batch_stats: Any) -> tuple[dict, dict]:
  """`(params, batch_stats)` of our ResNet from the graph's tensors: NumPy
  trees of the structure of `params` and `batch_stats` (see `mapping`).

  Raises:
    OnnxResNetError: naming every missing, unexpected or mis-shaped tensor.
  """
  table = mapping(net, graph, params, batch_stats)
  cache: dict[int, tuple] = {}

  def value(path, src):
    if isinstance(src[0], ConvBN):
      cb, name = src
      if id(cb) not in cache:
        cache[id(cb)] = cb.variables()
      conv, bn, stats = cache[id(cb)]
      return {**conv, **bn, **stats}[name]
    t, name = src
    a = t.array().astype(np.float32)
    if name == 'bias':
      return a.reshape(-1)
    return a.T if net.dense_transposed else a

  trees = {'params': {}, 'batch_stats': {}}
  for (coll, *path), src in table.items():
    trees[coll][tuple(path)] = value(path, src)
  return (traverse_util.unflatten_dict(trees['params']),
          traverse_util.unflatten_dict(trees['batch_stats']))
