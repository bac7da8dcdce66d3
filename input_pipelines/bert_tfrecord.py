# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The MLPerf BERT reference's preprocessed data, read without TensorFlow.

The reference trains on TFRecord files of `tf.train.Example`s with the int64
features `input_ids`, `input_mask`, `segment_ids` (512 each),
`masked_lm_positions`, `masked_lm_ids` (76 each), `next_sentence_labels` (1)
and the float feature `masked_lm_weights` (76), and evaluates on one fixed
file of 10,000 such examples. On top of `tfrecord` (framing with checksums,
`tf.train.Example` codec) this module gives

* `RecordSource`: a global index of record offsets over many TFRecord files,
  for random access (one `pread` + CRC check + decode per example);
* `convert` / `ArraySource`: the same records converted offline (untimed, as
  the rules allow) into one `.npy` array per feature and shard, each in the
  narrowest integer type that holds its values exactly, memory-mapped: the
  conversion adds no information and loses none;
* `bert_train_batches` / `bert_eval_batches`: the project's deterministic,
  host-sharded batching (`batching.train_batches` / `eval_batches`) over
  either source, yielding int32 / float32 arrays of the reference shapes
  (`next_sentence_labels` is `[B, 1]`, as the reference's `FixedLenFeature`);
* `train_batches(data_dir)` / `eval_batches(data_dir)` for the layout
  `DATA_DIR/train` and `DATA_DIR/eval`, each a directory of TFRecord files
  or of converted arrays.

Record order is the sorted file list, then file order, in both sources, so
converted and unconverted data give identical batches. Building a
`RecordSource` reads every record header (one seek per record); for the full
reference data set convert first, e.g.

  python -m mlperf_jax.input_pipelines.bert_tfrecord convert \
      '/data/bert/tfrecords/part-*' /data/bert/train
  python -m mlperf_jax.input_pipelines.bert_tfrecord convert \
      /data/bert/tfrecords/eval_10k /data/bert/eval
"""

from collections.abc import Iterator, Mapping, Sequence
import argparse
import glob as glob_lib
import json
import os
import sys
import threading

import numpy as np

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import batching
from mlperf_jax.input_pipelines.tfrecord import DataError
from mlperf_jax.input_pipelines.tfrecord import ExampleError
from mlperf_jax.input_pipelines.tfrecord import check_payload
from mlperf_jax.input_pipelines.tfrecord import decode_example
from mlperf_jax.input_pipelines.tfrecord import encode_example
from mlperf_jax.input_pipelines.tfrecord import index_tfrecord
from mlperf_jax.input_pipelines.tfrecord import write_tfrecord

SEQ_LENGTH = 512
MAX_PREDICTIONS = 76
EVAL_EXAMPLES = 10_000
INT_FEATURES = ('input_ids', 'input_mask', 'segment_ids',
                'masked_lm_positions', 'masked_lm_ids', 'next_sentence_labels')
FLOAT_FEATURES = ('masked_lm_weights',)
MANIFEST = 'manifest.json'
_FORMAT = 'mlperf_jax.bert_npy.v1'


def feature_lengths(seq_length: int = SEQ_LENGTH,
                    max_predictions: int = MAX_PREDICTIONS) -> dict[str, int]:
  """Per-example length of each feature, in the reference's feature order."""
  return {'input_ids': seq_length, 'input_mask': seq_length,
          'segment_ids': seq_length, 'masked_lm_positions': max_predictions,
          'masked_lm_ids': max_predictions,
          'masked_lm_weights': max_predictions, 'next_sentence_labels': 1}


def encode_bert_example(example: Mapping[str, np.ndarray]) -> bytes:
  """A BERT example (the seven features) as a serialised tf.train.Example."""
  missing = set(INT_FEATURES + FLOAT_FEATURES) - set(example)
  if missing:
    raise ValueError(f'BERT example lacks features {sorted(missing)}')
  return encode_example({
      k: np.asarray(example[k], np.float32 if k in FLOAT_FEATURES else np.int64)
      for k in INT_FEATURES + FLOAT_FEATURES})


def write_bert_tfrecord(path: str, arrays: Mapping[str, np.ndarray]) -> int:
  """Writes `N` BERT examples given as `{feature: [N, length] array}`."""
  n = len(arrays['input_ids'])
  return write_tfrecord(path, (encode_bert_example(
      {k: np.reshape(v[i], -1) for k, v in arrays.items()}) for i in range(n)))


def _bert_features(example: dict, lengths: Mapping[str, int],
                   where: str) -> dict[str, np.ndarray]:
  out = {}
  for name, length in lengths.items():
    value = example.get(name)
    want = np.float32 if name in FLOAT_FEATURES else np.int64
    if not isinstance(value, np.ndarray) or value.dtype != want:
      kind = 'missing' if value is None else 'of the wrong type'
      raise DataError(f'{where}: feature {name!r} is {kind} (expected a '
                      f'{"float" if want == np.float32 else "int64"} list of '
                      f'{length}); is this MLPerf BERT pretraining data?')
    if value.size != length:
      raise DataError(
          f'{where}: feature {name!r} has {value.size} values, expected '
          f'{length}; pass seq_length/max_predictions matching the data.')
    out[name] = value
  return out


# ------------------------------------------------------------------ sources


def resolve_files(files: str | Sequence[str]) -> list[str]:
  """Record files from globs, file paths or directories (all files inside).

  Returns:
    The sorted, de-duplicated list of files.

  Raises:
    DataError: a pattern matches nothing, or no file is found.
  """
  patterns = [files] if isinstance(files, (str, os.PathLike)) else list(files)
  out = []
  for p in patterns:
    p = os.fspath(p)
    if os.path.isdir(p):
      p = os.path.join(p, '*')
    matches = sorted(glob_lib.glob(p))
    if not matches:
      raise DataError(f'no files match {p!r}')
    out.extend(m for m in matches if os.path.isfile(m))
  if not out:
    raise DataError(f'{patterns} match only directories, no record files')
  return sorted(set(out))


def _to_model_dtypes(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  return {k: v.astype(np.float32 if k in FLOAT_FEATURES else np.int32)
          for k, v in batch.items()}


class RecordSource:
  """Random access to the BERT examples of TFRecord files.

  Attributes:
    files: the sorted record files; example `i` of the global index is record
      `local[i]` of file `file_ids[i]`.
  """

  def __init__(self, files: str | Sequence[str], *,
               seq_length: int = SEQ_LENGTH,
               max_predictions: int = MAX_PREDICTIONS):
    self.files = resolve_files(files)
    self.lengths = feature_lengths(seq_length, max_predictions)
    ids, offsets, sizes = [], [], []
    for i, path in enumerate(self.files):
      o, s = index_tfrecord(path)
      ids.append(np.full(o.size, i, np.int32))
      offsets.append(o)
      sizes.append(s)
    self.file_ids = np.concatenate(ids)
    self.offsets = np.concatenate(offsets)
    self.sizes = np.concatenate(sizes)
    if not self.offsets.size:
      raise DataError(f'{self.files}: no records')
    self._fds: dict[int, int] = {}
    self._lock = threading.Lock()

  def __len__(self) -> int:
    return int(self.offsets.size)

  def _fd(self, file_id: int) -> int:
    with self._lock:
      if file_id not in self._fds:
        self._fds[file_id] = os.open(self.files[file_id], os.O_RDONLY)
      return self._fds[file_id]

  def record(self, index: int) -> bytes:
    """The verified payload of example `index` (a serialised Example)."""
    f, offset = int(self.file_ids[index]), int(self.offsets[index])
    buf = os.pread(self._fd(f), int(self.sizes[index]) + 4, offset)
    if len(buf) != self.sizes[index] + 4:
      raise DataError(f'{self.files[f]}: truncated at byte {offset}')
    return check_payload(buf, self.files[f], offset)

  def example(self, index: int) -> dict[str, np.ndarray]:
    """Example `index` as int64/float32 arrays (the stored values)."""
    where = (f'{self.files[int(self.file_ids[index])]}: record at byte '
             f'{int(self.offsets[index]) - 12}')
    record = self.record(index)
    try:
      decoded = decode_example(record)
    except ExampleError as e:
      raise DataError(f'{where}: {e}') from None
    return _bert_features(decoded, self.lengths, where)

  def load(self, indices: np.ndarray, rng=None) -> dict[str, np.ndarray]:
    """A batch for `batching`: int32/float32 arrays, len(indices) rows."""
    del rng  # BERT's masking is in the data; nothing is random at load time.
    examples = [self.example(int(i)) for i in indices]
    return _to_model_dtypes({
        k: np.stack([e[k] for e in examples]).reshape(len(examples), n)
        for k, n in self.lengths.items()})

  def close(self, _os_close=os.close):
    """Closes the open files (also done when the source is collected)."""
    with self._lock:
      for fd in self._fds.values():
        _os_close(fd)  # bound at definition: works during interpreter exit
      self._fds.clear()

  def __del__(self):
    if getattr(self, '_fds', None):
      self.close()


def _narrowest_int(lo: int, hi: int) -> np.dtype:
  for dtype in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32):
    info = np.iinfo(dtype)
    if info.min <= lo and hi <= info.max:
      return np.dtype(dtype)
  return np.dtype(np.int64)


def convert(files: str | Sequence[str], dst_dir: str, *,
            seq_length: int = SEQ_LENGTH,
            max_predictions: int = MAX_PREDICTIONS) -> dict:
  """Converts TFRecord files to the random-access `.npy` format.

  One shard per source file (`DST/shard-NNNNN/<feature>.npy`), records in
  the same order; integer features in the narrowest exact dtype, floats as
  float32; a `manifest.json` lists shards, counts, dtypes and value ranges.
  Each source file is decoded fully in memory (about 7 KB per example).

  Returns:
    The manifest dict.
  """
  if os.path.exists(dst_dir) and (not os.path.isdir(dst_dir)
                                  or os.listdir(dst_dir)):
    raise DataError(
        f'{dst_dir} ' + ('already holds a converted data set '
                         f'({MANIFEST})' if os.path.exists(
                             os.path.join(dst_dir, MANIFEST)) else
                         'is not an empty directory') +
        '; nothing was written: choose a new or empty directory.')
  source = RecordSource(files, seq_length=seq_length,
                        max_predictions=max_predictions)
  os.makedirs(dst_dir, exist_ok=True)
  shards = []
  for f, path in enumerate(source.files):
    rows = np.flatnonzero(source.file_ids == f)
    examples = [source.example(int(i)) for i in rows]
    shard = {'source': os.path.basename(path), 'count': len(rows),
             'features': {}}
    shard_dir = os.path.join(dst_dir, f'shard-{f:05d}')
    os.makedirs(shard_dir, exist_ok=True)
    for name, length in source.lengths.items():
      if examples:
        array = np.stack([e[name] for e in examples]).reshape(len(rows), length)
      else:
        array = np.zeros((0, length), np.int64)
      if name in FLOAT_FEATURES:
        stored = array.astype(np.float32)
        lo = hi = None
      else:
        lo, hi = (int(array.min()), int(array.max())) if array.size else (0, 0)
        stored = array.astype(_narrowest_int(lo, hi))
      np.save(os.path.join(shard_dir, f'{name}.npy'), stored)
      shard['features'][name] = {'dtype': stored.dtype.str, 'min': lo,
                                 'max': hi}
    shards.append(shard)
  source.close()
  manifest = {'format': _FORMAT, 'lengths': source.lengths, 'shards': shards,
              'count': len(source)}
  with open(os.path.join(dst_dir, MANIFEST + '.tmp'), 'w') as fp:
    json.dump(manifest, fp, indent=1)
  os.replace(os.path.join(dst_dir, MANIFEST + '.tmp'),
             os.path.join(dst_dir, MANIFEST))
  return manifest


class ArraySource:
  """Random access to a data set written by `convert` (memory-mapped)."""

  def __init__(self, path: str):
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest_path):
      raise DataError(f'{path}: no {MANIFEST}; convert TFRecords first with '
                      '`python -m mlperf_jax.input_pipelines.bert_tfrecord '
                      'convert SRC_GLOB DST_DIR`.')
    with open(manifest_path) as fp:
      manifest = json.load(fp)
    if manifest.get('format') != _FORMAT:
      raise DataError(f'{manifest_path}: unknown format '
                      f'{manifest.get("format")!r}, expected {_FORMAT!r}')
    self.lengths = manifest['lengths']
    self.arrays: list[dict[str, np.ndarray]] = []
    counts = []
    for i, shard in enumerate(manifest['shards']):
      shard_dir = os.path.join(path, f'shard-{i:05d}')
      arrays = {}
      for name, length in self.lengths.items():
        info = shard['features'][name]
        if info['max'] is not None and (info['max'] > np.iinfo(np.int32).max or
                                        info['min'] < np.iinfo(np.int32).min):
          raise DataError(f'{shard_dir}: {name} exceeds the int32 range')
        file = os.path.join(shard_dir, f'{name}.npy')
        try:
          arrays[name] = np.load(file, mmap_mode='r')
        except (OSError, ValueError) as e:
          raise DataError(f'{file}: unreadable ({e})') from None
        if arrays[name].shape != (shard['count'], length):
          raise DataError(f'{file}: shape {arrays[name].shape}, manifest says '
                          f'{(shard["count"], length)}; re-run convert.')
      self.arrays.append(arrays)
      counts.append(shard['count'])
    self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if self.starts[-1] == 0:
      raise DataError(f'{path}: no examples')

  def __len__(self) -> int:
    return int(self.starts[-1])

  def load(self, indices: np.ndarray, rng=None) -> dict[str, np.ndarray]:
    """A batch for `batching`: int32/float32 arrays, len(indices) rows."""
    del rng
    indices = np.asarray(indices, np.int64)
    shard = np.searchsorted(self.starts, indices, side='right') - 1
    out = {k: np.empty((indices.size, n), np.float32 if k in FLOAT_FEATURES
                       else np.int32) for k, n in self.lengths.items()}
    for s in np.unique(shard):
      rows = np.flatnonzero(shard == s)
      local = indices[rows] - self.starts[s]
      for name, array in self.arrays[s].items():
        out[name][rows] = array[local]
    return out


def open_source(path: str | Sequence[str],
                **kwargs) -> RecordSource | ArraySource:
  """An `ArraySource` for a converted directory, else a `RecordSource`."""
  if isinstance(path, (str, os.PathLike)) and os.path.isfile(
      os.path.join(path, MANIFEST)):
    return ArraySource(os.fspath(path))
  return RecordSource(path, **kwargs)


# ------------------------------------------------------------------ batches


def bert_train_batches(files: str | Sequence[str], *, global_batch_size: int,
                       seed: int, host: HostShard = HostShard(),
                       start_step: int = 0, num_threads: int = 0,
                       seq_length: int = SEQ_LENGTH,
                       max_predictions: int = MAX_PREDICTIONS
                       ) -> Iterator[dict[str, np.ndarray]]:
  """Infinite, deterministic stream of this host's training batches.

  Args:
    files: TFRecord glob / file list, or a directory written by `convert`.
    global_batch_size: sequences per step over all hosts.
    seed: data seed; epoch `e` visits `permutation((seed, e))` of all records.
    host: this host's shard; it takes a contiguous slice of each batch
      (`host.count` divides `global_batch_size`).
    start_step: first step (resume without replaying earlier steps).
    num_threads: loader threads (0: load in the caller).
    seq_length: tokens per sequence in the data (512 for the reference).
    max_predictions: masked positions per sequence (76 for the reference).

  Yields:
    `{feature: array}` with `global_batch_size // host.count` rows: int32
    `[B, seq_length]` ids/mask/segments, int32 `[B, max_predictions]`
    positions/ids, float32 `[B, max_predictions]` weights, int32 `[B, 1]`
    next-sentence labels.
  """
  source = open_source(files, seq_length=seq_length,
                       max_predictions=max_predictions)
  return batching.train_batches(
      len(source), source.load, global_batch_size=global_batch_size, seed=seed,
      host=host, start_step=start_step, num_threads=num_threads)


def bert_eval_batches(path: str | Sequence[str], *, global_batch_size: int,
                      host: HostShard = HostShard(),
                      num_examples: int | None = None, num_threads: int = 0,
                      seq_length: int = SEQ_LENGTH,
                      max_predictions: int = MAX_PREDICTIONS
                      ) -> Iterator[dict[str, np.ndarray]]:
  """This host's eval batches: every eval example exactly once, in order.

  The last global batch is padded (with example 0) and every batch carries a
  float32 `mask` (1 real, 0 padding); see `batching.eval_batches`.

  Args:
    path: the eval TFRecord file (or glob / converted directory).
    global_batch_size: sequences per eval step over all hosts.
    host: this host's shard (`host.count` divides `global_batch_size`).
    num_examples: if given, the exact number of examples the data must hold
      (`EVAL_EXAMPLES` = 10,000 for the reference).
    num_threads: loader threads.
    seq_length: tokens per sequence.
    max_predictions: masked positions per sequence.

  Yields:
    The training batch layout plus `mask`.
  """
  source = open_source(path, seq_length=seq_length,
                       max_predictions=max_predictions)
  if num_examples is not None and len(source) != num_examples:
    raise DataError(f'{path}: holds {len(source)} eval examples, expected '
                    f'{num_examples}.')
  return batching.eval_batches(
      len(source), source.load, global_batch_size=global_batch_size,
      host=host, num_threads=num_threads)


def _split_dir(data_dir: str, split: str) -> str:
  path = os.path.join(data_dir, split)
  if not os.path.isdir(path):
    raise DataError(
        f'{path}: no such directory. The BERT reference data directory holds '
        f'{split}/ with the TFRecord files (or the output of `python -m '
        'mlperf_jax.input_pipelines.bert_tfrecord convert SRC_GLOB '
        f'{path}`).')
  return path


def train_batches(data_dir: str, **kwargs) -> Iterator[dict[str, np.ndarray]]:
  """`bert_train_batches` over `DATA_DIR/train` (same keyword arguments)."""
  return bert_train_batches(_split_dir(data_dir, 'train'), **kwargs)


def eval_batches(data_dir: str, **kwargs) -> Iterator[dict[str, np.ndarray]]:
  """`bert_eval_batches` over `DATA_DIR/eval` (same keyword arguments)."""
  return bert_eval_batches(_split_dir(data_dir, 'eval'), **kwargs)


# -------------------------------------------------------------- validation


def verify_records(source: RecordSource | ArraySource) -> None:
  """Reads every example (TFRecords: both checksums, the Example encoding
  and the feature lengths); raises DataError at the first bad one."""
  if isinstance(source, RecordSource):
    for i in range(len(source)):
      source.example(i)
  else:
    for start in range(0, len(source), 4096):
      source.load(np.arange(start, min(start + 4096, len(source))))


def check_dataset(data_dir: str, *, eval_samples: int | None = None,
                  seq_length: int = SEQ_LENGTH,
                  max_predictions: int = MAX_PREDICTIONS) -> list[str]:
  """Problems with a BERT reference data directory, found cheaply.

  `DATA_DIR/train` and `DATA_DIR/eval` must each hold TFRecord files or the
  output of `convert`. Checked: the layout; converted arrays open with the
  shapes of their manifest; for TFRecords, every record header of the eval
  files and of the first and last train file (framing and length checksums)
  and the first and last example of each split (data checksum, Example
  encoding, feature lengths); the eval count is `eval_samples` when given.
  Imports no JAX. Called by `BertWorkload.check_request` before compute.
  """
  problems = []
  for split in ('train', 'eval'):
    try:
      path = _split_dir(data_dir, split)
      source = _checked_source(path, split, seq_length, max_predictions)
      n = len(source)
      source.load(np.array(sorted({0, n - 1})))
    except DataError as e:
      problems.append(f'BERT {split} data: {e}')
      continue
    if split == 'eval' and eval_samples is not None and n != eval_samples:
      problems.append(
          f'BERT eval data: {path} holds {n} examples; the reference '
          f'evaluates on exactly {eval_samples} (the eval_10k file, '
          'converted or not); give that file as DATA_DIR/eval')
  return problems


def _checked_source(path: str, split: str, seq_length: int,
                    max_predictions: int) -> RecordSource | ArraySource:
  """The split's source; for the training TFRecords only the first and
  last file are indexed (the full set is hundreds of files)."""
  if os.path.isfile(os.path.join(path, MANIFEST)):
    try:
      return ArraySource(path)
    except (KeyError, TypeError, ValueError) as e:
      if isinstance(e, DataError):
        raise
      raise DataError(f'{path}/{MANIFEST} is malformed ({e}); re-run '
                      'convert into an empty directory') from None
  files = resolve_files(path)
  if split == 'train':
    files = sorted({files[0], files[-1]})
  return RecordSource(files, seq_length=seq_length,
                      max_predictions=max_predictions)


# ---------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m mlperf_jax.input_pipelines.bert_tfrecord',
      description='Offline tools for the MLPerf BERT TFRecord data.')
  sub = parser.add_subparsers(dest='command', required=True)
  conv = sub.add_parser('convert', help='TFRecords -> random-access .npy')
  conv.add_argument('src', help="glob of TFRecord files, e.g. 'part-*'")
  conv.add_argument('dst', help='empty output directory')
  info = sub.add_parser('info', help='count and check records')
  info.add_argument('src', help='glob of TFRecord files or converted dir')
  for p in (conv, info):
    p.add_argument('--seq-length', type=int, default=SEQ_LENGTH)
    p.add_argument('--max-predictions', type=int, default=MAX_PREDICTIONS)
  args = parser.parse_args(argv)
  kwargs = dict(seq_length=args.seq_length,
                max_predictions=args.max_predictions)
  try:
    if args.command == 'convert':
      manifest = convert(args.src, args.dst, **kwargs)
      print(f'converted {manifest["count"]} examples from '
            f'{len(manifest["shards"])} files into {args.dst}')
    else:
      source = open_source(args.src, **kwargs)
      verify_records(source)
      first = source.load(np.array([0]))
      print(f'{len(source)} examples, every one checked; first: ' + ', '.join(
          f'{k} {v.shape[1:]} {v.dtype}' for k, v in first.items()))
  except DataError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main())
