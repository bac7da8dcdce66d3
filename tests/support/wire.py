# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Protocol-buffer wire-format encoders, for tests that craft bytes by hand.

The project only decodes the wire format (`mlperf_jax.formats.protowire`);
tests need the other direction to write checkpoints and to build encodings
that protobuf's serialiser never produces (e.g. unpacked repeated scalars).
"""

from mlperf_jax.formats.protowire import FIXED32, LEN, VARINT

_U64 = (1 << 64) - 1


def encode_varint(value: int) -> bytes:
  """Base-128 varint; negative values as 64-bit two's complement."""
  value &= _U64
  out = bytearray()
  while value >= 0x80:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
  return encode_varint(field << 3 | wire_type)


def varint_field(field: int, value: int) -> bytes:
  return tag(field, VARINT) + encode_varint(value)


def bytes_field(field: int, payload: bytes) -> bytes:
  return tag(field, LEN) + encode_varint(len(payload)) + payload


def fixed32_field(field: int, value: int) -> bytes:
  return tag(field, FIXED32) + int(value).to_bytes(4, 'little')
