# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""CRC-32C (Castagnoli) and the "masked" form TensorFlow's file formats store.

TFRecord framing, TensorFlow's table (SSTable) blocks and TensorBundle
checkpoint entries all checksum with CRC-32C (`value(b'123456789')` is
0xE3069283) and store `mask(crc)`, a rotation plus a constant, so that a CRC
of data that itself embeds CRCs is not degenerate.

The checksum itself is the `google-crc32c` wheel (hardware CRC32 instructions
where the CPU has them); this module only adapts its input types (any
bytes-like object, or a numpy array whose raw bytes are checksummed) and adds
TensorFlow's masking.
"""

import google_crc32c
import numpy as np

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def _buffer(data):
  """`data` in a form the C extension takes: bytes or a flat uint8 array."""
  if isinstance(data, bytes):
    return data
  if isinstance(data, np.ndarray):
    # Raises TypeError for object arrays, which have no raw bytes to check.
    return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
  return np.frombuffer(memoryview(data).cast('B'), np.uint8)


def extend(crc: int, data) -> int:
  """CRC-32C of the concatenation, given `crc` of the prefix and more data.

  Args:
    crc: CRC-32C of the preceding bytes (0 for none).
    data: bytes-like object or numpy array (its raw bytes are used).

  Returns:
    The CRC-32C (unmasked) as a Python int.
  """
  return google_crc32c.extend(crc & _U32, _buffer(data))


def value(data) -> int:
  """CRC-32C of `data` (bytes-like or numpy array)."""
  return google_crc32c.value(_buffer(data))


def mask(crc: int) -> int:
  """TensorFlow's masked CRC: rotate right by 15 bits and add a constant."""
  return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def unmask(masked: int) -> int:
  """Inverse of `mask`."""
  rot = (masked - _MASK_DELTA) & _U32
  return ((rot >> 17) | (rot << 15)) & _U32


def masked_value(data) -> int:
  """`mask(value(data))`, the form stored in TFRecords and TF tables."""
  return mask(value(data))
