# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""TFRecord files and `tf.train.Example` messages, without TensorFlow.

* TFRecord framing: each record is `uint64 length` (little-endian), the
  masked CRC-32C of those 8 bytes, the payload, and the masked CRC-32C of the
  payload; both checksums are verified on read. `index_tfrecord` reads only
  the headers, giving payload offsets for random access.
* `tf.train.Example`: parsed and serialised by the protobuf runtime with the
  `Example` classes tensorflow-datasets ships (generated from TensorFlow's
  `example.proto` / `feature.proto`, importable without TensorFlow).
  `encode_example` is protobuf's deterministic serialisation;
  `decode_example` turns each feature into a numpy array or a list of bytes.
"""

from collections.abc import Iterable, Iterator, Mapping
import os
import struct

from google.protobuf import message as pb_message
import numpy as np
from tensorflow_datasets.proto import tf_example_pb2

from mlperf_jax.formats import crc32c


class DataError(ValueError):
  """A data file is missing, corrupt, or does not hold the expected features."""


class ExampleError(DataError):
  """A record's bytes are not a serialised `tf.train.Example`."""


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
  """Serialises a `tf.train.Example` deterministically.

  Args:
    features: name -> values; integer (and bool) arrays become `int64_list`,
      floating ones `float_list` (float32), bytes/str (or lists of them)
      `bytes_list`.

  Returns:
    The message's `SerializeToString(deterministic=True)`: the same bytes for
    the same features, map entries in the protobuf runtime's key order
    (sorted, for keys none of which is a prefix of another, as BERT's).
  """
  example = tf_example_pb2.Example()
  feature_map = example.features.feature
  for name, value in features.items():
    if isinstance(value, (bytes, str)):
      value = [value]
    array = np.asarray(value)
    feature = feature_map[name]
    if array.dtype.kind in 'SUO':
      kind = feature.bytes_list
      values = [v.encode('utf-8') if isinstance(v, str) else bytes(v)
                for v in array.reshape(-1).tolist()]
    elif array.dtype.kind in 'iub':
      kind = feature.int64_list
      values = array.astype(np.int64).reshape(-1).tolist()
    elif array.dtype.kind == 'f':
      kind = feature.float_list
      values = array.astype(np.float32).reshape(-1).tolist()
    else:
      raise ValueError(f'feature {name!r}: cannot store dtype {array.dtype}')
    kind.SetInParent()  # an empty list is still a list of that kind
    kind.value.extend(values)
  example.features.SetInParent()
  return example.SerializeToString(deterministic=True)


def decode_example(buf) -> dict[str, object]:
  """Parses a serialised `tf.train.Example`.

  Returns:
    name -> int64 array, float32 array, or list of bytes (`[]` for a feature
    with no list set). Packed and unpacked repeated encodings are both
    accepted; for a repeated key the last wins, as in protobuf.

  Raises:
    ExampleError: the bytes are not a valid `tf.train.Example`.
  """
  try:
    example = tf_example_pb2.Example.FromString(bytes(buf))
  except pb_message.DecodeError as e:
    raise ExampleError(f'not a tf.train.Example ({e})') from None
  out = {}
  for name, feature in example.features.feature.items():
    kind = feature.WhichOneof('kind')
    if kind == 'int64_list':
      out[name] = np.array(feature.int64_list.value, np.int64)
    elif kind == 'float_list':
      out[name] = np.array(feature.float_list.value, np.float32)
    elif kind == 'bytes_list':
      out[name] = list(feature.bytes_list.value)
    else:
      out[name] = []
  return out
