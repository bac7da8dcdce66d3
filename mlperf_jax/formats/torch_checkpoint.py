# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""PyTorch checkpoints (`torch.save` files) read without PyTorch.

Two on-disk formats exist (torch/serialization.py):

* the zip format (the default since torch 1.6): an uncompressed zip whose
  entries sit under one folder `NAME/`: `NAME/data.pkl` (the pickled object),
  `NAME/data/<key>` (the raw bytes of each storage), `NAME/byteorder`
  ('little' or 'big'; absent means little) and `NAME/version`;
* the legacy format (torch < 1.6, and `_use_new_zipfile_serialization=
  False`): five pickles back to back -- the magic number
  0x1950a86a20f9469cfc6c, the protocol version 1001, a dict of system
  facts (`little_endian`), the object, the sorted list of storage keys --
  then, for each key in that order, the storage's element count as a
  little-endian int64 followed by its raw bytes.

In both, a tensor is pickled as a call of `torch._utils._rebuild_tensor_v2`
(storage, storage offset, size, stride, requires_grad, backward hooks[,
metadata]) and a storage as a persistent id `('storage', <torch.XStorage>,
key, location, numel[, view metadata])`. The reader unpickles with
`pickle.Unpickler` overriding `find_class` (a fixed table of the torch
names it understands; `collections.OrderedDict`; every other global becomes
an inert `Opaque` record, so nothing from the file is imported or run) and
`persistent_load`, then turns each tensor into a NumPy array (a copy of
its strided view). The legacy header pickles are read by an unpickler that
accepts no global at all.

The object may be a state dict, a training checkpoint holding one under
`state_dict` (with an optimizer and such as `Opaque` records), or a whole
pickled `nn.Module` (MLPerf Inference's SSD-ResNet-34 `.pytorch` file is
one): a module arrives as an `Opaque` whose `state` is its `__dict__`
(protocol 2 pickles it as NEWOBJ of its class, then BUILD), and
`state_dict` walks it as `Module.state_dict()` does (`_parameters`, then
`_buffers`, then `_modules` recursively, dotted names, `None` entries
skipped). A writer of both formats, for tests, is
`tests/support/torch_checkpoint_writer.py`.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from typing import Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch storage class name -> NumPy dtype (little-endian).
STORAGE_DTYPES = {
    'DoubleStorage': '<f8', 'FloatStorage': '<f4', 'HalfStorage': '<f2',
    'LongStorage': '<i8', 'IntStorage': '<i4', 'ShortStorage': '<i2',
    'CharStorage': 'i1', 'ByteStorage': 'u1', 'BoolStorage': '?',
    'BFloat16Storage': 'bfloat16',
}


class TorchCheckpointError(ValueError):
  """A file that is not a readable `torch.save` checkpoint."""


class Opaque:
  """A global the reader does not interpret (e.g. an optimizer class in a
  checkpoint): its name and whatever the pickle passed, never executed.
  `find_class` makes one subclass per name (`name`)."""
  name = ''

  def __new__(cls, *args, **kwargs):
    obj = super().__new__(cls)
    obj.args, obj.kwargs, obj.state = args, kwargs, None
    return obj

  def __init__(self, *args, **kwargs):
    del args, kwargs

  def __setstate__(self, state):
    self.state = state

  def __repr__(self):
    return f'Opaque({self.name})'


class _StorageType:
  def __init__(self, name: str):
    self.name = name
    self.dtype = _dtype(STORAGE_DTYPES[name])


class _Storage:
  """A storage whose bytes arrive later (legacy) or now (zip)."""

  def __init__(self, dtype: np.dtype, key: str, numel: int):
    self.dtype, self.key, self.numel = dtype, key, numel
    self.data: np.ndarray | None = None
    self.view: tuple[_Storage, int, int] | None = None  # (root, offset, n)

  def array(self) -> np.ndarray:
    if self.view is not None:
      root, offset, n = self.view
      return root.array()[offset:offset + n]
    if self.data is None:
      raise TorchCheckpointError(f'storage {self.key!r} has no data in the '
                                 'file (truncated checkpoint?)')
    return self.data


class _Tensor:
  def __init__(self, storage, offset, size, stride):
    self.storage, self.offset = storage, int(offset)
    self.size, self.stride = tuple(int(s) for s in size), tuple(
        int(s) for s in stride)

  def to_numpy(self) -> np.ndarray:
    base = self.storage.array()
    if any(s == 0 for s in self.size):
      return np.zeros(self.size, base.dtype)
    last = self.offset + sum((n - 1) * s for n, s in zip(self.size,
                                                         self.stride))
    if self.offset < 0 or last >= len(base) or min(self.stride, default=0) < 0:
      raise TorchCheckpointError(
          f'a tensor of size {self.size} (stride {self.stride}, offset '
          f'{self.offset}) lies outside its storage of {len(base)} elements')
    item = base.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        base[self.offset:], shape=self.size,
        strides=tuple(s * item for s in self.stride), writeable=False)
    return np.array(view)


def _dtype(spec: str) -> np.dtype:
  if spec == 'bfloat16':
    import ml_dtypes  # pylint: disable=import-outside-toplevel
    return np.dtype(ml_dtypes.bfloat16)
  return np.dtype(spec)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused):
  del unused  # requires_grad, backward hooks, metadata
  return _Tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *unused):
  del unused
  return data


# (module, name) -> what the reader builds for it.
_GLOBALS = {
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch', 'Size'): tuple,
}


class _Unpickler(pickle.Unpickler):

  def __init__(self, f, storages: dict[str, _Storage], byteorder: str):
    super().__init__(f)
    self.storages, self.byteorder = storages, byteorder

  def find_class(self, module, name):
    if (module, name) in _GLOBALS:
      return _GLOBALS[(module, name)]
    if module == 'torch' and name in STORAGE_DTYPES:
      return _StorageType(name)
    return type('Opaque', (Opaque,), {'name': f'{module}.{name}'})

  def persistent_load(self, pid):
    if not isinstance(pid, tuple) or not pid or pid[0] != 'storage':
      raise TorchCheckpointError(f'unknown persistent id {pid!r}: not a '
                                 'torch storage')
    storage_type, key, _, numel = pid[1:5]
    if not isinstance(storage_type, _StorageType):
      raise TorchCheckpointError(f'storage {key!r} has the type '
                                 f'{storage_type!r}, not a torch storage type')
    dtype = storage_type.dtype.newbyteorder(
        '>' if self.byteorder == 'big' else '<') if (
            storage_type.dtype.itemsize > 1 and
            storage_type.name != 'BFloat16Storage') else storage_type.dtype
    key = str(key)
    root = self.storages.get(key)
    if root is None:
      root = self.storages[key] = _Storage(dtype, key, int(numel))
    view = pid[5] if len(pid) > 5 else None
    if view is None:
      return root
    view_key, offset, n = view  # legacy storage views
    out = _Storage(dtype, str(view_key), int(n))
    out.view = (root, int(offset), int(n))
    return out


class _HeaderUnpickler(pickle.Unpickler):
  """The legacy header pickles hold ints, a list and a dict: no global."""

  def find_class(self, module, name):
    raise TorchCheckpointError(f'the legacy header names {module}.{name}: '
                               'not a torch.save file (refused, not run)')


def _materialise(obj: Any, seen: set[int] | None = None) -> Any:
  seen = set() if seen is None else seen
  if isinstance(obj, _Tensor):
    return obj.to_numpy()
  if isinstance(obj, dict):
    out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
    for k, v in obj.items():
      out[k] = _materialise(v, seen)
    return out
  if isinstance(obj, list):
    return [_materialise(v, seen) for v in obj]
  if isinstance(obj, tuple):
    return tuple(_materialise(v, seen) for v in obj)
  if isinstance(obj, Opaque) and id(obj) not in seen:  # e.g. a module
    seen.add(id(obj))  # modules may be shared (one ReLU used twice)
    obj.args = _materialise(obj.args, seen)
    obj.state = _materialise(obj.state, seen)
  return obj


def _load_zip(path: str) -> Any:
  with zipfile.ZipFile(path) as z:
    names = z.namelist()
    pkl = [n for n in names if n.endswith('data.pkl') and n.count('/') == 1]
    if not pkl:
      raise TorchCheckpointError(f'{path} is a zip without NAME/data.pkl: not '
                                 'a torch.save checkpoint')
    prefix = pkl[0][:-len('data.pkl')]
    byteorder = 'little'
    if prefix + 'byteorder' in names:
      byteorder = z.read(prefix + 'byteorder').decode().strip()
    storages: dict[str, _Storage] = {}
    obj = _Unpickler(io.BytesIO(z.read(pkl[0])), storages, byteorder).load()
    for key, st in storages.items():
      name = f'{prefix}data/{key}'
      if name not in names:
        raise TorchCheckpointError(f'{path} lacks {name}, the bytes of a '
                                   'tensor (truncated checkpoint?)')
      raw = z.read(name)
      st.data = _frombuffer(raw, st, path)
  return obj


def _frombuffer(raw: bytes, st: _Storage, path: str) -> np.ndarray:
  need = st.numel * st.dtype.itemsize
  if len(raw) < need:
    raise TorchCheckpointError(f'{path}: storage {st.key!r} holds {len(raw)} '
                               f'bytes, {need} expected (truncated?)')
  return np.frombuffer(raw[:need], st.dtype)


def _load_legacy(path: str) -> Any:
  with open(path, 'rb') as f:
    try:
      magic = _HeaderUnpickler(f).load()
    except TorchCheckpointError:
      raise
    except Exception:  # pylint: disable=broad-except
      magic = None
    if magic != LEGACY_MAGIC:
      raise TorchCheckpointError(
          f'{path} is neither a torch zip checkpoint nor a legacy torch.save '
          'file (no magic number)')
    version = _HeaderUnpickler(f).load()
    if version != LEGACY_PROTOCOL:
      raise TorchCheckpointError(f'{path}: legacy protocol {version!r}, '
                                 f'only {LEGACY_PROTOCOL} is known')
    sys_info = _HeaderUnpickler(f).load()
    if not isinstance(sys_info, dict):
      raise TorchCheckpointError(f'{path}: damaged legacy header')
    byteorder = 'little' if sys_info.get('little_endian', True) else 'big'
    storages: dict[str, _Storage] = {}
    obj = _Unpickler(f, storages, byteorder).load()
    keys = _HeaderUnpickler(f).load()
    for key in keys:
      st = storages.get(str(key))
      head = f.read(8)
      if len(head) < 8:
        raise TorchCheckpointError(f'{path} ends before storage {key!r} '
                                   '(truncated checkpoint)')
      (numel,) = struct.unpack('<q' if byteorder == 'little' else '>q', head)
      itemsize = st.dtype.itemsize if st is not None else 1
      raw = f.read(numel * itemsize)
      if st is None:
        continue  # a storage no tensor refers to
      st.numel = numel
      st.data = _frombuffer(raw, st, path)
  return obj


def load(path: str) -> Any:
  """The object saved in the checkpoint `path`, with every tensor a NumPy
  array (dicts, OrderedDicts, lists and tuples kept; unknown globals as
  `Opaque`).

  Raises:
    TorchCheckpointError: not a torch checkpoint, truncated, or a tensor
      outside its storage.
    OSError: the file cannot be read.
  """
  if not os.path.isfile(path):
    raise TorchCheckpointError(f'{path} is not a file')
  try:
    obj = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
  except (pickle.UnpicklingError, EOFError, struct.error, zipfile.BadZipFile,
          ValueError, TypeError, KeyError, IndexError) as e:
    if isinstance(e, TorchCheckpointError):
      raise
    raise TorchCheckpointError(f'{path} cannot be read as a torch '
                               f'checkpoint: {type(e).__name__}: {e}') from None
  return _materialise(obj)


def _is_module(obj: Any) -> bool:
  return isinstance(obj, Opaque) and isinstance(obj.state, dict) and (
      '_parameters' in obj.state or '_modules' in obj.state)


def _module_tensors(module: Opaque, prefix: str,
                    out: dict[str, np.ndarray]) -> None:
  """`Module.state_dict()`'s names and order over a pickled module."""
  state = module.state
  for group in ('_parameters', '_buffers'):
    for name, t in (state.get(group) or {}).items():
      if isinstance(t, np.ndarray):
        out[prefix + name] = t
  for name, child in (state.get('_modules') or {}).items():
    if _is_module(child):
      _module_tensors(child, f'{prefix}{name}.', out)


def state_dict(path: str) -> dict[str, np.ndarray]:
  """{state-dict key: array} of a checkpoint: its `state_dict` entry when the
  saved object is a dict holding one (training checkpoints), a pickled
  module's tensors as `Module.state_dict()` names them, else the object
  itself; only array values are kept.

  Raises:
    TorchCheckpointError: unreadable (see `load`), or no tensors in it.
  """
  obj = load(path)
  if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
    obj = obj['state_dict']
  out: dict[str, np.ndarray] = {}
  if _is_module(obj):
    _module_tensors(obj, '', out)
  elif isinstance(obj, dict):
    out = {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
  if not out:
    raise TorchCheckpointError(
        f'{path} holds a {getattr(obj, "name", "") or type(obj).__name__} '
        'without tensors: not a state dict or a pickled module')
  return out
