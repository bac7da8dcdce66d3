# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""TensorFlow checkpoints (TensorBundle V2) read and written without TensorFlow.

A checkpoint `PREFIX` is two kinds of files:

* `PREFIX.index`: an SSTable (TensorFlow's copy of the LevelDB table format,
  without filter blocks). Data blocks hold prefix-compressed keys with a
  restart array; an index block maps separator keys to block handles (two
  varint64: offset, size); every block carries a 5-byte trailer (compression
  type, masked CRC-32C of contents + type); a 48-byte footer holds the
  metaindex and index handles, zero padding and the magic 0xdb4775248b80fb57.
  The key "" holds a `BundleHeaderProto` (num_shards, endianness, version);
  every other key is a tensor name whose value is a `BundleEntryProto`
  (dtype, shape, shard_id, offset, size, masked crc32c of the bytes, slices).
* `PREFIX.data-SSSSS-of-NNNNN`: the tensors' raw little-endian bytes; string
  tensors are varint64 lengths, a masked CRC of the lengths, then the bytes.

The writer reproduces TensorFlow's `BundleWriter` + `TableBuilder` byte for
byte (no compression, 256 KiB blocks, restart interval 16 in data blocks and 1
in the index block, shortest separators), so TensorFlow reads what it writes.
The reader also accepts Snappy-compressed blocks (old TensorFlow versions
wrote them), big-endian bundles and multi-shard bundles; partitioned
(sliced) variables are reported, not assembled.
"""

import os
import struct

import ml_dtypes
import numpy as np

from mlperf_jax.formats import crc32c
from mlperf_jax.formats import protowire as pw
from mlperf_jax.formats import snappy

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two handles padded to 2 * 20 bytes, then the magic
_BLOCK_TRAILER = 5
_BLOCK_SIZE = 262144
_RESTART_INTERVAL = 16
_HEADER_KEY = b''
_STRING = 7

# tensorflow/core/framework/types.proto DataType -> numpy dtype.
_DTYPES = {
    1: np.dtype(np.float32), 2: np.dtype(np.float64), 3: np.dtype(np.int32),
    4: np.dtype(np.uint8), 5: np.dtype(np.int16), 6: np.dtype(np.int8),
    _STRING: np.dtype(object), 8: np.dtype(np.complex64),
    9: np.dtype(np.int64), 10: np.dtype(np.bool_),
    14: np.dtype(ml_dtypes.bfloat16), 17: np.dtype(np.uint16),
    18: np.dtype(np.complex128), 19: np.dtype(np.float16),
    22: np.dtype(np.uint32), 23: np.dtype(np.uint64),
}
_DTYPE_NAMES = {20: 'DT_RESOURCE', 21: 'DT_VARIANT'}


class CheckpointError(ValueError):
  """A checkpoint file is missing, truncated, corrupted or unsupported."""


def data_filename(prefix: str, shard: int = 0, num_shards: int = 1) -> str:
  return f'{prefix}.data-{shard:05d}-of-{num_shards:05d}'


def index_filename(prefix: str) -> str:
  return f'{prefix}.index'


# ----------------------------------------------------------------- the table


def _read_block(file: bytes, handle: tuple[int, int], path: str,
                what: str) -> bytes:
  offset, size = handle
  end = offset + size + _BLOCK_TRAILER
  if end > len(file) - FOOTER_SIZE:
    raise CheckpointError(
        f'{path}: truncated or corrupt: the {what} block [{offset}, {end}) '
        f'runs past the data region ({len(file) - FOOTER_SIZE} bytes); '
        're-copy or re-save the checkpoint.')
  contents = file[offset:offset + size + 1]
  stored = int.from_bytes(file[end - 4:end], 'little')
  if crc32c.unmask(stored) != crc32c.value(contents):
    raise CheckpointError(
        f'{path}: corrupt: checksum mismatch in the {what} block at offset '
        f'{offset}; re-copy or re-save the checkpoint.')
  kind = contents[-1]
  if kind == 0:
    return contents[:-1]
  if kind == 1:
    try:
      return snappy.decompress(contents[:-1])
    except ValueError as e:
      raise CheckpointError(f'{path}: corrupt {what} block ({e})') from None
  raise CheckpointError(f'{path}: {what} block has unknown compression {kind}')


def _parse_block(block: bytes, path: str, what: str) -> list[tuple[bytes,
                                                                 bytes]]:
  """Entries of one block, undoing prefix compression; checks restarts."""
  bad = f'{path}: corrupt {what} block'
  if len(block) < 4:
    raise CheckpointError(f'{bad}: {len(block)} bytes')
  num_restarts = int.from_bytes(block[-4:], 'little')
  limit = len(block) - 4 - 4 * num_restarts
  if num_restarts == 0 or limit < 0:
    raise CheckpointError(f'{bad}: restart count {num_restarts}')
  restarts = np.frombuffer(block, '<u4', num_restarts, limit).tolist()
  entries, starts_with_full_key = [], set()
  pos, key = 0, b''
  try:
    while pos < limit:
      start = pos
      shared, pos = pw.decode_varint(block, pos)
      unshared, pos = pw.decode_varint(block, pos)
      value_len, pos = pw.decode_varint(block, pos)
      if shared > len(key) or pos + unshared + value_len > limit:
        raise CheckpointError(f'{bad}: entry at byte {start} is inconsistent')
      if shared == 0:
        starts_with_full_key.add(start)
      key = key[:shared] + block[pos:pos + unshared]
      pos += unshared
      entries.append((key, block[pos:pos + value_len]))
      pos += value_len
  except pw.WireError as e:
    raise CheckpointError(f'{bad}: {e}') from None
  if entries and not set(restarts) <= starts_with_full_key:
    raise CheckpointError(f'{bad}: restart points {restarts} do not all '
                          'point at entries that store their full key')
  return entries


def _read_table(path: str) -> list[tuple[bytes, bytes]]:
  """All (key, value) pairs of an SSTable file, in key order."""
  if not os.path.exists(path):
    raise CheckpointError(
        f'{path}: no such file; a TF checkpoint PREFIX needs PREFIX.index and '
        'PREFIX.data-00000-of-00001 (pass the prefix, e.g. '
        '"model.ckpt-28252", not a file name).')
  with open(path, 'rb') as f:
    file = f.read()
  if len(file) < FOOTER_SIZE:
    raise CheckpointError(
        f'{path}: truncated: {len(file)} bytes, shorter than the '
        f'{FOOTER_SIZE}-byte table footer.')
  footer = file[-FOOTER_SIZE:]
  if int.from_bytes(footer[-8:], 'little') != TABLE_MAGIC:
    raise CheckpointError(
        f'{path}: not a TensorFlow checkpoint index (bad table magic number); '
        'the file is truncated, corrupt or of another format.')
  try:
    meta_off, pos = pw.decode_varint(footer, 0)
    meta_size, pos = pw.decode_varint(footer, pos)
    index_off, pos = pw.decode_varint(footer, pos)
    index_size, pos = pw.decode_varint(footer, pos)
  except pw.WireError as e:
    raise CheckpointError(f'{path}: corrupt table footer ({e})') from None
  del meta_off, meta_size  # TensorFlow writes an empty metaindex block.
  index = _parse_block(
      _read_block(file, (index_off, index_size), path, 'index'), path, 'index')
  entries: list[tuple[bytes, bytes]] = []
  for i, (_, handle) in enumerate(index):
    try:
      offset, p = pw.decode_varint(handle, 0)
      size, _ = pw.decode_varint(handle, p)
    except pw.WireError as e:
      raise CheckpointError(f'{path}: corrupt block handle ({e})') from None
    block = _read_block(file, (offset, size), path, f'data #{i}')
    entries.extend(_parse_block(block, path, f'data #{i}'))
  keys = [k for k, _ in entries]
  if any(a >= b for a, b in zip(keys, keys[1:])):
    raise CheckpointError(f'{path}: corrupt: keys are not in sorted order')
  return entries


class _BlockBuilder:
  """A table block with prefix-compressed keys and a restart array."""

  def __init__(self, restart_interval: int):
    self.interval = restart_interval
    self.reset()

  def reset(self):
    self.buf, self.restarts = bytearray(), [0]
    self.counter, self.last_key = 0, b''

  def empty(self) -> bool:
    return not self.buf

  def size_estimate(self) -> int:
    return len(self.buf) + 4 * len(self.restarts) + 4

  def add(self, key: bytes, value: bytes):
    shared = 0
    if self.counter < self.interval:
      n = min(len(key), len(self.last_key))
      while shared < n and key[shared] == self.last_key[shared]:
        shared += 1
    else:
      self.restarts.append(len(self.buf))
      self.counter = 0
    self.buf += (pw.encode_varint(shared) + pw.encode_varint(len(key) - shared)
                 + pw.encode_varint(len(value)) + key[shared:] + value)
    self.last_key = key
    self.counter += 1

  def finish(self) -> bytes:
    return bytes(self.buf) + b''.join(
        struct.pack('<I', r) for r in self.restarts) + struct.pack(
            '<I', len(self.restarts))


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
  n = min(len(start), len(limit))
  i = 0
  while i < n and start[i] == limit[i]:
    i += 1
  if i < n and start[i] < 0xFF and start[i] + 1 < limit[i]:
    return start[:i] + bytes([start[i] + 1])
  return start


def _short_successor(key: bytes) -> bytes:
  for i, b in enumerate(key):
    if b != 0xFF:
      return key[:i] + bytes([b + 1])
  return key


def _build_table(entries: list[tuple[bytes, bytes]]) -> bytes:
  """An uncompressed SSTable holding sorted `entries`, as TF's TableBuilder."""
  out = bytearray()
  data = _BlockBuilder(_RESTART_INTERVAL)
  index = _BlockBuilder(1)
  pending = None  # handle of the last flushed data block, not yet indexed
  last_key = b''

  def write_block(block: _BlockBuilder) -> bytes:
    contents = block.finish() + b'\x00'
    handle = (pw.encode_varint(len(out)) +
              pw.encode_varint(len(contents) - 1))
    out.extend(contents + struct.pack('<I', crc32c.masked_value(contents)))
    block.reset()
    return handle

  for n, (key, value) in enumerate(entries):
    if n and len(key) + len(value) >= 2 * _BLOCK_SIZE and not data.empty():
      pending = write_block(data)
    if pending is not None:
      index.add(_shortest_separator(last_key, key), pending)
      pending = None
    last_key = key
    data.add(key, value)
    if data.size_estimate() >= _BLOCK_SIZE:
      pending = write_block(data)
  if not data.empty():
    pending = write_block(data)
  meta_handle = write_block(_BlockBuilder(_RESTART_INTERVAL))
  if pending is not None:
    index.add(_short_successor(last_key), pending)
  index_handle = write_block(index)
  footer = (meta_handle + index_handle).ljust(FOOTER_SIZE - 8, b'\x00')
  out.extend(footer + struct.pack('<Q', TABLE_MAGIC))
  return bytes(out)


# ------------------------------------------------------------- the messages


def _decode_shape(buf) -> tuple[int, ...] | None:
  dims, unknown_rank = [], False
  for field, _, value in pw.iter_fields(buf):
    if field == 2:
      size = 0
      for f, _, v in pw.iter_fields(value):
        if f == 1:
          size = pw.to_int64(v)
      dims.append(size)
    elif field == 3:
      unknown_rank = bool(value)
  return None if unknown_rank else tuple(dims)


def _decode_entry(buf) -> dict:
  entry = dict(dtype=0, shape=(), shard_id=0, offset=0, size=0, crc32c=None,
               num_slices=0)
  for field, _, value in pw.iter_fields(buf):
    if field == 1:
      entry['dtype'] = value
    elif field == 2:
      entry['shape'] = _decode_shape(value)
    elif field in (3, 4, 5):
      entry[{3: 'shard_id', 4: 'offset', 5: 'size'}[field]] = pw.to_int64(value)
    elif field == 6:
      entry['crc32c'] = value
    elif field == 7:
      entry['num_slices'] += 1
  return entry


def _encode_entry(dtype: int, shape: tuple[int, ...], offset: int, size: int,
                  crc: int) -> bytes:
  dims = b''.join(
      pw.bytes_field(2, pw.varint_field(1, d) if d else b'') for d in shape)
  out = pw.varint_field(1, dtype) + pw.bytes_field(2, dims)
  if offset:
    out += pw.varint_field(4, offset)
  if size:
    out += pw.varint_field(5, size)
  return out + pw.fixed32_field(6, crc32c.mask(crc))


def _decode_header(buf) -> dict:
  header = dict(num_shards=0, endianness=0, producer=0, min_consumer=0,
                bad_consumers=[])
  for field, _, value in pw.iter_fields(buf):
    if field == 1:
      header['num_shards'] = value
    elif field == 2:
      header['endianness'] = value
    elif field == 3:
      for f, wt, v in pw.iter_fields(value):
        if f == 1:
          header['producer'] = v
        elif f == 2:
          header['min_consumer'] = v
        elif f == 3 and wt == pw.VARINT:
          header['bad_consumers'].append(v)
        elif f == 3:
          header['bad_consumers'].extend(pw.decode_packed_varints(v).tolist())
  return header


# ------------------------------------------------------------- the bundle


def _read_index(prefix: str) -> tuple[dict, dict[str, dict]]:
  path = index_filename(prefix)
  entries = _read_table(path)
  if not entries or entries[0][0] != _HEADER_KEY:
    raise CheckpointError(f'{path}: corrupt: no header entry (key "")')
  try:
    header = _decode_header(entries[0][1])
    tensors = {}
    for key, value in entries[1:]:
      tensors[key.decode('utf-8')] = _decode_entry(value)
  except pw.WireError as e:
    raise CheckpointError(f'{path}: corrupt entry ({e})') from None
  if header['min_consumer'] > 1 or 1 in header['bad_consumers']:
    raise CheckpointError(
        f'{path}: written by a newer TensorBundle version (min_consumer '
        f'{header["min_consumer"]}); this reader implements version 1.')
  return header, tensors


def _numpy_dtype(entry: dict, name: str, prefix: str) -> np.dtype:
  code = entry['dtype']
  if code not in _DTYPES:
    what = _DTYPE_NAMES.get(code, f'DataType {code}')
    raise CheckpointError(
        f'{prefix}: tensor {name!r} has unsupported dtype {what}.')
  return _DTYPES[code]


def list_tf_checkpoint(prefix: str) -> dict[str, tuple[tuple[int, ...],
                                                       np.dtype]]:
  """Names, shapes and dtypes of the tensors in a checkpoint, without data.

  Args:
    prefix: checkpoint prefix (`PREFIX.index` must exist).

  Returns:
    `{name: (shape, numpy dtype)}` in the checkpoint's (sorted) key order;
    string tensors have dtype object.

  Raises:
    CheckpointError: the index is missing, truncated, corrupt or holds a dtype
      with no numpy equivalent.
  """
  _, tensors = _read_index(prefix)
  return {name: (e['shape'], _numpy_dtype(e, name, prefix))
          for name, e in tensors.items()}


def _length_bytes(n: int) -> bytes:
  # String lengths are checksummed as uint32 when they fit (older bundles
  # stored them so), else as uint64; the file itself holds varints.
  return struct.pack('<I', n) if n <= 0xFFFFFFFF else struct.pack('<Q', n)


def _read_string_tensor(raw: bytes, count: int, where: str) -> tuple[np.ndarray,
                                                                    int]:
  lengths, pos, crc = [], 0, 0
  try:
    for _ in range(count):
      n, pos = pw.decode_varint(raw, pos)
      lengths.append(n)
      crc = crc32c.extend(crc, _length_bytes(n))
  except pw.WireError:
    raise CheckpointError(f'{where}: truncated string lengths') from None
  stored = raw[pos:pos + 4]
  if len(stored) < 4 or crc32c.unmask(int.from_bytes(stored, 'little')) != crc:
    raise CheckpointError(f'{where}: corrupt: string-length checksum mismatch')
  crc = crc32c.extend(crc, stored)
  pos += 4
  out = np.empty(count, object)
  for i, n in enumerate(lengths):
    out[i] = raw[pos:pos + n]
    pos += n
  if pos != len(raw):
    raise CheckpointError(f'{where}: string bytes do not fill the entry')
  return out, crc32c.extend(crc, raw[pos - sum(lengths):pos])


def read_tf_checkpoint(prefix: str,
                       names: list[str] | None = None
                       ) -> dict[str, np.ndarray]:
  """Reads the tensors of a TensorFlow (TensorBundle V2) checkpoint.

  Every tensor's bytes are checked against the CRC-32C in its index entry.

  Args:
    prefix: checkpoint prefix, e.g. 'bert/model.ckpt-28252' for the files
      'model.ckpt-28252.index' and 'model.ckpt-28252.data-00000-of-00001'.
    names: tensors to read (default: all).

  Returns:
    `{name: array}` with TensorFlow's dtypes (bfloat16 as `ml_dtypes.bfloat16`,
    strings as object arrays of bytes) in native byte order.

  Raises:
    CheckpointError: a file is missing, truncated or corrupt, a requested name
      is absent, or a tensor is partitioned (sliced) or of unsupported dtype.
  """
  header, tensors = _read_index(prefix)
  if names is None:
    names = list(tensors)
  missing = [n for n in names if n not in tensors]
  if missing:
    raise CheckpointError(
        f'{index_filename(prefix)}: no tensor named {missing[:5]} '
        f'({len(missing)} missing); it has {len(tensors)} tensors, e.g. '
        f'{list(tensors)[:5]} (see list_tf_checkpoint).')
  num_shards = max(1, header['num_shards'])
  big_endian = header['endianness'] == 1
  files: dict[int, object] = {}
  out = {}
  try:
    for name in names:
      e = tensors[name]
      dtype = _numpy_dtype(e, name, prefix)
      if e['num_slices']:
        raise CheckpointError(
            f'{prefix}: tensor {name!r} is saved as {e["num_slices"]} slices '
            '(a partitioned variable); re-save it unpartitioned.')
      if e['shape'] is None:
        raise CheckpointError(f'{prefix}: tensor {name!r} has unknown rank')
      shard = e['shard_id']
      path = data_filename(prefix, shard, num_shards)
      if shard not in files:
        if not os.path.exists(path):
          raise CheckpointError(
              f'{path}: no such file (data shard {shard} of {num_shards} of '
              f'checkpoint {prefix!r}).')
        files[shard] = open(path, 'rb')  # pylint: disable=consider-using-with
      f = files[shard]
      count = int(np.prod(e['shape'], dtype=np.int64))
      if dtype != object and e['size'] != count * dtype.itemsize:
        raise CheckpointError(
            f'{path}: corrupt entry for {name!r}: size {e["size"]} bytes does '
            f'not match shape {e["shape"]} of {dtype}.')
      f.seek(e['offset'])
      raw = f.read(e['size'])
      if len(raw) != e['size']:
        raise CheckpointError(
            f'{path}: truncated: tensor {name!r} needs bytes [{e["offset"]}, '
            f'{e["offset"] + e["size"]}) but the file ends at '
            f'{os.path.getsize(path)}.')
      where = f'{path}: tensor {name!r}'
      if dtype == object:
        array, crc = _read_string_tensor(raw, count, where)
        array = array.reshape(e['shape'])
      else:
        crc = crc32c.value(raw)
        order = dtype.newbyteorder('>') if big_endian else dtype
        array = np.frombuffer(raw, order).reshape(e['shape']).astype(dtype)
      if e['crc32c'] is not None and crc32c.mask(crc) != e['crc32c']:
        raise CheckpointError(
            f'{where}: corrupt: CRC-32C mismatch (the data file does not '
            'hold the bytes the index recorded); re-copy the checkpoint.')
      out[name] = array
  finally:
    for f in files.values():
      f.close()
  return out


def _string_tensor_bytes(array: np.ndarray) -> tuple[bytes, int]:
  items = [x.encode('utf-8') if isinstance(x, str) else bytes(x)
           for x in array.reshape(-1)]
  crc = 0
  for s in items:
    n = len(s)
    crc = crc32c.extend(crc, _length_bytes(n))
  length_crc = struct.pack('<I', crc32c.mask(crc))
  crc = crc32c.extend(crc, length_crc)
  body = b''.join(items)
  crc = crc32c.extend(crc, body)
  raw = b''.join(pw.encode_varint(len(s)) for s in items) + length_crc + body
  return raw, crc


def write_tf_checkpoint(prefix: str, tensors: dict[str, np.ndarray]) -> None:
  """Writes `tensors` as a single-shard TensorFlow checkpoint.

  The files are what TensorFlow's `BundleWriter` writes for the same tensors
  added in sorted-name order (byte-identical). Files are written to temporary
  names and renamed, so a crash never leaves a half-written checkpoint.

  Args:
    prefix: checkpoint prefix; its directory is created if needed.
    tensors: `{name: array-like}`; names are non-empty strings, sorted by
      their UTF-8 bytes in the index as TensorFlow requires. Supported dtypes:
      float16/32/64, bfloat16, (u)int8/16/32/64, bool, complex64/128, and
      bytes/str (object arrays) as DT_STRING.

  Raises:
    ValueError: an empty name or an unsupported dtype.
  """
  codes = {dtype: code for code, dtype in _DTYPES.items()}
  encoded = []
  for name, value in tensors.items():
    if not isinstance(name, str) or not name:
      raise ValueError(f'tensor names must be non-empty strings, got {name!r}')
    array = np.asarray(value)
    if array.dtype.kind in 'SU':
      array = array.astype(object)
    if array.dtype not in codes:
      raise ValueError(
          f'tensor {name!r}: dtype {array.dtype} has no TensorFlow '
          f'equivalent here; supported: {sorted(str(d) for d in codes)}')
    encoded.append((name.encode('utf-8'), array))
  encoded.sort(key=lambda kv: kv[0])
  os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
  data_path = data_filename(prefix)
  entries = [(_HEADER_KEY,
              pw.varint_field(1, 1) +
              pw.bytes_field(3, pw.varint_field(1, 1)))]
  offset = 0
  with open(data_path + '.tmp', 'wb') as f:
    for key, array in encoded:
      code = codes[array.dtype]
      if code == _STRING:
        raw, crc = _string_tensor_bytes(array)
        f.write(raw)
      else:
        raw = np.ascontiguousarray(array, array.dtype.newbyteorder('<'))
        crc = crc32c.value(raw)
        f.write(raw.tobytes())
        raw = raw.reshape(-1).view(np.uint8)
      entries.append((key, _encode_entry(code, array.shape, offset, len(raw),
                                         crc)))
      offset += len(raw)
  with open(index_filename(prefix) + '.tmp', 'wb') as f:
    f.write(_build_table(entries))
  os.replace(data_path + '.tmp', data_path)
  os.replace(index_filename(prefix) + '.tmp', index_filename(prefix))
