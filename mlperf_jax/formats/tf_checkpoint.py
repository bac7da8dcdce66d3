# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""TensorFlow checkpoints (TensorBundle V2) read without TensorFlow.

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

The reader accepts uncompressed and Snappy-compressed blocks (old TensorFlow
versions wrote them; decompressed with `cramjam`), big-endian bundles and
multi-shard bundles; partitioned (sliced) variables are reported, not
assembled. The bundle protos are decoded with `protowire` (no generated
classes exist for them outside TensorFlow). A byte-exact writer, for tests,
is `tests/support/tf_checkpoint_writer.py`.
"""

import os
import struct

import cramjam
import ml_dtypes
import numpy as np

from mlperf_jax.formats import crc32c
from mlperf_jax.formats import protowire as pw

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two handles padded to 2 * 20 bytes, then the magic
_BLOCK_TRAILER = 5
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
      return bytes(cramjam.snappy.decompress_raw(contents[:-1]))
    except cramjam.DecompressionError as e:
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
      if dtype != np.dtype(object) and e['size'] != count * dtype.itemsize:
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
      if dtype == np.dtype(object):
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
