# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Tests for the TensorFlow-free reader of the MLPerf BERT TFRecords."""

import json
import os
import struct

import numpy as np
import pytest

from tensorflow_datasets.proto import tf_example_pb2

from mlperf_jax.api import HostShard
from mlperf_jax.formats import crc32c
from mlperf_jax.input_pipelines import batching
from mlperf_jax.input_pipelines import bert_tfrecord as bt
from mlperf_jax.input_pipelines import tfrecord
from support import tf_fixture_values as fixtures
from support import wire

SEQ, PRED = 16, 4  # small lengths for most tests; shapes are parameters


def _arrays(n, seed, seq=SEQ, pred=PRED):
  rng = np.random.default_rng(seed)
  lengths = rng.integers(4, seq + 1, n)
  mask = (np.arange(seq)[None] < lengths[:, None]).astype(np.int64)
  return {
      'input_ids': rng.integers(0, 30522, (n, seq)) * mask,
      'input_mask': mask,
      'segment_ids': (np.arange(seq)[None] >= lengths[:, None] // 2) * mask,
      'masked_lm_positions': rng.integers(0, seq, (n, pred)),
      'masked_lm_ids': rng.integers(0, 30522, (n, pred)),
      'masked_lm_weights': rng.integers(0, 2, (n, pred)).astype(np.float32),
      'next_sentence_labels': rng.integers(0, 2, (n, 1)),
  }


@pytest.fixture(scope='module')
def shards(tmp_path_factory):
  """Three TFRecord files (written out of name order) and their contents."""
  root = tmp_path_factory.mktemp('bert')
  parts = {'part-00002': _arrays(9, 2), 'part-00000': _arrays(7, 0),
           'part-00001': _arrays(5, 1)}
  for name, arrays in parts.items():
    assert bt.write_bert_tfrecord(str(root / name), arrays) == len(
        arrays['input_ids'])
  expected = {k: np.concatenate([parts[p][k] for p in sorted(parts)])
              for k in parts['part-00000']}
  return root, expected


def _check_batch(batch, expected, indices):
  for k, v in expected.items():
    want = np.float32 if k == 'masked_lm_weights' else np.int32
    assert batch[k].dtype == want, k
    np.testing.assert_array_equal(batch[k], v[indices], err_msg=k)


# ---------------------------------------------------------------- framing


def test_tfrecord_framing_layout(tmp_path):
  path = str(tmp_path / 'r')
  records = [b'', b'hello', bytes(range(256)) * 10]
  tfrecord.write_tfrecord(path, records)
  raw = _read(path)
  pos = 0
  for record in records:
    (length,) = struct.unpack_from('<Q', raw, pos)
    assert length == len(record)
    (len_crc,) = struct.unpack_from('<I', raw, pos + 8)
    assert len_crc == crc32c.mask(crc32c.value(raw[pos:pos + 8]))
    assert raw[pos + 12:pos + 12 + length] == record
    (data_crc,) = struct.unpack_from('<I', raw, pos + 12 + length)
    assert data_crc == crc32c.mask(crc32c.value(record))
    pos += 16 + length
  assert pos == len(raw)
  assert list(tfrecord.read_tfrecord(path)) == records
  offsets, lengths = tfrecord.index_tfrecord(path)
  assert offsets.tolist() == [12, 28, 49] and lengths.tolist() == [0, 5, 2560]


def _read(path):
  with open(path, 'rb') as f:
    return f.read()


def _write(path, content):
  with open(path, 'wb') as f:
    f.write(content)


def _corrupt(path, offset, truncate=None):
  raw = bytearray(_read(path))
  if truncate is not None:
    raw = raw[:truncate]
  else:
    raw[offset] ^= 0x01
  _write(path, bytes(raw))


def test_tfrecord_corruption_detected(tmp_path):
  path = str(tmp_path / 'r')
  tfrecord.write_tfrecord(path, [b'abcdef', b'ghij'])
  good = _read(path)
  _corrupt(path, 14)  # inside the first payload
  with pytest.raises(bt.DataError, match=f'{path}: corrupt record at byte 0'):
    list(tfrecord.read_tfrecord(path))
  _write(path, good)
  _corrupt(path, 22 + 2)  # inside the second record's length
  with pytest.raises(bt.DataError, match='corrupt record length at byte 22'):
    tfrecord.index_tfrecord(path)
  _write(path, good)
  _corrupt(path, 0, truncate=len(good) - 3)
  with pytest.raises(bt.DataError, match='truncated: the record at byte 22'):
    tfrecord.index_tfrecord(path)
  _corrupt(path, 0, truncate=5)
  with pytest.raises(bt.DataError, match='truncated record header'):
    tfrecord.index_tfrecord(path)
  with pytest.raises(bt.DataError, match='no such file'):
    tfrecord.index_tfrecord(str(tmp_path / 'missing'))


# ---------------------------------------------------------------- Example


def test_example_bytes_match_protobuf():
  """Features map to the lists TF's example.proto (as tfds ships it) has."""
  arrays = _arrays(1, 5, seq=512, pred=76)
  features = {k: v[0] for k, v in arrays.items()}
  features['text'] = [b'a', b'', 'caf\u00e9']
  features['empty_ints'] = np.zeros(0, np.int64)
  features['negative'] = np.array([-1, -(2**63), 2**63 - 1])
  ours = tfrecord.encode_example(features)

  msg = tf_example_pb2.Example()
  for k, v in features.items():
    feature = msg.features.feature[k]
    if k == 'text':
      feature.bytes_list.value.extend([b'a', b'', 'caf\u00e9'.encode()])
    elif k == 'masked_lm_weights':
      feature.float_list.value.extend(v.tolist())
    else:
      feature.int64_list.value.extend(np.asarray(v).tolist())
      feature.int64_list.SetInParent()
  assert ours == msg.SerializeToString(deterministic=True)
  # And the decoder reads protobuf's bytes (here identical) back.
  decoded = tfrecord.decode_example(msg.SerializeToString())
  for k, v in features.items():
    if k == 'text':
      assert decoded[k] == [b'a', b'', 'caf\u00e9'.encode()]
    else:
      np.testing.assert_array_equal(decoded[k], v, err_msg=k)
  assert decoded['masked_lm_weights'].dtype == np.float32


def test_decode_unpacked_lists():
  """Writers that do not pack repeated scalars are read as well."""
  ints = wire.varint_field(1, 5) + wire.varint_field(1, (1 << 64) - 3)
  floats = wire.fixed32_field(1, 0x3FC00000) + wire.bytes_field(
      1, np.float32([2.5]).tobytes())
  feature = wire.bytes_field
  entry = lambda name, f: wire.bytes_field(1, wire.bytes_field(1, name) +
                                           wire.bytes_field(2, f))
  buf = wire.bytes_field(1, entry(b'i', feature(3, ints)) +
                         entry(b'f', feature(2, floats)))
  out = tfrecord.decode_example(buf)
  np.testing.assert_array_equal(out['i'], [5, -3])
  np.testing.assert_array_equal(out['f'], [1.5, 2.5])
  assert out['i'].dtype == np.int64 and out['f'].dtype == np.float32


def test_decode_rejects_non_examples(tmp_path):
  for bad in (b'\x0a\x05ab', b'\xff', b'\x0a\x03\x0a\x01\xff'):
    with pytest.raises(tfrecord.ExampleError, match='not a tf.train.Example'):
      tfrecord.decode_example(bad)
  path = str(tmp_path / 'r')
  tfrecord.write_tfrecord(path, [b'\x0a\x05ab'])
  with pytest.raises(bt.DataError,
                     match=f'{path}: record at byte 0: not a tf.train.Example'):
    bt.RecordSource(path).load(np.array([0]))


# ------------------------------------------ written by real TensorFlow


def _assert_example(decoded, expected):
  assert sorted(decoded) == sorted(expected)
  for name, value in expected.items():
    if value is None or isinstance(value, list):  # bytes, or no list set
      assert decoded[name] == (value or []), name
    else:
      assert decoded[name].dtype == value.dtype, name
      assert decoded[name].tobytes() == value.tobytes(), name  # bit for bit


@pytest.mark.parametrize('path,examples', [
    (fixtures.BERT_TFRECORD, fixtures.bert_examples()),
    (fixtures.MISC_TFRECORD, fixtures.misc_examples())])
def test_reads_tensorflow_tfrecords(path, examples):
  """tf.io.TFRecordWriter files of tf.train.Examples (tests/fixtures/)."""
  records = list(tfrecord.read_tfrecord(path))
  assert len(records) == len(examples)
  for record, expected in zip(records, examples):
    _assert_example(tfrecord.decode_example(record), expected)
    if all(isinstance(v, np.ndarray) and v.size for v in expected.values()):
      # TensorFlow's deterministic serialisation is ours.
      assert tfrecord.encode_example(expected) == record
  offsets, lengths = tfrecord.index_tfrecord(path)
  assert lengths.tolist() == [len(r) for r in records]
  assert offsets[0] == 12


def test_tfrecord_framing_matches_tensorflow(tmp_path):
  """Our framing (lengths, masked CRCs) is TensorFlow's, byte for byte."""
  for path in (fixtures.BERT_TFRECORD, fixtures.MISC_TFRECORD):
    copy = str(tmp_path / os.path.basename(path))
    tfrecord.write_tfrecord(copy, tfrecord.read_tfrecord(path))
    assert _read(copy) == _read(path)


def test_record_source_reads_tensorflow_tfrecord():
  source = bt.RecordSource(fixtures.BERT_TFRECORD,
                           seq_length=fixtures.BERT_SEQ,
                           max_predictions=fixtures.BERT_PRED)
  assert len(source) == fixtures.BERT_COUNT
  expected = fixtures.bert_examples()
  batch = source.load(np.array([3, 0, 2]))
  for k, v in batch.items():
    want = np.stack([expected[i][k] for i in (3, 0, 2)])
    np.testing.assert_array_equal(v, want, err_msg=k)
  assert batch['input_ids'].dtype == np.int32
  assert batch['masked_lm_weights'].dtype == np.float32


# ---------------------------------------------------------------- sources


def test_record_source_reads_every_record(shards):
  root, expected = shards
  source = bt.RecordSource(str(root / 'part-*'), seq_length=SEQ,
                           max_predictions=PRED)
  assert len(source) == 21
  assert [os.path.basename(f) for f in source.files] == [
      'part-00000', 'part-00001', 'part-00002']
  indices = np.array([20, 0, 7, 6, 12, 3])
  _check_batch(source.load(indices), expected, indices)
  assert source.load(indices)['next_sentence_labels'].shape == (6, 1)


def test_wrong_lengths_and_missing_files_are_clear(shards, tmp_path):
  root, _ = shards
  source = bt.RecordSource(str(root / 'part-00000'))  # reference lengths
  with pytest.raises(bt.DataError,
                     match="'input_ids' has 16 values, expected 512"):
    source.load(np.array([0]))
  with pytest.raises(bt.DataError, match='no files match'):
    bt.RecordSource(str(tmp_path / 'nothing-*'))
  tfrecord.write_tfrecord(str(tmp_path / 'other'),
                          [tfrecord.encode_example({'x': [1]})])
  with pytest.raises(bt.DataError, match="'input_ids' is missing"):
    bt.RecordSource(str(tmp_path / 'other')).load(np.array([0]))


def test_convert_is_lossless_and_narrow(shards, tmp_path):
  root, expected = shards
  dst = str(tmp_path / 'npy')
  assert bt.main(['convert', str(root / 'part-*'), dst, '--seq-length',
                  str(SEQ), '--max-predictions', str(PRED)]) == 0
  with open(os.path.join(dst, bt.MANIFEST)) as f:
    manifest = json.load(f)
  assert manifest['count'] == 21
  assert [s['count'] for s in manifest['shards']] == [7, 5, 9]
  dtypes = manifest['shards'][0]['features']
  assert dtypes['input_mask']['dtype'] == '|u1'
  assert dtypes['input_ids']['dtype'] == '<u2'
  assert dtypes['masked_lm_weights']['dtype'] == '<f4'
  source = bt.ArraySource(dst)
  everything = np.arange(21)[::-1]
  _check_batch(source.load(everything), expected, everything)
  # A second conversion into the same directory is refused (exit code 2).
  assert bt.main(['convert', str(root / 'part-*'), dst]) == 2
  assert bt.main(['info', str(tmp_path / 'missing')]) == 2
  assert bt.main(['info', dst]) == 0


def test_train_batches_deterministic_sharded_and_format_independent(
    shards, tmp_path):
  root, expected = shards
  dst = str(tmp_path / 'npy')
  bt.convert(str(root / 'part-*'), dst, seq_length=SEQ, max_predictions=PRED)
  kw = dict(global_batch_size=8, seed=3, seq_length=SEQ, max_predictions=PRED)
  files = str(root / 'part-*')

  def take(it, n):
    return [next(it) for _ in range(n)]

  full = take(bt.bert_train_batches(files, **kw), 6)  # > 2 epochs of 21
  again = take(bt.bert_train_batches(files, **kw), 6)
  converted = take(bt.bert_train_batches(dst, **kw), 6)
  h0 = take(bt.bert_train_batches(files, host=HostShard(0, 2), **kw), 6)
  h1 = take(bt.bert_train_batches(dst, host=HostShard(1, 2), **kw), 6)
  resumed = take(bt.bert_train_batches(files, start_step=4, **kw), 2)
  for step in range(6):
    for k in expected:
      np.testing.assert_array_equal(full[step][k], again[step][k])
      np.testing.assert_array_equal(full[step][k], converted[step][k])
      np.testing.assert_array_equal(
          full[step][k], np.concatenate([h0[step][k], h1[step][k]]))
      if step >= 4:
        np.testing.assert_array_equal(full[step][k], resumed[step - 4][k])
  # The batches follow the shared permutation: epoch 0 is every record once.
  order = np.concatenate([batching.epoch_permutation(21, 3, 0),
                          batching.epoch_permutation(21, 3, 1),
                          batching.epoch_permutation(21, 3, 2)])
  for step in range(6):
    _check_batch(full[step], expected, order[8 * step:8 * step + 8])
  assert sorted(order[:21].tolist()) == list(range(21))


def test_eval_batches_cover_every_record_once(shards, tmp_path):
  root, expected = shards
  kw = dict(global_batch_size=8, seq_length=SEQ, max_predictions=PRED)
  seen = []
  for h in range(2):
    for batch in bt.bert_eval_batches(str(root / 'part-*'),
                                      host=HostShard(h, 2), num_examples=21,
                                      **kw):
      assert batch['input_ids'].shape == (4, SEQ)
      real = batch['mask'] == 1
      seen.append(batch['input_ids'][real])
      assert batch['mask'].dtype == np.float32
  got = np.concatenate(seen)
  assert got.shape == (21, SEQ)
  np.testing.assert_array_equal(np.sort(got, axis=0),
                                np.sort(expected['input_ids'], axis=0))
  with pytest.raises(bt.DataError, match='holds 21 eval examples, expected '
                     '10000'):
    bt.bert_eval_batches(str(root / 'part-*'), num_examples=bt.EVAL_EXAMPLES,
                         **kw)


def test_reference_shapes(tmp_path):
  path = str(tmp_path / 'eval_10k')
  arrays = _arrays(3, 9, seq=512, pred=76)
  bt.write_bert_tfrecord(path, arrays)
  batches = list(bt.bert_eval_batches(path, global_batch_size=4))
  assert len(batches) == 1
  shapes = {k: (v.shape, v.dtype.name) for k, v in batches[0].items()}
  assert shapes == {
      'input_ids': ((4, 512), 'int32'), 'input_mask': ((4, 512), 'int32'),
      'segment_ids': ((4, 512), 'int32'),
      'masked_lm_positions': ((4, 76), 'int32'),
      'masked_lm_ids': ((4, 76), 'int32'),
      'masked_lm_weights': ((4, 76), 'float32'),
      'next_sentence_labels': ((4, 1), 'int32'), 'mask': ((4,), 'float32')}
  np.testing.assert_array_equal(batches[0]['mask'], [1, 1, 1, 0])
  np.testing.assert_array_equal(batches[0]['input_ids'][:3],
                                arrays['input_ids'])


def test_data_dir_layout(shards, tmp_path):
  """`train_batches(DATA_DIR)` reads DATA_DIR/train, a TFRecord directory."""
  root, expected = shards
  data_dir = tmp_path / 'data'
  with pytest.raises(bt.DataError, match='train: no such directory'):
    bt.train_batches(str(data_dir), global_batch_size=2, seed=0)
  (data_dir / 'train').mkdir(parents=True)
  for name in ('part-00000', 'part-00001', 'part-00002'):
    (data_dir / 'train' / name).write_bytes((root / name).read_bytes())
  bt.convert(str(root / 'part-00001'), str(data_dir / 'eval'), seq_length=SEQ,
             max_predictions=PRED)
  kw = dict(seq_length=SEQ, max_predictions=PRED)
  batch = next(bt.train_batches(str(data_dir), global_batch_size=21, seed=1,
                                **kw))
  order = batching.epoch_permutation(21, 1, 0)
  _check_batch(batch, expected, order)
  evals = list(bt.eval_batches(str(data_dir), global_batch_size=4, **kw))
  assert [b['mask'].sum() for b in evals] == [4, 1]
  np.testing.assert_array_equal(evals[0]['input_ids'],
                                expected['input_ids'][7:11])
