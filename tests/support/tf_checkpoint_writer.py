# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""A TensorFlow (TensorBundle V2) checkpoint writer, for tests.

It reproduces TensorFlow's `BundleWriter` + `TableBuilder` byte for byte (no
compression, 256 KiB blocks, restart interval 16 in data blocks and 1 in the
index block, shortest separators), so TensorFlow reads what it writes and
tests can build checkpoints for `mlperf_jax.formats.tf_checkpoint` to read.
The project itself only reads checkpoints; this lives with the tests.

  from support import tf_checkpoint_writer
  tf_checkpoint_writer.write_tf_checkpoint(prefix, {'name': array})
"""

import os
import struct

import cramjam
import numpy as np

from mlperf_jax.formats import crc32c
from mlperf_jax.formats import tf_checkpoint as tfc
from support import wire as pw

_BLOCK_SIZE = 262144
_RESTART_INTERVAL = 16


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


def build_table(entries: list[tuple[bytes, bytes]], *,
                compress: bool = False) -> bytes:
  """An SSTable holding sorted `entries`, as TF's TableBuilder writes it.

  Args:
    entries: (key, value) pairs in key order.
    compress: Snappy-compress every block (compression type 1), as
      TensorFlow up to 1.1 did; the default writes them uncompressed, as
      current TensorFlow does.
  """
  out = bytearray()
  data = _BlockBuilder(_RESTART_INTERVAL)
  index = _BlockBuilder(1)
  pending = None  # handle of the last flushed data block, not yet indexed
  last_key = b''

  def write_block(block: _BlockBuilder) -> bytes:
    if compress:
      contents = bytes(cramjam.snappy.compress_raw(block.finish())) + b'\x01'
    else:
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
  footer = (meta_handle + index_handle).ljust(tfc.FOOTER_SIZE - 8, b'\x00')
  out.extend(footer + struct.pack('<Q', tfc.TABLE_MAGIC))
  return bytes(out)


def encode_entry(dtype: int, shape: tuple[int, ...], offset: int, size: int,
                 crc: int) -> bytes:
  """A serialised `BundleEntryProto` (shard 0 unless a field 3 is prepended).

  Args:
    dtype: TensorFlow DataType code (1 float32, 9 int64, ...).
    shape: the tensor's dimensions.
    offset: byte offset of the tensor in its data shard.
    size: byte size of the tensor in the data shard.
    crc: unmasked CRC-32C of those bytes (stored masked).
  """
  dims = b''.join(
      pw.bytes_field(2, pw.varint_field(1, d) if d else b'') for d in shape)
  out = pw.varint_field(1, dtype) + pw.bytes_field(2, dims)
  if offset:
    out += pw.varint_field(4, offset)
  if size:
    out += pw.varint_field(5, size)
  return out + pw.fixed32_field(6, crc32c.mask(crc))


def _string_tensor_bytes(array: np.ndarray) -> tuple[bytes, int]:
  items = [x.encode('utf-8') if isinstance(x, str) else bytes(x)
           for x in array.reshape(-1)]
  crc = 0
  for s in items:
    n = len(s)
    crc = crc32c.extend(crc, tfc._length_bytes(n))
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
  codes = {dtype: code for code, dtype in tfc._DTYPES.items()}
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
  data_path = tfc.data_filename(prefix)
  entries = [(tfc._HEADER_KEY,
              pw.varint_field(1, 1) +
              pw.bytes_field(3, pw.varint_field(1, 1)))]
  offset = 0
  with open(data_path + '.tmp', 'wb') as f:
    for key, array in encoded:
      code = codes[array.dtype]
      if code == tfc._STRING:
        raw, crc = _string_tensor_bytes(array)
        f.write(raw)
      else:
        raw = np.ascontiguousarray(array, array.dtype.newbyteorder('<'))
        crc = crc32c.value(raw)
        f.write(raw.tobytes())
        raw = raw.reshape(-1).view(np.uint8)
      entries.append((key, encode_entry(code, array.shape, offset, len(raw),
                                        crc)))
      offset += len(raw)
  with open(tfc.index_filename(prefix) + '.tmp', 'wb') as f:
    f.write(build_table(entries))
  os.replace(data_path + '.tmp', data_path)
  index_path = tfc.index_filename(prefix)
  os.replace(index_path + '.tmp', index_path)
