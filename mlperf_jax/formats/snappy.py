# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Raw Snappy block decompression in pure Python.

TensorFlow releases up to 1.1 wrote Snappy-compressed blocks into checkpoint
index tables (later ones write them uncompressed), and those checkpoints are
still in circulation. The format: a varint uncompressed length, then
elements whose tag byte's low two bits select a literal (0) or a copy with a
1-, 2- or 4-byte offset (1, 2, 3) into the output produced so far.
"""

from mlperf_jax.formats import protowire as pw


def decompress(data: bytes) -> bytes:
  """Decompresses one raw Snappy block.

  Args:
    data: a varint uncompressed length followed by literal and copy elements.

  Returns:
    The uncompressed bytes.

  Raises:
    ValueError: malformed input (bad header, truncated literal, a copy
      reaching before the start, or a length that disagrees with the header).
  """
  try:
    length, pos = pw.decode_varint(data, 0)
  except pw.WireError as e:
    raise ValueError(f'bad Snappy header ({e})') from None
  out = bytearray()
  n = len(data)
  while pos < n:
    tag = data[pos]
    pos += 1
    kind = tag & 3
    if kind == 0:  # literal
      size = tag >> 2
      if size >= 60:
        extra = size - 59
        if pos + extra > n:
          raise ValueError('truncated Snappy literal length')
        size = int.from_bytes(data[pos:pos + extra], 'little')
        pos += extra
      size += 1
      if pos + size > n:
        raise ValueError('truncated Snappy literal')
      out += data[pos:pos + size]
      pos += size
      continue
    width = {1: 1, 2: 2, 3: 4}[kind]
    if pos + width > n:
      raise ValueError('truncated Snappy copy')
    if kind == 1:
      size = ((tag >> 2) & 7) + 4
      offset = ((tag >> 5) << 8) | data[pos]
    else:
      size = (tag >> 2) + 1
      offset = int.from_bytes(data[pos:pos + width], 'little')
    pos += width
    if offset == 0 or offset > len(out):
      raise ValueError('bad Snappy back-reference')
    start = len(out) - offset
    while size > 0:  # a copy may overlap the bytes it produces
      chunk = out[start:start + min(size, offset)]
      out += chunk
      start += len(chunk)
      size -= len(chunk)
  if len(out) != length:
    raise ValueError(
        f'Snappy block decodes to {len(out)} bytes, header says {length}')
  return bytes(out)
