# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Writes `torch.save` files without PyTorch, for tests of
`mlperf_jax.formats.torch_checkpoint`.

The pickle is emitted opcode by opcode (protocol 2, as `torch.save`
uses) so that the globals torch would write (`torch._utils.
_rebuild_tensor_v2`, `torch.FloatStorage`, `collections.OrderedDict`)
appear by name without torch being importable. Objects: dicts with str keys,
OrderedDicts (`Ordered`), str, int, float, bool, None, lists, tuples and
NumPy arrays (float32/64/16, int64/32/16/8, uint8, bool). A non-contiguous
array is written as a strided view of a larger storage (a transpose), as
torch keeps `weight.t()`.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile

import numpy as np

from mlperf_jax.formats import torch_checkpoint as tc

_STORAGE = {np.dtype(v).str if v != 'bfloat16' else 'bf16': k
            for k, v in tc.STORAGE_DTYPES.items() if v != 'bfloat16'}


class Ordered(dict):
  """Written as a `collections.OrderedDict`."""


class Transposed:
  """An array stored as the transpose of a contiguous storage (torch's
  strides of `x.t()`)."""

  def __init__(self, array: np.ndarray):
    self.array = np.asarray(array)


def _uni(s: str) -> bytes:
  b = s.encode('utf-8')
  return b'X' + struct.pack('<I', len(b)) + b


def _int(n: int) -> bytes:
  if 0 <= n < 256:
    return b'K' + bytes([n])
  if -2**31 <= n < 2**31:
    return b'J' + struct.pack('<i', n)
  raw = n.to_bytes((n.bit_length() + 8) // 8, 'little', signed=True)
  return b'\x8a' + bytes([len(raw)]) + raw


def _glob(module: str, name: str) -> bytes:
  return b'c' + module.encode() + b'\n' + name.encode() + b'\n'


def _tuple(items: list[bytes]) -> bytes:
  return b'(' + b''.join(items) + b't'


class _Writer:

  def __init__(self):
    self.storages: list[tuple[str, np.ndarray]] = []

  def obj(self, x) -> bytes:
    if x is None:
      return b'N'
    if x is True:
      return b'\x88'
    if x is False:
      return b'\x89'
    if isinstance(x, int):
      return _int(x)
    if isinstance(x, float):
      return b'G' + struct.pack('>d', x)
    if isinstance(x, str):
      return _uni(x)
    if isinstance(x, (np.ndarray, Transposed)):
      return self.tensor(x)
    if isinstance(x, Ordered):
      out = _glob('collections', 'OrderedDict') + b')R'
      return out + self._items(x)
    if isinstance(x, dict):
      return b'}' + self._items(x)
    if isinstance(x, list):
      return b']' + (b'(' + b''.join(self.obj(v) for v in x) + b'e'
                     if x else b'')
    if isinstance(x, tuple):
      return _tuple([self.obj(v) for v in x])
    raise TypeError(f'cannot write {type(x).__name__}')

  def _items(self, d) -> bytes:
    if not d:
      return b''
    return b'(' + b''.join(self.obj(k) + self.obj(v) for k, v in d.items()
                           ) + b'u'

  def tensor(self, x) -> bytes:
    if isinstance(x, Transposed):
      base = np.ascontiguousarray(x.array.T)
      size, stride = x.array.shape, tuple(
          s // base.itemsize for s in base.strides)[::-1]
    else:
      base = np.ascontiguousarray(x)
      size = base.shape
      stride = tuple(s // base.itemsize for s in base.strides) if (
          base.size) else (1,) * base.ndim
    key = str(len(self.storages))
    self.storages.append((key, base.reshape(-1)))
    storage = _tuple([_uni('storage'), _glob('torch', _STORAGE[base.dtype.str]
                                            ), _uni(key), _uni('cpu'),
                      _int(base.size)]) + b'Q'
    args = _tuple([storage, _int(0), self.obj(tuple(int(s) for s in size)),
                   self.obj(tuple(int(s) for s in stride)), b'\x89',
                   _glob('collections', 'OrderedDict') + b')R'])
    return _glob('torch._utils', '_rebuild_tensor_v2') + args + b'R'


def dumps(obj) -> tuple[bytes, list[tuple[str, np.ndarray]]]:
  """(the object's pickle, its storages in key order)."""
  w = _Writer()
  body = b'\x80\x02' + w.obj(obj) + b'.'
  return body, w.storages


def save_zip(obj, path: str, *, name: str = 'archive') -> None:
  """The zip format of torch >= 1.6 (entries stored, not compressed)."""
  body, storages = dumps(obj)
  with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
    z.writestr(f'{name}/data.pkl', body)
    z.writestr(f'{name}/byteorder', 'little')
    for key, arr in storages:
      z.writestr(f'{name}/data/{key}', arr.astype(arr.dtype.newbyteorder(
          '<')).tobytes())
    z.writestr(f'{name}/version', '3\n')


def save_legacy(obj, path: str) -> None:
  """The legacy format of torch < 1.6."""
  body, storages = dumps(obj)
  out = io.BytesIO()
  for head in (tc.LEGACY_MAGIC, tc.LEGACY_PROTOCOL,
               {'protocol_version': tc.LEGACY_PROTOCOL, 'little_endian': True,
                'type_sizes': {'short': 2, 'int': 4, 'long': 4}}):
    pickle.dump(head, out, protocol=2)
  out.write(body)
  pickle.dump([k for k, _ in storages], out, protocol=2)
  for _, arr in storages:
    out.write(struct.pack('<q', arr.size))
    out.write(arr.tobytes())
  with open(path, 'wb') as f:
    f.write(out.getvalue())


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
