# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""TFRecord files and `tf.train.Example` messages, without TensorFlow.

* TFRecord framing: each record is `uint64 length` (little-endian), the
  masked CRC-32C of those 8 bytes, the payload, and the masked CRC-32C of the
  payload; both checksums are verified on read. `index_tfrecord` reads only
  the headers, giving payload offsets for random access.
* `tf.train.Example` on the protobuf wire format:
  `Example{features: Features{feature: map<string, Feature>}}`, a `Feature`
  being one of `bytes_list` (1), `float_list` (2), `int64_list` (3), each a
  `repeated` field 1 (packed for numbers). `encode_example` is byte-identical
  to protobuf's deterministic serialisation (map keys sorted);
  `decode_example` accepts packed and unpacked encodings.
"""

from collections.abc import Iterable, Iterator, Mapping
import os
import struct

import numpy as np

from mlperf_jax.formats import crc32c
from mlperf_jax.formats import protowire as pw


class DataError(ValueError):
  """A data file is missing, corrupt, or does not hold the expected features."""


def _frame(record: bytes) -> bytes:
  length = struct.pack('<Q', len(record))
  return (length + struct.pack('<I', crc32c.masked_value(length)) + record +
          struct.pack('<I', crc32c.masked_value(record)))


def write_tfrecord(path: str, records: Iterable[bytes]) -> int:
  """Writes records in TFRecord framing; returns how many were written."""
  count = 0
  with open(path + '.tmp', 'wb') as f:
    for record in records:
      f.write(_frame(bytes(record)))
      count += 1
  os.replace(path + '.tmp', path)
  return count


def index_tfrecord(path: str) -> tuple[np.ndarray, np.ndarray]:
  """Offsets and lengths of the records' payloads in one TFRecord file.

  Reads only the 12-byte record headers, checking each length's CRC.

  Returns:
    `(offsets, lengths)`, int64 arrays; `offsets[i]` is where record i's bytes
    start (after its header).

  Raises:
    DataError: the file is missing, truncated, or a length checksum fails.
  """
  if not os.path.isfile(path):
    raise DataError(f'{path}: no such file')
  size = os.path.getsize(path)
  offsets, lengths = [], []
  with open(path, 'rb') as f:
    pos = 0
    while pos < size:
      header = f.read(12)
      if len(header) < 12:
        raise DataError(f'{path}: truncated record header at byte {pos} '
                        f'(file size {size}); re-copy the file.')
      length, masked = struct.unpack('<QI', header)
      if crc32c.unmask(masked) != crc32c.value(header[:8]):
        raise DataError(f'{path}: corrupt record length at byte {pos} '
                        '(checksum mismatch); not a TFRecord file, or damaged.')
      start = pos + 12
      pos = start + length + 4
      if pos > size:
        raise DataError(f'{path}: truncated: the record at byte {start - 12} '
                        f'needs {length + 16} bytes, the file ends at {size}.')
      offsets.append(start)
      lengths.append(length)
      f.seek(pos)
  return np.array(offsets, np.int64), np.array(lengths, np.int64)


def check_payload(buf: bytes, path: str, offset: int) -> bytes:
  """Splits `payload + crc` and verifies the CRC."""
  data, stored = buf[:-4], int.from_bytes(buf[-4:], 'little')
  if crc32c.unmask(stored) != crc32c.value(data):
    raise DataError(f'{path}: corrupt record at byte {offset - 12} (data '
                    'checksum mismatch); re-copy or regenerate the file.')
  return data


def read_tfrecord(path: str) -> Iterator[bytes]:
  """Yields the records of a TFRecord file, verifying both checksums."""
  offsets, lengths = index_tfrecord(path)
  with open(path, 'rb') as f:
    for offset, length in zip(offsets.tolist(), lengths.tolist()):
      f.seek(offset)
      yield check_payload(f.read(length + 4), path, offset)


def encode_example(features: Mapping[str, object]) -> bytes:
  """Serialises a `tf.train.Example`, keys sorted (deterministic protobuf).

  Args:
    features: name -> values; integer arrays become `int64_list`, floating
      ones `float_list` (float32), bytes/str (or lists of them) `bytes_list`.

  Returns:
    The serialised message, byte-identical to protobuf's
    `SerializeToString(deterministic=True)`.
  """
  entries = []
  for name in sorted(features, key=lambda k: k.encode('utf-8')):
    value = features[name]
    if isinstance(value, (bytes, str)):
      value = [value]
    array = np.asarray(value)
    if array.dtype.kind in 'SUO':
      items = [v.encode('utf-8') if isinstance(v, str) else bytes(v)
               for v in array.reshape(-1).tolist()]
      body = b''.join(pw.bytes_field(1, v) for v in items)
      feature = pw.bytes_field(1, body)
    elif array.dtype.kind in 'iub':
      packed = pw.encode_packed_varints(array.astype(np.int64))
      feature = pw.bytes_field(3, pw.bytes_field(1, packed) if packed else b'')
    elif array.dtype.kind == 'f':
      packed = array.astype('<f4').tobytes()
      feature = pw.bytes_field(2, pw.bytes_field(1, packed) if packed else b'')
    else:
      raise ValueError(f'feature {name!r}: cannot store dtype {array.dtype}')
    entries.append(pw.bytes_field(
        1, pw.bytes_field(1, name.encode('utf-8')) + pw.bytes_field(2,
                                                                   feature)))
  return pw.bytes_field(1, b''.join(entries))


def _decode_list(kind: int, buf) -> object:
  """Values of an Int64List (3), FloatList (2) or BytesList (1) message."""
  if kind == 1:
    return [bytes(v) for f, w, v in pw.iter_fields(buf)
            if f == 1 and w == pw.LEN]
  dtype = np.int64 if kind == 3 else np.float32
  chunks, singles = [], []
  for field, wire_type, value in pw.iter_fields(buf):
    if field != 1:
      continue
    if wire_type == pw.LEN:  # packed
      if singles:
        chunks.append(np.array(singles, dtype))
        singles = []
      chunks.append(pw.decode_packed_varints(value) if kind == 3 else
                    np.frombuffer(value, '<f4').astype(np.float32))
    elif kind == 3 and wire_type == pw.VARINT:
      singles.append(pw.to_int64(value))
    elif kind == 2 and wire_type == pw.FIXED32:
      singles.append(struct.unpack('<f', struct.pack('<I', value))[0])
  if singles:
    chunks.append(np.array(singles, dtype))
  return np.concatenate(chunks) if chunks else np.zeros(0, dtype)


def decode_example(buf) -> dict[str, object]:
  """Parses a serialised `tf.train.Example`.

  Returns:
    name -> int64 array, float32 array, or list of bytes. Packed and unpacked
    repeated encodings are both accepted; for a repeated key the last wins,
    as in protobuf.

  Raises:
    pw.WireError: malformed bytes.
  """
  out = {}
  for field, _, features in pw.iter_fields(buf):
    if field != 1:
      continue
    for f, _, entry in pw.iter_fields(features):
      if f != 1:
        continue
      name, value = '', None
      for ef, _, ev in pw.iter_fields(entry):
        if ef == 1:
          name = bytes(ev).decode('utf-8')
        elif ef == 2:
          for kind, _, lst in pw.iter_fields(ev):
            if kind in (1, 2, 3):
              value = _decode_list(kind, lst)
      out[name] = value if value is not None else []
  return out
