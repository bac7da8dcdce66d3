# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Post-training int8 quantization of Flax models, closed-division style.

What MLPerf Inference's closed division allows without retraining
(`inference_policies` "Model equivalence": quantization with a calibration
set the submitter may not choose, the published `calibration/` lists of
`mlcommons/inference`), done generically over any Flax Linen model whose
matrix products are `nn.Conv`, `nn.Dense` or `nn.DenseGeneral` layers, or
modules of its own that follow the same hook protocol (a `dot_general`
field and a `QUANTIZED_KERNEL` class attribute naming the kernel parameter,
e.g. BERT's SQuAD span head):

* **Weights, per output channel, symmetric int8.** For a kernel `w` (Conv
  HWIO or Dense IO: the output channel is the last axis; a `dot_general`
  kernel in general: every axis it does not contract, e.g. [heads,
  head_size] of a DenseGeneral Q/K/V kernel [H, heads, head_size], [2] of
  a [2, H] span head) the scale of channel `c` is `s_w[c] = max|w[c]| / 127`
  over the contracted axes and the stored weight is
  `clip(round(w / s_w), -127, 127)` as int8 (127, not 128: symmetric, so no
  zero point). Per-channel scaling commutes with folding a BatchNorm into
  the kernel (the fold multiplies each output channel by one number, which
  the channel's own scale absorbs), so quantizing before or after the fold
  gives the same integers; BatchNorm, biases, pooling and the residual adds
  stay float32 between the int8 layers.
* **Activations, per tensor, symmetric int8, calibrated.** The input of each
  quantized layer gets one scale `s_x = amax / 127`, where `amax` is the
  largest |input| seen over the whole calibration set (max calibration, the
  simplest of the methods the reference submissions use; no clipping
  search, so the result depends only on the calibration list). An input is
  quantized as `clip(round(x / s_x), -127, 127)`.
* **Integer arithmetic.** Each layer runs `lax.conv_general_dilated` /
  `lax.dot_general` on int8 operands with `preferred_element_type=int32`
  (exact integer accumulation: what int8 tensor cores and VNNI do), then
  rescales by `s_x * s_w[c]` back to float32 before the layer's bias (the
  output channels come last in both products, so `s_w` broadcasts).

The mechanism is Flax's method interception: every quantizable layer's
call is replaced by a copy of the layer whose `conv_general_dilated` /
`dot_general` hook is the int8 operation (the same hooks AQT uses), with the
layer's own padding, strides and dilations. The workload's `predict` is
unchanged: it is called inside the interception with int8 kernels in its
parameter tree (Flax casts them to float32 exactly; the hook casts them back
to int8 losslessly). A layer whose hook is already set is refused, unless
the hook computes the default op exactly (the CPU conv lowerings) or is
marked `QUANTIZE_THROUGH` (the same product in another summation order,
e.g. BERT's attention output): the int8 product then goes through it.
Only layers with a weight are quantized: products of two activations (a
transformer's attention scores and probabilities x values) stay float32.

Calibration runs the float model over the calibration samples with a hook
that records each layer's input range; the result is a
`QuantizedModel` (int8 parameters, weight and activation scales), a pure
function of the float parameters and the calibration list.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from mlperf_jax.models import conv_lowering

INT8_MAX = 127
# Layers quantized: their matrix product goes through a hook field.
_HOOKS = ((nn.Conv, 'conv_general_dilated', jax.lax.conv_general_dilated),
          (nn.Dense, 'dot_general', jax.lax.dot_general),
          (nn.DenseGeneral, 'dot_general', jax.lax.dot_general))
# Hook-field values that compute exactly the default op (the CPU conv
# lowerings of `models/conv_lowering.py`): such layers are quantized as if
# unset, the int8 product going through the default op.
_EQUIVALENT_OPS = (conv_lowering.im2col_conv, conv_lowering.auto_conv)


@dataclasses.dataclass(frozen=True)
class _Layer:
  """How a quantizable layer computes: its hook field, the op the int8
  product goes through and the name of its kernel parameter."""
  field: str
  op: Callable
  kernel: str


def _layer_of(module) -> _Layer | None:
  """The quantizable layer `module` is, else None.

  Flax's Conv / Dense / DenseGeneral, or a module declaring the protocol:
  a `dot_general` field (None: `lax.dot_general`) through which its one
  product runs with the kernel as right operand, and a class attribute
  `QUANTIZED_KERNEL` naming the kernel parameter.
  """
  for cls, field, op in _HOOKS:
    if type(module) is cls:  # pylint: disable=unidiomatic-typecheck
      return _Layer(field, op, 'kernel')
  kernel = getattr(type(module), 'QUANTIZED_KERNEL', None)
  if kernel is not None and hasattr(module, 'dot_general'):
    return _Layer('dot_general', jax.lax.dot_general, kernel)
  return None


def _layer_name(module) -> str:
  return '/'.join(module.scope.path)


class _Hooked:
  """Base of the ops put into a layer's hook field."""

  def __init__(self, name: str, op: Callable):
    self.name = name
    self.op = op


def _intercept(make_op: Callable[[str, Callable, _Layer], _Hooked]):
  """An interceptor calling each quantizable layer through
  `make_op(name, op, layer)`."""

  def interceptor(next_fun, args, kwargs, context):
    module = context.module
    layer = _layer_of(module)
    if context.method_name != '__call__' or layer is None:
      return next_fun(*args, **kwargs)
    field = layer.field
    custom = getattr(module, field)
    if isinstance(custom, _Hooked):
      return next_fun(*args, **kwargs)  # the hooked copy itself
    op = layer.op
    if getattr(custom, 'QUANTIZE_THROUGH', False):
      op = custom  # the same product in another order: kept for int8 too
    elif (custom is not None and custom not in _EQUIVALENT_OPS) or getattr(
        module, field + '_cls', None) is not None:
      raise ValueError(f'layer {_layer_name(module)} already has a custom '
                       f'{field}; it cannot be quantized')
    name = _layer_name(module)
    copy = module.clone(parent=None, **{field: make_op(name, op, layer)})
    return copy.apply({'params': module.variables['params']}, *args,
                      **kwargs)

  return interceptor


def _channel_axes(field: str, rhs, args, kwargs) -> tuple[int, ...]:
  """The kernel's output-channel axes: the last (Conv HWIO); for a
  `dot_general`, every axis it neither contracts nor batches (they come
  last in the product, in order, so a scale of their shape broadcasts)."""
  if field == 'conv_general_dilated':
    return (rhs.ndim - 1,)
  dims = args[0] if args else kwargs['dimension_numbers']
  (_, contract), (_, batch) = dims
  if tuple(batch):
    raise ValueError('a dot_general with batch dimensions cannot be '
                     'quantized per output channel')
  used = {int(a) % rhs.ndim for a in contract}
  return tuple(a for a in range(rhs.ndim) if a not in used)


class _RecordRange(_Hooked):
  """Float op that records max |input| of its layer into `ranges` and its
  kernel's name and channel axes into `kernels`."""

  def __init__(self, name, op, layer: _Layer, ranges: dict, kernels: dict):
    super().__init__(name, op)
    self.layer = layer
    self.ranges = ranges
    self.kernels = kernels

  def __call__(self, lhs, rhs, *args, **kwargs):
    amax = jnp.max(jnp.abs(lhs)).astype(jnp.float32)
    prev = self.ranges.get(self.name)
    self.ranges[self.name] = amax if prev is None else jnp.maximum(prev, amax)
    self.kernels[self.name] = (self.layer.kernel, _channel_axes(
        self.layer.field, rhs, args, kwargs))
    return self.op(lhs, rhs, *args, **kwargs)


def quantize_tensor(x, scale):
  """`clip(round(x / scale), -127, 127)` as int8 (`scale` broadcasts)."""
  return jnp.clip(jnp.round(x / scale), -INT8_MAX, INT8_MAX).astype(jnp.int8)


class _Int8Op(_Hooked):
  """int8 x int8 -> int32 product, rescaled to float32."""

  def __init__(self, name, op, act_scale, weight_scale):
    super().__init__(name, op)
    self.act_scale = act_scale
    self.weight_scale = weight_scale

  def __call__(self, lhs, rhs, *args, **kwargs):
    kwargs.pop('precision', None)
    kwargs.pop('preferred_element_type', None)
    xq = quantize_tensor(lhs.astype(jnp.float32), self.act_scale)
    # `rhs` holds the stored int8 integers, cast to float by the layer.
    wq = jnp.round(rhs.astype(jnp.float32)).astype(jnp.int8)
    acc = self.op(xq, wq, *args, preferred_element_type=jnp.int32, **kwargs)
    # The output channels come last for every hook (NHWC conv, the kernel's
    # free axes of a dot_general), in the weight scale's shape.
    return acc.astype(jnp.float32) * (self.act_scale * self.weight_scale)


def _calibrate(predict: Callable, params, model_state,
               batches: Iterable[Mapping[str, np.ndarray]]
               ) -> tuple[dict[str, float], dict[str, tuple[str, tuple]]]:
  """(layer name -> max |input|, layer name -> (kernel parameter name,
  channel axes)) over `batches`."""
  kernels: dict = {}

  def ranges_of(p, s, batch):
    ranges: dict = {}
    with nn.intercept_methods(_intercept(
        lambda name, op, layer: _RecordRange(name, op, layer, ranges,
                                             kernels))):
      predict(p, s, batch)
    return ranges

  fn = jax.jit(ranges_of)
  out: dict[str, float] = {}
  for batch in batches:
    for name, v in jax.device_get(fn(params, model_state, batch)).items():
      out[name] = max(out.get(name, 0.0), float(v))
  if not out:
    raise ValueError('the model calls no nn.Conv, nn.Dense or nn.DenseGeneral '
                     'layer: nothing to quantize')
  return out, kernels


def layer_input_ranges(predict: Callable, params, model_state,
                       batches: Iterable[Mapping[str, np.ndarray]]
                       ) -> dict[str, float]:
  """Layer name -> max |input| over `batches`, for every quantizable layer
  that `predict(params, model_state, batch)` calls."""
  return _calibrate(predict, params, model_state, batches)[0]


def quantize_kernel(kernel, channel_axes: Sequence[int] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
  """(int8 kernel, float32 per-output-channel scale) of a float kernel.

  `channel_axes`: the kernel's output-channel axes (default: the last);
  the scale has their shape, each entry the max |w| over the other axes
  / 127.
  """
  w = np.asarray(kernel, np.float32)
  axes = ((w.ndim - 1,) if channel_axes is None else
          tuple(sorted(int(a) % w.ndim for a in channel_axes)))
  reduce = tuple(a for a in range(w.ndim) if a not in axes)
  amax = np.max(np.abs(w), axis=reduce, keepdims=True)
  scale = np.where(amax > 0, amax / INT8_MAX, 1.0).astype(np.float32)
  q = np.clip(np.round(w / scale), -INT8_MAX, INT8_MAX).astype(np.int8)
  return q, scale.reshape([w.shape[a] for a in axes])


@dataclasses.dataclass
class QuantizedModel:
  """An int8 model: what `int8_predict` runs.

  Attributes:
    params: the float parameter tree with every quantized kernel replaced
      by its int8 integers.
    weight_scales: layer name -> per-output-channel float32 scale (the
      shape of the kernel's output-channel axes).
    act_scales: layer name -> per-tensor float32 input scale.
    calibration: where the calibration samples came from (for reports).
  """
  params: Any
  weight_scales: dict[str, np.ndarray]
  act_scales: dict[str, np.float32]
  calibration: str = ''

  def bundle(self) -> dict[str, Any]:
    """The pytree `int8_predict` takes in place of the params."""
    return {'params': self.params, 'weight_scale': self.weight_scales,
            'act_scale': self.act_scales}


def quantize(predict: Callable, params, model_state,
             calibration_batches: Iterable[Mapping[str, np.ndarray]],
             calibration: str = '') -> QuantizedModel:
  """Calibrates activation ranges and quantizes the kernels of `params`.

  Args:
    predict: the workload's `(params, model_state, batch) -> outputs`.
    params, model_state: the trained float model (host or device arrays,
      unboxed).
    calibration_batches: batches (collated sample pytrees) of the fixed
      calibration list, fed to `predict` in float32.
    calibration: a description of the list (its source), kept for reports.
  """
  params = nn.unbox(params)
  ranges, kernels = _calibrate(predict, params, model_state,
                               calibration_batches)
  flat = traverse_util.flatten_dict(jax.device_get(params))
  weight_scales, act_scales = {}, {}
  for name, amax in sorted(ranges.items()):
    kernel, channel_axes = kernels[name]
    path = (*name.split('/'), kernel)
    if path not in flat:
      raise ValueError(f'layer {name} has no kernel at {"/".join(path)} in '
                       'the parameter tree')
    flat[path], weight_scales[name] = quantize_kernel(flat[path],
                                                      channel_axes)
    act_scales[name] = np.float32(amax / INT8_MAX if amax > 0 else 1.0)
  return QuantizedModel(traverse_util.unflatten_dict(flat), weight_scales,
                        act_scales, calibration)


def int8_predict(predict: Callable) -> Callable:
  """`predict` run with int8 layers: `(QuantizedModel.bundle(), model_state,
  batch) -> outputs`."""

  def run(bundle, model_state, batch):
    ws, xs = bundle['weight_scale'], bundle['act_scale']

    def make_op(name, op, layer):
      del layer
      if name not in ws:
        raise ValueError(f'layer {name} was not seen in calibration')
      return _Int8Op(name, op, xs[name], ws[name])

    with nn.intercept_methods(_intercept(make_op)):
      return predict(bundle['params'], model_state, batch)

  return run
