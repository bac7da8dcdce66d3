# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""PyTorch `torch.save` files read without torch, as {state-dict key: array}.

Both containers `torch.save` has written (torch `serialization.py`):

* zip (torch >= 1.6, `_save`): a zip archive whose one top folder holds
  `data.pkl` (the pickled object), `data/<key>` (each storage's raw bytes)
  and `byteorder` ('little' or 'big'; absent means little);
* legacy (`_legacy_save`, e.g. 2019's `resnet34-ssd1200.pytorch` of MLPerf
  Inference): five pickles in a row (the magic number
  0x1950a86a20f9469cfc6c, protocol version 1001, a `sys_info` dict with
  `little_endian`, the object, the sorted list of storage keys), then per
  key an int64 element count and the storage's bytes.

In both the object pickle names storages by persistent id `('storage',
<torch.XStorage class>, key, location, numel[, view_metadata])` and builds
tensors with `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
...)`, parameters with `_rebuild_parameter(tensor, ...)`.

The object may be a state dict (a dict of tensors) or a whole pickled
`nn.Module` (MLPerf Inference's `torch.load(path)` files): modules are
rebuilt as inert stand-ins (no code of the file's classes is imported or
run) and walked as `Module.state_dict()` does (`_parameters`, then
`_buffers`, then `_modules` recursively, dotted names). Unpickling is
restricted: only the torch rebuild functions, storage types, `OrderedDict`,
`torch.Size` and classes of `torch.nn`, `torchvision.models` or the model's
own modules are accepted; any other global is an error naming it. A writer
of both containers, for tests, is `tests/support/torch_checkpoint_writer.py`.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile

import ml_dtypes
import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64,
    'HalfStorage': np.float16, 'BFloat16Storage': ml_dtypes.bfloat16,
    'LongStorage': np.int64, 'IntStorage': np.int32,
    'ShortStorage': np.int16, 'CharStorage': np.int8,
    'ByteStorage': np.uint8, 'BoolStorage': np.bool_,
}
# Modules whose classes may appear in a pickled model (rebuilt as inert
# stand-ins): torch's layers, torchvision's blocks, the MLPerf model files.
MODULE_PREFIXES = ('torch.nn.', 'torchvision.models.', 'models.', '__main__',
                   'ssd_r34', 'base_model_r34')


class CheckpointError(ValueError):
  """A file that is not a readable `torch.save` checkpoint (says why)."""


class _StorageType:
  def __init__(self, name: str):
    self.name = name
    self.dtype = np.dtype(STORAGE_DTYPES[name])


class _Storage:
  """A storage whose bytes may arrive after the pickle (legacy files)."""

  def __init__(self, dtype, numel: int):
    self.dtype = dtype
    self.numel = numel
    self.data: np.ndarray | None = None


class _Tensor:
  """A tensor rebuilt from its storage once the storage has its bytes."""

  def __init__(self, storage: _Storage, offset: int, size, stride):
    self.storage, self.offset = storage, int(offset)
    self.size, self.stride = tuple(size), tuple(stride)

  def array(self) -> np.ndarray:
    data = self.storage.data
    if data is None:
      raise CheckpointError('a tensor\'s storage has no data in the file')
    need = self.offset + sum((n - 1) * s for n, s in zip(self.size,
                                                         self.stride)) + 1
    if any(n == 0 for n in self.size):
      return np.zeros(self.size, data.dtype)
    if need > len(data):
      raise CheckpointError(f'a tensor of size {self.size} at offset '
                            f'{self.offset} overruns its storage of '
                            f'{len(data)} elements')
    item = data.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        data[self.offset:], shape=self.size,
        strides=[s * item for s in self.stride])
    return np.array(view)


class _Module:
  """Stand-in for a pickled `nn.Module` (or any allowed model class): its
  pickled `__dict__`, nothing else."""


def _rebuild_tensor_v2(storage, offset, size, stride, *unused):
  del unused
  return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, *unused):
  del unused
  return data


_FUNCTIONS = {
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch', 'Size'): tuple,
}


class _Unpickler(pickle.Unpickler):

  def __init__(self, file, load_storage):
    super().__init__(file, encoding='utf-8')
    self._load_storage = load_storage
    self._classes: dict[tuple[str, str], type] = {}

  def find_class(self, module, name):
    if (module, name) in _FUNCTIONS:
      return _FUNCTIONS[(module, name)]
    if module == 'torch' and name in STORAGE_DTYPES:
      return _StorageType(name)
    if module.startswith(MODULE_PREFIXES):
      key = (module, name)
      if key not in self._classes:
        self._classes[key] = type(name, (_Module,), {'_origin': key})
      return self._classes[key]
    raise pickle.UnpicklingError(
        f'the pickle names {module}.{name}, which a torch checkpoint of '
        'tensors and modules does not need (refused, not run)')

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == 'storage'
            and isinstance(pid[1], _StorageType)):
      raise pickle.UnpicklingError(f'unknown persistent id {pid!r:.80}')
    _, stype, key, _, numel, *view = pid
    storage = self._load_storage(str(key), stype.dtype, int(numel))
    if view and view[0] is not None:  # legacy (view key, offset, size)
      _, offset, size = view[0]
      return _View(storage, int(offset), int(size))
    return storage


class _View(_Storage):
  """A legacy storage view: elements offset..offset+numel of a root."""

  def __init__(self, root: _Storage, offset: int, numel: int):
    self.root, self.view_offset = root, offset
    super().__init__(root.dtype, numel)

  @property
  def data(self):
    if self.root.data is None:
      return None
    return self.root.data[self.view_offset:self.view_offset + self.numel]

  @data.setter
  def data(self, value):
    del value  # views read through to their root


def _read_zip(raw: bytes, path: str):
  with zipfile.ZipFile(io.BytesIO(raw)) as z:
    pkls = [n for n in z.namelist()
            if n == 'data.pkl' or n.endswith('/data.pkl')]
    if len(pkls) != 1:
      raise CheckpointError(f'{path} is a zip file without exactly one '
                            f'data.pkl (found {len(pkls)}): not a torch.save '
                            'archive')
    prefix = pkls[0][:-len('data.pkl')]
    names = set(z.namelist())
    order = (z.read(prefix + 'byteorder').decode().strip()
             if prefix + 'byteorder' in names else 'little')
    storages: dict[str, _Storage] = {}

    def load_storage(key, dtype, numel):
      if key not in storages:
        name = f'{prefix}data/{key}'
        if name not in names:
          raise CheckpointError(f'{path}: storage {name} is missing')
        st = _Storage(dtype, numel)
        st.data = np.frombuffer(z.read(name), dtype.newbyteorder(
            '<' if order == 'little' else '>'))[:numel].astype(dtype)
        storages[key] = st
      return storages[key]
    return _Unpickler(io.BytesIO(z.read(pkls[0])), load_storage).load()


def _read_legacy(raw: bytes, path: str):
  f = io.BytesIO(raw)
  try:
    magic = pickle.load(f)
  except Exception as e:  # pylint: disable=broad-except
    raise CheckpointError(f'{path} is neither a zip nor a legacy torch.save '
                          f'file: {e}') from None
  if magic != LEGACY_MAGIC:
    raise CheckpointError(f'{path} is not a torch.save file (no zip archive, '
                          'no legacy magic number)')
  version = pickle.load(f)
  if version != LEGACY_PROTOCOL:
    raise CheckpointError(f'{path}: legacy torch protocol {version}, '
                          f'expected {LEGACY_PROTOCOL}')
  info = pickle.load(f)
  endian = '<' if info.get('little_endian', True) else '>'
  storages: dict[str, _Storage] = {}

  def load_storage(key, dtype, numel):
    if key not in storages:
      storages[key] = _Storage(dtype, numel)
    return storages[key]
  obj = _Unpickler(f, load_storage).load()
  keys = pickle.load(f)
  for key in keys:
    st = storages.get(str(key))
    (numel,) = struct.unpack(endian + 'q', f.read(8))
    if st is None:
      raise CheckpointError(f'{path}: storage {key} has data but no tensor')
    nbytes = numel * st.dtype.itemsize
    buf = f.read(nbytes)
    if len(buf) != nbytes:
      raise CheckpointError(f'{path} is truncated in storage {key}')
    st.data = np.frombuffer(buf, st.dtype.newbyteorder(endian)).astype(
        st.dtype)
  return obj


def _state_dict(obj, prefix: str, out: dict[str, _Tensor]) -> None:
  """`Module.state_dict()` order and names over the stand-ins."""
  state = vars(obj)
  for group in ('_parameters', '_buffers'):
    for name, t in (state.get(group) or {}).items():
      if t is not None:
        out[prefix + name] = t
  for name, child in (state.get('_modules') or {}).items():
    if child is not None:
      _state_dict(child, f'{prefix}{name}.', out)


def load_state_dict(path: str) -> dict[str, np.ndarray]:
  """{state-dict key: numpy array} of a `torch.save` file (a state dict or a
  pickled module, zip or legacy container).

  Raises:
    CheckpointError: the file cannot be read, is not a torch checkpoint,
      names a global outside the allowed set, or holds no tensors.
  """
  try:
    with open(path, 'rb') as f:
      raw = f.read()
  except OSError as e:
    raise CheckpointError(f'cannot read {path}: {e.strerror or e}') from None
  try:
    obj = (_read_zip(raw, path) if zipfile.is_zipfile(io.BytesIO(raw))
           else _read_legacy(raw, path))
  except (pickle.UnpicklingError, EOFError, struct.error, KeyError,
          TypeError, AttributeError, zipfile.BadZipFile) as e:
    raise CheckpointError(f'{path} is not a readable torch checkpoint: '
                          f'{e}') from None
  tensors: dict[str, _Tensor] = {}
  if isinstance(obj, _Module):
    _state_dict(obj, '', tensors)
  elif isinstance(obj, dict):
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, _Tensor)}
  if not tensors:
    raise CheckpointError(f'{path} holds a {type(obj).__name__} without '
                          'tensors, not a state dict or a pickled module')
  return {k: t.array() for k, t in tensors.items()}
