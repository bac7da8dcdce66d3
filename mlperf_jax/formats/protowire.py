# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Protocol-buffer wire-format decoding for TensorFlow's checkpoint protos.

TensorFlow's checkpoint index holds `BundleHeaderProto`, `BundleEntryProto`
and `TensorShapeProto` messages, for which no generated classes exist outside
TensorFlow itself; `tf_checkpoint` reads their few fields with these
decoders. (`tf.train.Example` records are parsed by the protobuf runtime, see
`input_pipelines/tfrecord.py`.) Implemented: varints (wire type 0), 64-bit
(1), length-delimited (2) and 32-bit (5) fields, and packed repeated varints
(vectorised with NumPy).
"""

from collections.abc import Iterator

import numpy as np

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
  """Malformed protocol-buffer bytes."""


def decode_varint(buf, pos: int) -> tuple[int, int]:
  """Reads a varint at `buf[pos:]`; returns (unsigned value, next position)."""
  result = shift = 0
  n = len(buf)
  while True:
    if pos >= n:
      raise WireError('truncated varint')
    b = buf[pos]
    pos += 1
    result |= (b & 0x7F) << shift
    if not b & 0x80:
      return result, pos
    shift += 7
    if shift >= 70:
      raise WireError('varint longer than 10 bytes')


def to_int64(value: int) -> int:
  """Reinterprets an unsigned 64-bit varint value as signed."""
  return value - (1 << 64) if value >= 1 << 63 else value


def iter_fields(buf) -> Iterator[tuple[int, int, object]]:
  """Yields `(field_number, wire_type, value)` for each field of a message.

  `value` is an int for varint and fixed-width fields (fixed ones unsigned,
  little-endian) and a `memoryview` slice of `buf` for length-delimited ones.

  Raises:
    WireError: on truncated or malformed input (e.g. groups, bad wire types).
  """
  view = memoryview(buf)
  pos, n = 0, len(view)
  while pos < n:
    key, pos = decode_varint(view, pos)
    field, wire_type = key >> 3, key & 7
    if field == 0:
      raise WireError('field number 0')
    if wire_type == VARINT:
      value, pos = decode_varint(view, pos)
    elif wire_type == LEN:
      size, pos = decode_varint(view, pos)
      if pos + size > n:
        raise WireError(f'field {field}: length {size} runs past the end')
      value = view[pos:pos + size]
      pos += size
    elif wire_type in (FIXED64, FIXED32):
      width = 8 if wire_type == FIXED64 else 4
      if pos + width > n:
        raise WireError(f'field {field}: truncated fixed-width value')
      value = int.from_bytes(view[pos:pos + width], 'little')
      pos += width
    else:
      raise WireError(f'field {field}: unsupported wire type {wire_type}')
    yield field, wire_type, value


def decode_packed_varints(payload) -> np.ndarray:
  """Decodes a packed run of varints into int64, vectorised.

  Args:
    payload: bytes-like holding the concatenated varints.

  Returns:
    int64 array (values above 2**63 wrap as two's complement, like int64).
  """
  b = np.frombuffer(payload, np.uint8)
  if b.size == 0:
    return np.zeros(0, np.int64)
  ends = (b & 0x80) == 0
  if not ends[-1]:
    raise WireError('packed varints: truncated last value')
  starts = np.flatnonzero(np.concatenate([[True], ends[:-1]]))
  group = np.cumsum(ends) - ends
  pos = np.arange(b.size) - starts[group]
  if pos.max() > 9:
    raise WireError('packed varints: value longer than 10 bytes')
  parts = (b & 0x7F).astype(np.uint64) << (7 * pos).astype(np.uint64)
  return np.add.reduceat(parts, starts).view(np.int64)
