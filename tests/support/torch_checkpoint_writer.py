# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`torch.save` files written without torch, for the reader's tests.

Follows torch `serialization.py` as `torch.save(obj, f, pickle_protocol=2)`
writes it: the object pickled at protocol 2 with the Python pickler, torch's
globals emitted as GLOBAL opcodes (`torch FloatStorage`,
`torch._utils _rebuild_tensor_v2`, `_rebuild_parameter`, the module
classes), storages as persistent ids, modules as `NEWOBJ` of their class
plus `BUILD` of their `__dict__` (nn.Module has no `__reduce__`); then the
zip archive (`archive/data.pkl`, `archive/byteorder`, `archive/data/<key>`,
`archive/version`) or the legacy stream (magic, protocol 1001, sys_info,
object, sorted keys, per storage an int64 count and its bytes).

`module(cls, params, buffers, children, **attrs)` builds a stand-in with the
`__dict__` layout of an nn.Module (`training`, `_parameters`, `_buffers`,
`_modules`, hook dicts, constructor attributes). NumPy arrays anywhere in
dicts, lists and tuples are written as tensors of their own storage;
`transposed(a)` writes `a` as a strided view of a storage holding `a.T`
(torch keeps `weight.t()` so).
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

from mlperf_jax.formats import torch_checkpoint as tc

DTYPE_STORAGE = {np.dtype(v): k for k, v in tc.STORAGE_DTYPES.items()
                 if v != 'bfloat16'}
_classes: dict[tuple[str, str], type] = {}


def global_class(module: str, name: str) -> type:
  """A class that pickles as the global `module.name` (created once)."""
  key = (module, name)
  if key not in _classes:
    _classes[key] = type(name, (), {'_global': key})
  return _classes[key]


class Tensor:
  """A tensor over (a slice of) a shared storage."""

  def __init__(self, value, storage=None, offset: int = 0):
    """`value` a view of `storage.data` starting at element `offset` (its
    strides are the tensor's), or, without a storage, a tensor of its own."""
    if storage is None:
      value = np.ascontiguousarray(value)
      storage = Storage(value.ravel())
    self.value, self.storage, self.offset = np.asarray(value), storage, offset

  def __reduce_ex__(self, proto):
    item = self.value.dtype.itemsize
    stride = tuple(s // item for s in self.value.strides)
    return (global_class('torch._utils', '_rebuild_tensor_v2'),
            (self.storage, self.offset, tuple(self.value.shape), stride,
             False, collections.OrderedDict()))


class Parameter(Tensor):

  def __reduce_ex__(self, proto):
    return (global_class('torch._utils', '_rebuild_parameter'),
            (Tensor(self.value, self.storage, self.offset), True,
             collections.OrderedDict()))


class Storage:

  def __init__(self, flat):
    self.data = np.ascontiguousarray(flat)


def transposed(a) -> Tensor:
  """`a` as a non-contiguous tensor over a storage holding `a.T`."""
  base = np.ascontiguousarray(np.asarray(a).T)
  return Tensor(base.T, Storage(base.ravel()), 0)


def _tensors(obj):
  """`obj` with every NumPy array made a `Tensor` (containers kept)."""
  if isinstance(obj, np.ndarray):
    return Tensor(obj)
  if isinstance(obj, dict):
    out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
    out.update((k, _tensors(v)) for k, v in obj.items())
    return out
  if isinstance(obj, list):
    return [_tensors(v) for v in obj]
  if isinstance(obj, tuple):
    return tuple(_tensors(v) for v in obj)
  return obj


def module(cls: type, params=None, buffers=None, children=None, **attrs):
  """An object pickled as nn.Module instances are (protocol 2)."""
  obj = cls.__new__(cls)
  obj.__dict__.update({
      'training': False,
      '_parameters': collections.OrderedDict(
          (k, Parameter(v) if v is not None else None)
          for k, v in (params or {}).items()),
      '_buffers': collections.OrderedDict(
          (k, Tensor(v)) for k, v in (buffers or {}).items()),
      '_backward_hooks': collections.OrderedDict(),
      '_forward_hooks': collections.OrderedDict(),
      '_forward_pre_hooks': collections.OrderedDict(),
      '_state_dict_hooks': collections.OrderedDict(),
      '_load_state_dict_pre_hooks': collections.OrderedDict(),
      '_modules': collections.OrderedDict(children or {}),
      **attrs})
  return obj


class _Pickler(pickle._Pickler):  # pylint: disable=protected-access
  """The Python pickler, writing the stand-in globals as torch's."""

  def __init__(self, file, persistent_id):
    super().__init__(file, protocol=2)
    self._pid = persistent_id

  def persistent_id(self, obj):
    return self._pid(obj)

  def save(self, obj, save_persistent_id=True):
    key = getattr(obj, '_global', None) if isinstance(obj, type) else None
    if key is not None:
      memo = self.memo.get(id(obj))
      if memo is not None:  # as the pickler's own globals: a memo get
        self.write(self.get(memo[0]))
        return
      self.write(pickle.GLOBAL + f'{key[0]}\n{key[1]}\n'.encode())
      self.memoize(obj)
      return
    super().save(obj, save_persistent_id)


def _pickle(obj, persistent_id) -> bytes:
  buf = io.BytesIO()
  _Pickler(buf, persistent_id).dump(obj)
  return buf.getvalue()


def _storage_ids(legacy: bool):
  keys: dict[int, tuple[str, Storage]] = {}

  def persistent_id(obj):
    if not isinstance(obj, Storage):
      return None
    key, _ = keys.setdefault(id(obj), (str(len(keys)), obj))
    stype = global_class('torch', DTYPE_STORAGE[obj.data.dtype])
    pid = ('storage', stype, key, 'cpu', obj.data.size)
    return pid + (None,) if legacy else pid
  return keys, persistent_id


def save_zip(obj, path: str, byteorder: str = 'little') -> None:
  """The zip container (`torch.save` since 1.6)."""
  keys, pid = _storage_ids(legacy=False)
  data = _pickle(_tensors(obj), pid)
  with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('archive/data.pkl', data)
    z.writestr('archive/byteorder', byteorder)
    for key, st in sorted(keys.values()):
      order = '<' if byteorder == 'little' else '>'
      z.writestr(f'archive/data/{key}',
                 st.data.astype(st.data.dtype.newbyteorder(order)).tobytes())
    z.writestr('archive/version', '3\n')


def save_legacy(obj, path: str) -> None:
  """The legacy stream (`_legacy_save`, torch < 1.6)."""
  keys, pid = _storage_ids(legacy=True)
  body = _pickle(_tensors(obj), pid)
  with open(path, 'wb') as f:
    pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump({'protocol_version': 1001, 'little_endian': True,
                 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, f,
                protocol=2)
    f.write(body)
    stored = sorted(keys.values())
    pickle.dump([k for k, _ in stored], f, protocol=2)
    for _, st in stored:
      f.write(struct.pack('<q', st.data.size))
      f.write(st.data.astype('<' + st.data.dtype.str[1:]).tobytes())


def rnnt_inference_state(cfg, rng) -> dict[str, np.ndarray]:
  """A random state dict of the MLPerf Inference RNN-T of `cfg` as its
  checkpoint holds it (`model_separable_rnnt` names and torch's shapes, the
  joint as `joint_net.*`, the featurizer's buffers), float32."""
  st = {}

  def lstm(prefix, layers, inp, h):
    for l in range(layers):
      i = inp if l == 0 else h
      st[f'{prefix}.weight_ih_l{l}'] = rng.normal(size=(4 * h, i))
      st[f'{prefix}.weight_hh_l{l}'] = rng.normal(size=(4 * h, h))
      st[f'{prefix}.bias_ih_l{l}'] = rng.normal(size=4 * h)
      st[f'{prefix}.bias_hh_l{l}'] = rng.normal(size=4 * h)
  lstm('encoder.pre_rnn.lstm', cfg.enc_pre_layers, cfg.in_features,
       cfg.enc_hidden)
  lstm('encoder.post_rnn.lstm', cfg.enc_post_layers,
       cfg.enc_hidden * cfg.stack_time, cfg.enc_hidden)
  st['prediction.embed.weight'] = rng.normal(size=(cfg.num_classes - 1,
                                                   cfg.pred_hidden))
  lstm('prediction.dec_rnn.lstm', cfg.pred_layers, cfg.pred_hidden,
       cfg.pred_hidden)
  st['joint_net.0.weight'] = rng.normal(
      size=(cfg.joint_hidden, cfg.enc_hidden + cfg.pred_hidden)) * 0.3
  st['joint_net.0.bias'] = rng.normal(size=cfg.joint_hidden)
  st['joint_net.3.weight'] = rng.normal(size=(cfg.num_classes,
                                              cfg.joint_hidden)) * 0.3
  st['joint_net.3.bias'] = rng.normal(size=cfg.num_classes)
  st['audio_preprocessor.featurizer.fb'] = np.zeros((1, 80, 257))
  st['audio_preprocessor.featurizer.window'] = np.hanning(320)
  return {k: v.astype(np.float32) for k, v in st.items()}
