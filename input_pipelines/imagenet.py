# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ImageNet 2012 (ILSVRC) as prepared by tensorflow-datasets, for ResNet-50.

Expected layout: `<data_dir>/imagenet2012/<version>/` with `dataset_info.json`
and the split shards, written by `tfds build imagenet2012` (the 'train' split
has 1,281,167 examples, 'validation' 50,000; labels 0..999 in tfds' sorted
synset order, the same as the MLPerf reference's 1..1000 minus one).

Two on-disk formats:

* **array_record** (`tfds build ... --file_format=array_record`): read here
  with `tfds.data_source`, random access, no TensorFlow. Batches follow
  `batching`'s global-permutation order exactly (deterministic, resumable).
* **tfrecord** (tfds' default): only TensorFlow can read it. With TensorFlow
  installed (`pip install 'mlperf_jax[tf]'`) this module streams it through
  `builder.as_dataset` (per-host even split, seeded shuffle buffer); without it,
  `TensorFlowRequiredError` says so and how to convert the files once:
  `tfds convert_format --dataset_version_dir=<data_dir>/imagenet2012/<version>
  --out_file_format=array_record` (needs TensorFlow for that one run).

tfds decodes the JPEGs to uint8 RGB arrays (with OpenCV if installed, else
PIL; both wrap libjpeg, and grey images are widened to 3 channels as TF does);
`image_ops` does the rest of the MLPerf reference preprocessing. Keeping tfds'
decoder (rather than `SkipDecoding`) also lets `tfds.testing.mock_data` drive
this exact code without TensorFlow, since mocking encoded images needs TF.
"""

from collections.abc import Iterator, Sequence
import dataclasses
import functools
import json
import os
import re
from typing import Any

import numpy as np

from mlperf_jax.api import HostShard
from mlperf_jax.input_pipelines import batching
from mlperf_jax.input_pipelines import image_ops

DATASET_NAME = 'imagenet2012'
IMAGENET_TRAIN_SAMPLES = 1_281_167
IMAGENET_EVAL_SAMPLES = 50_000
IMAGENET_NUM_CLASSES = 1000
TRAIN_SPLIT = 'train'
EVAL_SPLIT = 'validation'
# tfds' current imagenet2012 version first; older ones are accepted if present.
_PREFERRED_VERSIONS = ('5.1.0', '5.0.0')
# Decoding a JPEG dominates; threads overlap it (PIL releases the GIL).
DEFAULT_NUM_THREADS = min(8, os.cpu_count() or 1)

_PREPARE_HINT = (
    'Prepare it once (needs the ILSVRC2012_img_train.tar and '
    'ILSVRC2012_img_val.tar archives from image-net.org and TensorFlow for '
    "the build: pip install 'mlperf_jax[tf]'):\n"
    '  tfds build imagenet2012 --data_dir={data_dir} --manual_dir=<dir with '
    'the tars> --file_format=array_record\n'
    'The array_record result is then read without TensorFlow.')


class TensorFlowRequiredError(ImportError):
  """The prepared dataset is in a format only TensorFlow can read."""


@dataclasses.dataclass(frozen=True)
class PreparedDataset:
  """Where and how a tfds-prepared ImageNet lives.

  Attributes:
    data_dir: the tfds data_dir (parent of `imagenet2012/`).
    version: dataset version string, e.g. '5.1.0'.
    path: `<data_dir>/imagenet2012/<version>`.
    file_format: 'array_record' or 'tfrecord'.
  """
  data_dir: str
  version: str
  path: str
  file_format: str


def _version_key(version: str) -> tuple[int, ...]:
  return tuple(int(p) for p in version.split('.'))


def _file_format(path: str) -> str:
  """Reads the shard format from dataset_info.json, else from shard names."""
  with open(os.path.join(path, 'dataset_info.json')) as f:
    info = json.load(f)
  # tfds omits the field for its default format (tfrecord).
  declared = info.get('fileFormat')
  if declared:
    return str(declared)
  names = os.listdir(path)
  if any('.array_record-' in n for n in names):
    return 'array_record'
  return 'tfrecord'


def find_prepared_dataset(data_dir: str | os.PathLike[str]) -> PreparedDataset:
  """Locates the prepared imagenet2012 build under `data_dir`.

  Accepts the tfds data_dir itself or, for convenience, its `imagenet2012/`
  or `imagenet2012/<version>/` sub-directory.

  Args:
    data_dir: directory given by the user.

  Returns:
    The located build.

  Raises:
    FileNotFoundError: with the expected layout and how to prepare it.
  """
  if data_dir is None or not str(data_dir):
    raise FileNotFoundError(
        'No ImageNet data_dir given. ' + _PREPARE_HINT.format(
            data_dir='<data_dir>'))
  given = os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
  if not os.path.isdir(given):
    raise FileNotFoundError(
        f'ImageNet data_dir {given!r} does not exist. Expected a '
        f'tensorflow-datasets build at {given}/{DATASET_NAME}/<version>/. '
        + _PREPARE_HINT.format(data_dir=given))
  root = given
  if re.fullmatch(r'\d+\.\d+\.\d+', os.path.basename(root)):
    root = os.path.dirname(root)
  if os.path.basename(root) == DATASET_NAME:
    root = os.path.dirname(root)
  dataset_dir = os.path.join(root, DATASET_NAME)
  versions = []
  if os.path.isdir(dataset_dir):
    versions = [v for v in os.listdir(dataset_dir)
                if re.fullmatch(r'\d+\.\d+\.\d+', v) and os.path.isfile(
                    os.path.join(dataset_dir, v, 'dataset_info.json'))]
  if not versions:
    raise FileNotFoundError(
        f'No prepared {DATASET_NAME} found in {given!r}: expected '
        f'{dataset_dir}/<version>/dataset_info.json (versions '
        f'{", ".join(_PREFERRED_VERSIONS)}). Note that data_dir is the tfds '
        'data_dir, the parent of imagenet2012/. '
        + _PREPARE_HINT.format(data_dir=root))
  preferred = [v for v in _PREFERRED_VERSIONS if v in versions]
  version = preferred[0] if preferred else max(versions, key=_version_key)
  path = os.path.join(dataset_dir, version)
  return PreparedDataset(data_dir=root, version=version, path=path,
                         file_format=_file_format(path))


def _tensorflow_available() -> bool:
  try:
    import tensorflow  # noqa: F401  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


def _tf_missing_error(prepared: PreparedDataset) -> TensorFlowRequiredError:
  return TensorFlowRequiredError(
      f'{DATASET_NAME} at {prepared.path} is stored as '
      f'{prepared.file_format!r} (tfds\' default), which only TensorFlow can '
      'read, and TensorFlow is not installed. Either install it:\n'
      "  pip install 'mlperf_jax[tf]'\n"
      'or convert the build once to array_record (read without TensorFlow; '
      'the conversion itself needs TensorFlow):\n'
      f'  tfds convert_format --dataset_version_dir={prepared.path} '
      '--out_file_format=array_record\n'
      "or rebuild with 'tfds build imagenet2012 --file_format=array_record'.")


def open_split(data_dir: str | os.PathLike[str], split: str) -> Sequence[Any]:
  """Random-access source of an array_record-prepared split.

  Args:
    data_dir: tfds data_dir (see `find_prepared_dataset`).
    split: 'train' or 'validation' (any tfds split string).

  Returns:
    `tfds.data_source` sequence; items are dicts with 'image' (uint8
    [H, W, 3]), 'label' (int) and 'file_name'.

  Raises:
    FileNotFoundError: no prepared dataset.
    TensorFlowRequiredError: the build is TFRecord and TensorFlow is missing.
    ValueError: the build is TFRecord (use the streaming readers instead).
  """
  prepared = find_prepared_dataset(data_dir)
  if prepared.file_format != 'array_record':
    if not _tensorflow_available():
      raise _tf_missing_error(prepared)
    raise ValueError(
        f'{prepared.path} is {prepared.file_format!r}: no random access. Use '
        'imagenet_train_batches/imagenet_eval_batches (they stream it with '
        'TensorFlow), or convert it to array_record.')
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds.data_source(
      f'{DATASET_NAME}:{prepared.version}', split=split,
      data_dir=prepared.data_dir, download=False)


def _read_records(source: Sequence[Any], indices: np.ndarray) -> list[Any]:
  keys = [int(i) for i in indices]
  try:
    # Batched read: array_record fetches the records in parallel.
    return list(source.__getitems__(keys))
  except (AttributeError, TypeError):
    return [source[k] for k in keys]


def _stack(images: list[np.ndarray],
           labels: list[Any]) -> dict[str, np.ndarray]:
  return {'image': np.stack(images).astype(np.float32, copy=False),
          'label': np.asarray(labels, dtype=np.int32)}


def _train_example(record: dict[str, Any], rng: np.random.Generator,
                   image_size: int, crop: image_ops.CropConfig,
                   std=None) -> np.ndarray:
  return image_ops.preprocess_for_train(record['image'], rng,
                                        image_size=image_size, crop=crop,
                                        std=std)


def eval_example(record: dict[str, Any], image_size: int,
                 std=None) -> np.ndarray:
  """One validation record -> the MLPerf eval-preprocessed image (channel
  means subtracted; divided by `std` too when given, an open-division
  option)."""
  return image_ops.preprocess_for_eval(
      record['image'], image_size=image_size,
      resize_min=round(image_size * image_ops.RESIZE_MIN /
                       image_ops.IMAGE_SIZE), std=std)


def imagenet_train_batches(
    data_dir: str | os.PathLike[str], *, global_batch_size: int, seed: int,
    host: HostShard = HostShard(), image_size: int = 224,
    start_step: int = 0, num_threads: int | None = None,
    crop: image_ops.CropConfig = image_ops.MLPERF_CROP, std=None,
) -> Iterator[dict[str, np.ndarray]]:
  """Infinite stream of training host batches.

  Args:
    data_dir: tfds data_dir holding `imagenet2012/<version>/`.
    global_batch_size: images per global batch, over all hosts.
    seed: data seed (order and augmentation).
    host: this host's shard; `host.count` must divide `global_batch_size`.
    image_size: output side.
    start_step: first step to produce (resume).
    num_threads: loader threads (default `DEFAULT_NUM_THREADS`).
    crop: random-crop parameters (default: the MLPerf reference's).
    std: channel stds to divide by after the mean subtraction (None: the
      reference's mean-only normalisation).

  Returns:
    Iterator of {'image': float32 [B, S, S, 3], 'label': int32 [B]},
    B = global_batch_size // host.count.

  Raises:
    FileNotFoundError: no prepared dataset.
    TensorFlowRequiredError: TFRecord build and no TensorFlow.
  """
  num_threads = DEFAULT_NUM_THREADS if num_threads is None else num_threads
  prepared = find_prepared_dataset(data_dir)
  if prepared.file_format != 'array_record':
    return _tf_train_batches(prepared, global_batch_size, seed, host,
                             image_size, start_step, crop, std)
  source = open_split(prepared.data_dir, TRAIN_SPLIT)

  def load(indices: np.ndarray, rng: np.random.Generator | None):
    records = _read_records(source, indices)
    return _stack([_train_example(r, rng, image_size, crop, std)
                   for r in records], [r['label'] for r in records])

  return batching.train_batches(
      len(source), load, global_batch_size=global_batch_size, seed=seed,
      host=host, start_step=start_step, num_threads=num_threads)


def imagenet_eval_batches(
    data_dir: str | os.PathLike[str], *, global_batch_size: int,
    host: HostShard = HostShard(), image_size: int = 224,
    num_threads: int | None = None, std=None
) -> Iterator[dict[str, np.ndarray]]:
  """The validation split once, in padded host batches with a `mask`.

  Every host yields `batching.num_eval_batches(50000, global_batch_size)`
  batches; masks over all hosts sum to the split size.

  Args:
    data_dir: tfds data_dir holding `imagenet2012/<version>/`.
    global_batch_size: images per global batch, over all hosts.
    host: this host's shard; `host.count` must divide `global_batch_size`.
    image_size: output side (centre crop of a 256/224 * size resize).
    num_threads: loader threads (default `DEFAULT_NUM_THREADS`).
    std: channel stds (None: the reference's mean-only normalisation).

  Returns:
    Iterator of {'image': float32 [B, S, S, 3], 'label': int32 [B],
    'mask': float32 [B]}.

  Raises:
    FileNotFoundError: no prepared dataset.
    TensorFlowRequiredError: TFRecord build and no TensorFlow.
  """
  num_threads = DEFAULT_NUM_THREADS if num_threads is None else num_threads
  prepared = find_prepared_dataset(data_dir)
  if prepared.file_format != 'array_record':
    return _tf_eval_batches(prepared, global_batch_size, host, image_size,
                            std)
  source = open_split(prepared.data_dir, EVAL_SPLIT)

  def load(indices: np.ndarray, rng: np.random.Generator | None):
    del rng  # Eval is deterministic.
    records = _read_records(source, indices)
    return _stack([eval_example(r, image_size, std) for r in records],
                  [r['label'] for r in records])

  return batching.eval_batches(
      len(source), load, global_batch_size=global_batch_size,
      host=host, num_threads=num_threads)


# TFRecord builds: streamed through TensorFlow. Order differs from the
# array_record path (per-host file split + shuffle buffer instead of a global
# permutation) but keeps the same batch shapes, augmentation and eval coverage.
_TF_SHUFFLE_BUFFER = 16384


def _tf_records(prepared: PreparedDataset, split: str, host: HostShard, *,
                shuffle_seed: int | None):
  """Per-host numpy iterator over a TFRecord split (TensorFlow required)."""
  if not _tensorflow_available():
    raise _tf_missing_error(prepared)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  # Keep TensorFlow off the accelerators JAX owns.
  tf.config.set_visible_devices([], 'GPU')
  builder = tfds.builder(f'{DATASET_NAME}:{prepared.version}',
                         data_dir=prepared.data_dir)
  host_split = tfds.even_splits(split, n=host.count,
                                drop_remainder=False)[host.index]
  training = shuffle_seed is not None
  read_config = tfds.ReadConfig(
      shuffle_seed=shuffle_seed, shuffle_reshuffle_each_iteration=True)
  # Decoding is left to image_ops (PIL), off TensorFlow's threads.
  ds = builder.as_dataset(split=host_split, shuffle_files=training,
                          read_config=read_config,
                          decoders={'image': tfds.decode.SkipDecoding()})
  if training:
    ds = ds.repeat().shuffle(_TF_SHUFFLE_BUFFER, seed=shuffle_seed)
  return ds.as_numpy_iterator()


def _tf_train_batches(prepared, global_batch_size, seed, host, image_size,
                      start_step, crop, std=None):
  per_host = batching.host_batch_size(global_batch_size, host)
  records = _tf_records(prepared, TRAIN_SPLIT, host, shuffle_seed=seed)

  def generate():
    for _ in range(start_step * per_host):  # Resume by skipping records.
      next(records)
    step = start_step
    while True:
      rng = batching.augmentation_rng(seed, step, host)
      chunk = [next(records) for _ in range(per_host)]
      yield _stack([_train_example(r, rng, image_size, crop, std)
                    for r in chunk], [r['label'] for r in chunk])
      step += 1

  return generate()


def _tf_eval_batches(prepared, global_batch_size, host, image_size, std=None):
  per_host = batching.host_batch_size(global_batch_size, host)
  records = _tf_records(prepared, EVAL_SPLIT, host, shuffle_seed=None)
  # Hosts hold N/H (+1) examples each; ceil(N / GBS) batches fit them all.
  num_batches = batching.num_eval_batches(
      _split_size(prepared, EVAL_SPLIT), global_batch_size)

  def generate():
    first = None
    for _ in range(num_batches):
      images, labels, mask = [], [], []
      for _ in range(per_host):
        record = next(records, None)
        if record is not None and first is None:
          first = record
        real = record is not None
        record = record if real else first
        images.append(eval_example(record, image_size, std))
        labels.append(record['label'])
        mask.append(float(real))
      batch = _stack(images, labels)
      batch[batching.MASK_KEY] = np.asarray(mask, np.float32)
      yield batch

  return generate()


@functools.lru_cache(maxsize=8)
def _split_size(prepared: PreparedDataset, split: str) -> int:
  """Example count of a split, from dataset_info.json."""
  with open(os.path.join(prepared.path, 'dataset_info.json')) as f:
    info = json.load(f)
  for s in info.get('splits', []):
    if s.get('name') == split:
      return int(sum(int(n) for n in s.get('shardLengths', [])))
  raise ValueError(f'Split {split!r} not in {prepared.path}/dataset_info.json.')


# ---------------------------------------------------------------------------
# Dataset validation before compute (`Workload.check_request`).

_SPLIT_COUNTS = {TRAIN_SPLIT: IMAGENET_TRAIN_SAMPLES,
                 EVAL_SPLIT: IMAGENET_EVAL_SAMPLES}


def check_dataset(data_dir: str | os.PathLike[str], *,
                  synthetic: bool = False) -> list[str]:
  """Problems with a prepared ImageNet, found cheaply (no decoding, no JAX).

  Checks the layout, `dataset_info.json` (valid JSON, both splits with the
  reference example counts), that the shard format is readable here
  (TFRecord needs TensorFlow), that every shard listed exists, and, for
  array_record, that the first and last shard hold the records the info
  says and that their first and last record can be read. Each problem says
  what is wrong and how to prepare the dataset.
  """
  if synthetic:
    return []
  try:
    prepared = find_prepared_dataset(data_dir)
  except FileNotFoundError as e:
    return [str(e)]
  except (OSError, ValueError) as e:
    return [f'{data_dir}: dataset_info.json cannot be read ({e}). '
            + _PREPARE_HINT.format(data_dir=data_dir)]
  info_path = os.path.join(prepared.path, 'dataset_info.json')
  hint = _PREPARE_HINT.format(data_dir=prepared.data_dir)
  try:
    with open(info_path) as f:
      info = json.load(f)
  except (OSError, ValueError) as e:
    return [f'{info_path} is not valid JSON ({e}): the build is damaged; '
            f'rebuild it. {hint}']
  if not isinstance(info, dict):
    return [f'{info_path} is not a tfds dataset_info object; rebuild. {hint}']
  if prepared.file_format not in ('array_record', 'tfrecord'):
    return [f'{info_path} declares fileFormat {prepared.file_format!r}; '
            f'expected array_record or tfrecord. {hint}']
  if prepared.file_format == 'tfrecord' and not _tensorflow_available():
    return [str(_tf_missing_error(prepared))]
  splits = {s.get('name'): s for s in info.get('splits', [])
            if isinstance(s, dict)}
  problems = []
  for split, expected in _SPLIT_COUNTS.items():
    problems += _check_split(prepared, splits.get(split), split, expected,
                             hint)
  return problems


def _check_split(prepared: PreparedDataset, entry: dict[str, Any] | None,
                 split: str, expected: int, hint: str) -> list[str]:
  where = f'{prepared.path} split {split!r}'
  if entry is None:
    return [f'{where} is missing from dataset_info.json; rebuild. {hint}']
  try:
    lengths = [int(n) for n in entry.get('shardLengths', [])]
  except (TypeError, ValueError):
    return [f'{where}: dataset_info.json has malformed shardLengths; rebuild. '
            f'{hint}']
  if sum(lengths) != expected:
    return [f'{where} holds {sum(lengths)} examples by dataset_info.json; '
            f'the MLPerf reference uses {expected} (a partial or different '
            f'build). {hint}']
  n = len(lengths)
  ext = 'array_record' if prepared.file_format == 'array_record' else (
      'tfrecord')
  names = [f'{DATASET_NAME}-{split}.{ext}-{k:05d}-of-{n:05d}'
           for k in range(n)]
  missing = [m for m in names
             if not os.path.isfile(os.path.join(prepared.path, m))]
  if missing:
    return [f'{where}: {len(missing)} of {n} shard files are missing (e.g. '
            f'{missing[0]}); the build is incomplete. {hint}']
  if prepared.file_format != 'array_record':
    return []
  problems = []
  for k in sorted({0, n - 1}):
    problems += _check_shard(os.path.join(prepared.path, names[k]),
                             lengths[k], hint)
  return problems


def _check_shard(path: str, count: int, hint: str) -> list[str]:
  """The shard holds `count` records; its first and last can be read."""
  try:
    from array_record.python import array_record_module  # pylint: disable=import-outside-toplevel
  except ImportError:
    return [f'{path}: reading array_record shards needs the array_record '
            'package (pip install array_record)']
  try:
    reader = array_record_module.ArrayRecordReader(path)
    try:
      have = reader.num_records()
      if have != count:
        return [f'{path} holds {have} records, dataset_info.json says {count}'
                f' (truncated or replaced); rebuild. {hint}']
      for i in sorted({0, count - 1}):
        if not reader.read([i]) or not reader.read([i])[0]:
          return [f'{path}: record {i} is empty; rebuild. {hint}']
    finally:
      reader.close()
  except Exception as e:  # pylint: disable=broad-except  # riegeli raises many
    first = str(e).strip().splitlines()[0][:160] if str(e).strip() else ''
    return [f'{path} is not a readable array_record shard '
            f'({type(e).__name__}: {first}); rebuild it. {hint}']
  return []
