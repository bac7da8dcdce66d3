# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The protocol-buffer wire format, by hand, for the few messages we need.

TensorFlow's checkpoint index (`BundleEntryProto`, `TensorShapeProto`) and
training records (`tf.train.Example`) are small, stable messages; reading and
writing them directly keeps TensorFlow (and generated proto classes) out of
the project. Only the wire format is implemented: varints (wire type 0),
64-bit (1), length-delimited (2) and 32-bit (5) fields. Packed repeated
varints are decoded and encoded with vectorised NumPy, which is what makes a
512-token `tf.train.Example` cheap to read.
"""

from collections.abc import Iterator

import numpy as np

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
_U64 = (1 << 64) - 1


class WireError(ValueError):
  """Malformed protocol-buffer bytes."""


def encode_varint(value: int) -> bytes:
  """Base-128 varint; negative values as 64-bit two's complement."""
  value &= _U64
  out = bytearray()
  while value >= 0x80:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


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


def tag(field: int, wire_type: int) -> bytes:
  return encode_varint(field << 3 | wire_type)


def varint_field(field: int, value: int) -> bytes:
  return tag(field, VARINT) + encode_varint(value)


def bytes_field(field: int, payload: bytes) -> bytes:
  return tag(field, LEN) + encode_varint(len(payload)) + payload


def fixed32_field(field: int, value: int) -> bytes:
  return tag(field, FIXED32) + int(value).to_bytes(4, 'little')


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


def encode_packed_varints(values) -> bytes:
  """Encodes integers as a packed run of varints (negatives as 10 bytes)."""
  v = np.asarray(values).astype(np.int64).reshape(-1).view(np.uint64)
  if v.size == 0:
    return b''
  shifts = 7 * np.arange(10, dtype=np.uint64)
  groups = (v[:, None] >> shifts) & np.uint64(0x7F)
  nbytes = 1 + (v[:, None] >= (np.uint64(1) << shifts[1:])).sum(1)
  k = np.arange(10)
  keep = k[None, :] < nbytes[:, None]
  cont = k[None, :] < (nbytes[:, None] - 1)
  out = (groups | np.where(cont, np.uint64(0x80), np.uint64(0))).astype(
      np.uint8)
  return out[keep].tobytes()
