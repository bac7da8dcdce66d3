# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The values in tests/fixtures/, written there by real TensorFlow.

`tests/fixtures/make_tf_fixtures.py` (run with TensorFlow installed) writes
these values with TensorFlow's own writers; the tests, which run without
TensorFlow, read the files with the project's readers and compare with these
same definitions, bit for bit. NumPy (and ml_dtypes, a NumPy and TensorFlow
dependency) only, so both sides can import it.
"""

import os

import ml_dtypes
import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'fixtures')
# tf.raw_ops.SaveV2 of `checkpoint_tensors()`.
RAW_CHECKPOINT = os.path.join(FIXTURES, 'tf_checkpoint', 'raw.ckpt')
# tf.train.Checkpoint(...).write() of `object_checkpoint_variables()`.
OBJECT_CHECKPOINT = os.path.join(FIXTURES, 'tf_checkpoint', 'object.ckpt')
# tf.io.TFRecordWriter of `bert_examples()` and of `misc_examples()`.
BERT_TFRECORD = os.path.join(FIXTURES, 'bert.tfrecord')
MISC_TFRECORD = os.path.join(FIXTURES, 'misc.tfrecord')
BERT_SEQ, BERT_PRED, BERT_COUNT = 32, 5, 4


def checkpoint_tensors() -> dict[str, np.ndarray]:
  """Tensors of several dtypes and shapes, incl. bfloat16 and strings."""
  grid = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
  return {
      'bert/embeddings/word_embeddings':
          (np.arange(40, dtype=np.float32).reshape(8, 5) - 20) / 16,
      'bert/encoder/layer_0/attention/self/query/kernel':
          (grid / 7 - 1).astype(np.float32),
      'global_step': np.array(28252, np.int64),
      'f16': np.array([0.5, -2.0, 65504.0, 6e-8], np.float16),
      'bf16': np.array([[1.0, -0.5, 3.140625], [1e30, -1e-30, 0.0]],
                       ml_dtypes.bfloat16),
      'f64': grid.reshape(6, 4) ** 2 / 3,
      'i32': np.array([[-2**31, -1, 0], [1, 7, 2**31 - 1]], np.int32),
      'i64': np.array([-2**63, -5, 2**40 + 3, 2**63 - 1], np.int64),
      'i8': np.array([-128, -1, 0, 127], np.int8),
      'u8': np.arange(0, 256, 51, dtype=np.uint8),
      'flags': np.array([True, False, True]),
      'c64': np.array([1 + 2j, -0.5 - 0.25j], np.complex64),
      'scalar': np.float32(-3.5),
      'empty': np.zeros((0, 3), np.float32),
      'strings': np.array([b'', b'abc', 'h\u00e9llo'.encode(), bytes(range(5)),
                           b'x' * 300], object),
      'string_matrix': np.array([[b'a', b'bb'], [b'ccc', b'']], object),
  }


def object_checkpoint_variables() -> dict[str, np.ndarray]:
  """Attribute name -> value of the tf.train.Checkpoint's variables."""
  return {
      'dense_kernel': np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
      'dense_bias': np.array([0.25, -1.0, 2.0], np.float32),
      'step': np.array(7, np.int64),
  }


def object_checkpoint_key(attribute: str) -> str:
  """The checkpoint key TensorFlow gives a tf.train.Checkpoint attribute."""
  return f'{attribute}/.ATTRIBUTES/VARIABLE_VALUE'


def bert_examples() -> list[dict[str, np.ndarray]]:
  """BERT pretraining examples (seq 32, 5 predictions): int64 and float."""
  out = []
  for i in range(BERT_COUNT):
    n = 10 + 5 * i  # real tokens
    pos = np.arange(BERT_SEQ)
    mask = (pos < n).astype(np.int64)
    out.append({
        'input_ids': ((pos * 977 + i * 131) % 30522 + 1) * mask,
        'input_mask': mask,
        'segment_ids': ((pos >= n // 2) & (pos < n)).astype(np.int64),
        'masked_lm_positions': np.array([1, 3, 4, 0, 0]) + i * np.array(
            [1, 1, 1, 0, 0]),
        'masked_lm_ids': np.array([2054, 103, 30521, 0, 0]) + i,
        'masked_lm_weights': np.array([1, 1, 1, 0, 0], np.float32),
        'next_sentence_labels': np.array([i % 2]),
    })
  return out


def misc_examples() -> list[dict[str, object]]:
  """Other features: bytes, special floats, extreme int64s, empty lists.

  A value `None` is a feature with no list set (`tf.train.Feature()`).
  """
  return [
      {
          'text': [b'', b'caf\xc3\xa9', bytes(range(256))],
          'floats': np.array([0.0, -0.0, 1.5, -1e-45, 3.4028235e38, np.inf,
                              -np.inf], np.float32),
          'ints': np.array([0, -1, 2**63 - 1, -2**63, 300], np.int64),
          'no_ints': np.zeros(0, np.int64),
          'no_floats': np.zeros(0, np.float32),
          'no_bytes': [],
          'unset': None,
          'k\u00fcy': np.array([1], np.int64),
      },
      {'label': np.array([5], np.int64), 'score': np.array([0.75],
                                                           np.float32)},
  ]
