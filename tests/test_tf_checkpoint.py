# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Tests for the TensorFlow-free checkpoint reader/writer and its helpers."""

import hashlib
import os
import struct
import subprocess

import ml_dtypes
import numpy as np
import pytest

from mlperf_jax.formats import crc32c
from mlperf_jax.formats import protowire as pw
from mlperf_jax.formats import snappy
from mlperf_jax.formats import tf_checkpoint as tfc


# ----------------------------------------------------------------- crc32c


def test_crc32c_known_vectors():
  # The check value of CRC-32C and the RFC 3720 (iSCSI) appendix B.4 vectors.
  assert crc32c.value(b'123456789') == 0xE3069283
  assert crc32c.value(bytes(32)) == 0x8A9136AA
  assert crc32c.value(b'\xff' * 32) == 0x62A8AB43
  assert crc32c.value(bytes(range(32))) == 0x46DD794E
  assert crc32c.value(bytes(range(31, -1, -1))) == 0x113FDB5C
  assert crc32c.value(b'') == 0
  assert crc32c.mask(0) == 0xA282EAD8


@pytest.mark.parametrize('n', [1023, 1024, 4099, 70001, 1 << 20])
def test_crc32c_lanes_match_bytewise(n):
  data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8)
  expected = crc32c._raw_bytes(0xFFFFFFFF, data.tobytes()) ^ 0xFFFFFFFF
  assert crc32c.value(data) == expected
  assert crc32c.value(data.tobytes()) == expected
  k = n // 3
  assert crc32c.extend(crc32c.value(data[:k]), data[k:]) == expected


def test_crc32c_mask_roundtrip():
  for x in [0, 1, 0xFFFFFFFF, 0x12345678, 0xE3069283]:
    assert crc32c.unmask(crc32c.mask(x)) == x


# ----------------------------------------------------------------- protowire


def test_packed_varints_roundtrip():
  values = np.array([0, 1, 127, 128, 300, 16383, 16384, 2**31 - 1, 2**35,
                     2**62, 2**63 - 1, -1, -2**63, -300], np.int64)
  payload = pw.encode_packed_varints(values)
  assert payload == b''.join(pw.encode_varint(int(v)) for v in values)
  np.testing.assert_array_equal(pw.decode_packed_varints(payload), values)
  assert pw.decode_packed_varints(b'').size == 0
  with pytest.raises(pw.WireError, match='truncated'):
    pw.decode_packed_varints(payload[:-1] + b'\x80')


def test_iter_fields_rejects_truncation():
  msg = pw.bytes_field(1, b'abc') + pw.varint_field(2, 7)
  assert [(f, w) for f, w, _ in pw.iter_fields(msg)] == [(1, 2), (2, 0)]
  with pytest.raises(pw.WireError, match='past the end'):
    list(pw.iter_fields(msg[:3]))


# ----------------------------------------------------------------- round trip


def _tensors():
  rng = np.random.default_rng(0)
  out = {
      'scalar_f32': np.float32(3.5),
      'scalar_i64': np.int64(-7),
      'empty': np.zeros((0, 3), np.float32),
      'f16': rng.standard_normal((3, 4)).astype(np.float16),
      'bf16': rng.standard_normal((5,)).astype(ml_dtypes.bfloat16),
      'i32': rng.integers(-2**31, 2**31 - 1, (2, 3, 4), dtype=np.int32),
      'i64': rng.integers(-2**62, 2**62, (7,), dtype=np.int64),
      'f64': rng.standard_normal((2, 2)),
      'u8': rng.integers(0, 256, (9,), dtype=np.uint8),
      'flag': np.array([True, False]),
      'big': rng.standard_normal((512, 1024)).astype(np.float32),
      'strings': np.array([b'', b'abc', 'h\u00e9'.encode()], object),
      # Prefixes of each other and mixed case: sorted by UTF-8 bytes.
      'bert/encoder/layer_0': np.float32(1),
      'bert/encoder/layer_0/attention': np.float32(2),
      'bert/encoder/layer_10': np.float32(3),
      'Bert': np.float32(4),
      'z\u00fc': np.float32(5),
  }
  # Enough long names to need several 256 KiB data blocks in the index.
  for i in range(2500):
    out[f'many/{i:05d}/{"x" * 150}'] = np.full((2,), i, np.int32)
  return out


def _read_bytes(path):
  with open(path, 'rb') as f:
    return f.read()


def test_roundtrip(tmp_path):
  tensors = _tensors()
  prefix = str(tmp_path / 'sub' / 'model.ckpt-5')
  tfc.write_tf_checkpoint(prefix, tensors)
  listing = tfc.list_tf_checkpoint(prefix)
  assert list(listing) == sorted(tensors, key=lambda s: s.encode('utf-8'))
  for name, value in tensors.items():
    value = np.asarray(value)
    assert listing[name] == (value.shape, value.dtype), name
  back = tfc.read_tf_checkpoint(prefix)
  for name, value in tensors.items():
    value = np.asarray(value)
    assert back[name].dtype == value.dtype and back[name].shape == value.shape
    if value.dtype == object:
      assert back[name].tolist() == value.tolist()
    else:
      assert back[name].tobytes() == value.tobytes(), name
  subset = tfc.read_tf_checkpoint(prefix, ['f16', 'empty'])
  assert list(subset) == ['f16', 'empty']
  # Data block boundaries: several blocks, each found through the index.
  table = _read_bytes(tfc.index_filename(prefix))
  index = tfc._parse_block(
      tfc._read_block(table, _footer_index_handle(table), 'x', 'index'), 'x',
      'index')
  assert len(index) >= 2
  # Each index key separates its block from the next, as TF's seek needs.
  blocks = [tfc._parse_block(tfc._read_block(table, _decode_handle(h), 'x',
                                             'data'), 'x', 'data')
            for _, h in index]
  for i, (separator, _) in enumerate(index):
    assert blocks[i][-1][0] <= separator
    if i + 1 < len(blocks):
      assert separator < blocks[i + 1][0][0]
  # Restart points every 16 entries within data blocks (prefix compression).
  first = tfc._read_block(table, _decode_handle(index[0][1]), 'x', 'data')
  num_restarts = int.from_bytes(first[-4:], 'little')
  assert num_restarts > 10
  assert len(tfc._parse_block(first, 'x', 'data')) > 16 * (num_restarts - 1)
  assert os.path.getsize(tfc.data_filename(prefix)) > 512 * 1024 * 4


def _decode_handle(buf):
  offset, pos = pw.decode_varint(buf, 0)
  size, _ = pw.decode_varint(buf, pos)
  return offset, size


def _footer_index_handle(table):
  footer = table[-tfc.FOOTER_SIZE:]
  _, pos = pw.decode_varint(footer, 0)
  _, pos = pw.decode_varint(footer, pos)
  return _decode_handle(footer[pos:])


def test_write_rejects_bad_input(tmp_path):
  with pytest.raises(ValueError, match='non-empty'):
    tfc.write_tf_checkpoint(str(tmp_path / 'a'), {'': np.zeros(1)})
  with pytest.raises(ValueError, match='no TensorFlow equivalent'):
    tfc.write_tf_checkpoint(str(tmp_path / 'a'),
                            {'t': np.zeros(1, 'datetime64[s]')})


# ----------------------------------------------------------------- errors


def test_missing_files(tmp_path):
  with pytest.raises(tfc.CheckpointError, match='no such file.*prefix'):
    tfc.read_tf_checkpoint(str(tmp_path / 'nothing'))
  prefix = str(tmp_path / 'ck')
  tfc.write_tf_checkpoint(prefix, {'a': np.zeros(3, np.float32)})
  os.remove(tfc.data_filename(prefix))
  with pytest.raises(tfc.CheckpointError, match='data-00000-of-00001: no such'):
    tfc.read_tf_checkpoint(prefix)
  with pytest.raises(tfc.CheckpointError, match=r"no tensor named \['b'\]"):
    tfc.read_tf_checkpoint(prefix, ['b'])


def test_corrupted_data_detected_by_crc(tmp_path):
  prefix = str(tmp_path / 'ck')
  tfc.write_tf_checkpoint(prefix, {'a': np.arange(10, dtype=np.float32),
                                   'b': np.arange(5, dtype=np.int64)})
  path = tfc.data_filename(prefix)
  raw = bytearray(_read_bytes(path))
  raw[3] ^= 0x01  # inside tensor 'a'
  with open(path, 'wb') as f:
    f.write(raw)
  with pytest.raises(tfc.CheckpointError,
                     match=r"data-00000-of-00001: tensor 'a': corrupt: CRC"):
    tfc.read_tf_checkpoint(prefix)
  np.testing.assert_array_equal(tfc.read_tf_checkpoint(prefix, ['b'])['b'],
                                np.arange(5))


def test_truncated_data_file(tmp_path):
  prefix = str(tmp_path / 'ck')
  tfc.write_tf_checkpoint(prefix, {'a': np.arange(10, dtype=np.float32)})
  path = tfc.data_filename(prefix)
  with open(path, 'r+b') as f:
    f.truncate(20)
  with pytest.raises(tfc.CheckpointError, match='truncated.*ends at 20'):
    tfc.read_tf_checkpoint(prefix)


def test_truncated_and_corrupted_index(tmp_path):
  prefix = str(tmp_path / 'ck')
  tfc.write_tf_checkpoint(prefix, {'a': np.arange(10, dtype=np.float32)})
  path = tfc.index_filename(prefix)
  good = _read_bytes(path)

  def check(content, pattern):
    with open(path, 'wb') as f:
      f.write(content)
    with pytest.raises(tfc.CheckpointError, match=pattern) as e:
      tfc.list_tf_checkpoint(prefix)
    assert path in str(e.value)

  check(good[:30], 'truncated: 30 bytes')
  check(good[:-10], 'bad table magic')
  # Cut inside the blocks but keep a valid-looking footer.
  check(good[:10] + good[-tfc.FOOTER_SIZE:], 'truncated or corrupt')
  flipped = bytearray(good)
  flipped[12] ^= 0x40  # inside the first data block
  check(bytes(flipped), 'checksum mismatch in the data #0 block')


# ------------------------------------------------------- format variations


def test_big_endian_two_shard_bundle(tmp_path):
  """Reads a bundle laid out as a big-endian machine with 2 shards would."""
  prefix = str(tmp_path / 'be')
  a = np.arange(6, dtype=np.float32).reshape(2, 3)
  b = np.array([1, -2, 3], np.int64)
  raw_a, raw_b = a.astype('>f4').tobytes(), b.astype('>i8').tobytes()
  with open(tfc.data_filename(prefix, 0, 2), 'wb') as f:
    f.write(raw_a)
  with open(tfc.data_filename(prefix, 1, 2), 'wb') as f:
    f.write(b'pad' + raw_b)
  entry_b = tfc._encode_entry(9, (3,), 3, len(raw_b), crc32c.value(raw_b))
  entry_b = pw.varint_field(3, 1) + entry_b  # shard_id 1
  header = (pw.varint_field(1, 2) + pw.varint_field(2, 1) +
            pw.bytes_field(3, pw.varint_field(1, 1)))
  table = tfc._build_table([
      (b'', header),
      (b'a', tfc._encode_entry(1, (2, 3), 0, len(raw_a), crc32c.value(raw_a))),
      (b'b', entry_b)])
  with open(tfc.index_filename(prefix), 'wb') as f:
    f.write(table)
  out = tfc.read_tf_checkpoint(prefix)
  np.testing.assert_array_equal(out['a'], a)
  np.testing.assert_array_equal(out['b'], b)
  assert out['b'].dtype == np.int64 and out['b'].dtype.isnative


def test_snappy_blocks():
  # literal 'abcd', copy-1 (len 8, offset 4), copy-2 (len 3, offset 10),
  # copy-4 (len 2, offset 1), literal with a 1-byte length (61 bytes).
  long_literal = bytes(range(61))
  block = (pw.encode_varint(4 + 8 + 3 + 2 + 61) + bytes([3 << 2]) + b'abcd' +
           bytes([(8 - 4) << 2 | 1, 4]) + bytes([(3 - 1) << 2 | 2]) +
           struct.pack('<H', 10) + bytes([(2 - 1) << 2 | 3]) +
           struct.pack('<I', 1) + bytes([60 << 2, 60]) + long_literal)
  assert snappy.decompress(block) == (
      b'abcdabcdabcd' + b'cda' + b'aa' + long_literal)
  with pytest.raises(ValueError, match='back-reference'):
    snappy.decompress(b'\x08' + bytes([3 << 2 | 1, 9]))
  with pytest.raises(ValueError, match='header says 9'):
    snappy.decompress(b'\x09' + bytes([3 << 2]) + b'abcd')


# ---------------------------------------------- real TensorFlow checkpoints

# Facts about SavedModel variables written by real TensorFlow, from the test
# data of github.com/tensorflow/serving (tensorflow_serving/servables/
# tensorflow/testdata/<name>/00000123/variables/variables.*): SHA-256 of
# the files and the tensors they hold (float32 values as IEEE bit patterns).
_TF_FILES = {
    'saved_model_half_plus_two_mkl': (
        '1feebeae1cf7073a29997a473bda5890c99953a425879c9149bf563a40781bc7',
        '23bab90fdabf21c4cd513b01a061f4116eba94798dfdcbe8efcc728567edaa38',
        {'a': ((), 0x3F000000), 'b': ((), 0x40000000), 'c': ((), 0x40400000),
         'conv2d/bias': ((1,), 0), 'conv2d/kernel': ((1, 1, 1, 1), 0xBF05BBBE),
         'conv2d_1/bias': ((1,), 0),
         'conv2d_1/kernel': ((1, 1, 1, 1), 0xBF85C63B),
         'conv2d_2/bias': ((1,), 0),
         'conv2d_2/kernel': ((1, 1, 1, 1), 0x3FC9FA0B)}),
    'saved_model_counter': (
        'a5cf47f5b015cd8314b32aae20d6d3e66057ffcdc3a1a49c57f0663b32c553a1',
        'df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119',
        {'counter': ((), 0)}),
}


def _tf_tensors(spec):
  return {name: np.full(shape, bits, np.uint32).view(np.float32)
          for name, (shape, bits) in spec.items()}


@pytest.mark.parametrize('name', sorted(_TF_FILES))
def test_writer_is_byte_identical_to_tensorflow(tmp_path, name):
  """Our writer reproduces files TensorFlow's BundleWriter wrote, by hash."""
  index_sha, data_sha, spec = _TF_FILES[name]
  prefix = str(tmp_path / 'variables')
  tfc.write_tf_checkpoint(prefix, _tf_tensors(spec))
  digest = lambda p: hashlib.sha256(_read_bytes(p)).hexdigest()
  assert digest(tfc.index_filename(prefix)) == index_sha
  assert digest(tfc.data_filename(prefix)) == data_sha


_SERVING_GIT = '/work/.mirror/tensorflow+serving/repo'
_TESTDATA = 'tensorflow_serving/servables/tensorflow/testdata'


@pytest.mark.skipif(not os.path.isdir(_SERVING_GIT),
                    reason='no local mirror of github.com/tensorflow/serving')
@pytest.mark.parametrize('name', [
    'saved_model_half_plus_two_mkl', 'saved_model_counter',
    # Snappy-compressed index written by an older TensorFlow.
    'saved_model_half_plus_two_cpu',
    # TF2 object-based checkpoints with a DT_STRING object graph.
    'saved_model_half_plus_two_tf2_cpu', 'tf_text_regression'])
def test_reads_real_tensorflow_checkpoints(tmp_path, name):
  version = '01' if name == 'tf_text_regression' else '00000123'
  for suffix in ('.index', '.data-00000-of-00001'):
    blob = subprocess.run(
        ['git', f'--git-dir={_SERVING_GIT}', 'show',
         f'HEAD:{_TESTDATA}/{name}/{version}/variables/variables{suffix}'],
        check=True, capture_output=True).stdout
    (tmp_path / f'variables{suffix}').write_bytes(blob)
  out = tfc.read_tf_checkpoint(str(tmp_path / 'variables'))
  if name in _TF_FILES:
    expected = _tf_tensors(_TF_FILES[name][2])
  elif name == 'saved_model_half_plus_two_cpu':
    expected = _tf_tensors({'a': ((), 0x3F000000), 'a2': ((), 0x3F000000),
                            'b': ((), 0x40000000), 'c': ((), 0x40400000),
                            'c2': ((), 0x40400000)})
  elif name == 'saved_model_half_plus_two_tf2_cpu':
    expected = {f'{v}/.ATTRIBUTES/VARIABLE_VALUE': np.float32(x)
                for v, x in [('a', 0.5), ('b', 2.0), ('c', 3.0)]}
    graph = out.pop('_CHECKPOINTABLE_OBJECT_GRAPH')
    assert graph.shape == () and len(graph[()]) == 613
  else:
    graph = out.pop('_CHECKPOINTABLE_OBJECT_GRAPH')
    assert hashlib.sha256(graph[()]).hexdigest().startswith('fcddfa70b6fe11fa')
    expected = {}
  assert sorted(out) == sorted(expected)
  for key, value in expected.items():
    assert out[key].shape == np.shape(value)
    np.testing.assert_array_equal(out[key], value)
