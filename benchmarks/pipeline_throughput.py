# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Training input pipelines: items/s per CPU core, and the cores that would
feed an accelerator.

For each format the MLPerf references train on, this writes a few small
local files that imitate the real ones (no downloads) and runs the project's
own training input function over them, one batch to warm up and then the
measured batches, timed by the process's CPU time (`time.process_time`:
user + system of all its threads). A loaded machine inflates that far less
than wall time, so items / CPU-second, the items/s of one core, is the
figure that holds on a shared machine; the wall time and the load average
are printed beside it.

* `resnet`: ImageNet-like JPEGs (500x375, the median ImageNet train image;
  ~100 KB, near the train set's mean file of ~110 KB) through `batching.train_batches`
  with `image_ops.preprocess_for_train` (PIL decode, the reference's
  distorted-bounding-box crop, flip, TF1 bilinear resize to 224, channel
  means) and a stacked float32 batch: the `load` of `imagenet.
  imagenet_train_batches` with the file's bytes in place of the tfds record
  (tfds decodes with the same PIL without OpenCV).
* `ssd`: a COCO 2017 folder (`annotations/instances_train2017.json`,
  `train2017/*.jpg` at 640x480, ~160 KB like COCO's mean file, 1-8 objects
  each) through `ssd_inputs.coco_train_batches` (SSDCropping, flip, resize to
  300, ColorJitter, normalisation, padded boxes), synchronously (its loader
  threads would run batches ahead that the CPU time would count).
* `maskrcnn`: the same folder (objects carry polygons) through
  `maskrcnn_batches.coco_train_batches` (resize to an 800 short side, flip,
  BGR mean, polygons rasterised into 64x64 box grids, padded 800x1344
  batches).
* `rnnt`: a LibriSpeech tree (`train-clean-100/<speaker>/<chapter>/*.flac`,
  16 kHz 16-bit, 8-16.7 s, mean ~12.4 s like the 960 h training set's
  12.3 s; transcripts; a small SentencePiece model) through
  `librispeech.LibriSpeech.train_batches` (flac decode, speed perturbation,
  silence trim, dither, preemphasis, STFT, mel, log, normalisation,
  SpecAugment, frame stacking, tokenisation, padding).

Each pipeline's decoder alone is timed too (PIL for JPEG, and simplejpeg and
OpenCV when installed; soundfile for flac), its share of the item's CPU.

Cores needed = accelerator rate / items/s per core, for the rates given with
`--rate NAME=ITEMS_PER_S` and by default: the issue's ResNet-50 goal on one
H200 (8,000 img/s) and 1,000 img/s, and for every pipeline the average
training rate per A100 of the published v1.1 NVIDIA 8x A100 run
(`published_results.csv`: epochs x training samples / run time / chips; a
lower bound of its step rate, as the run time includes evaluation).

`--workers N` runs each measurement in N worker processes at once over the
same files (started together after their warm-up), which on a quiet host of
N cores also gives the realised aggregate items/s; the per-core figure is
then total items / total CPU seconds.

  python benchmarks/pipeline_throughput.py [--pipelines resnet,ssd,...]
      [--items 96] [--batch 8] [--workers 0] [--rate resnet=8000] [--json F]
"""

from __future__ import annotations

import os

# One worker per core: keep numpy/scipy from spreading over more threads.
for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
  os.environ.setdefault(_var, '1')

import argparse  # noqa: E402
import contextlib  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from unittest import mock  # noqa: E402

import numpy as np  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_HERE))

PIPELINES = ('resnet', 'ssd', 'maskrcnn', 'rnnt')
UNITS = {'resnet': 'img', 'ssd': 'img', 'maskrcnn': 'img', 'rnnt': 'utt'}
IMAGENET_SIZE = (500, 375)     # (w, h), the median ImageNet train image
COCO_SIZE = (640, 480)         # COCO 2017's most common size
# The goal for ResNet-50 on one H200, and a round figure.
GOAL_RATES = {'resnet': ((8000.0, 'the goal on 1x H200'),
                         (1000.0, 'a round figure'))}
PUBLISHED_CSV = os.path.join(_HERE, 'published_results.csv')


# ---- files that imitate the real ones --------------------------------------

def synthetic_photo(rng: np.random.Generator, width: int, height: int,
                    noise: int = 36) -> np.ndarray:
  """uint8 [h, w, 3]: smooth structure (an upsampled coarse grid) plus
  per-pixel noise, so that JPEG files come out photo-sized (the decoder's
  work grows with the entropy it has to undo)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  coarse = rng.integers(0, 256, (max(2, height // 32), max(2, width // 32), 3),
                        dtype=np.uint8)
  img = Image.fromarray(coarse).resize((width, height), Image.BICUBIC)
  arr = np.asarray(img, np.int16) + rng.integers(-noise, noise + 1,
                                                 (height, width, 3))
  return np.clip(arr, 0, 255).astype(np.uint8)


def jpeg_bytes(pixels: np.ndarray, quality: int = 90) -> bytes:
  from PIL import Image  # pylint: disable=import-outside-toplevel
  buf = io.BytesIO()
  Image.fromarray(pixels).save(buf, 'JPEG', quality=quality)
  return buf.getvalue()


def write_imagenet(root: str, n: int, seed: int = 0,
                   size: tuple[int, int] = IMAGENET_SIZE) -> list[str]:
  """`n` ImageNet-like JPEG files under `root/imagenet/`; their paths."""
  rng = np.random.default_rng(seed)
  folder = os.path.join(root, 'imagenet')
  os.makedirs(folder, exist_ok=True)
  paths = []
  for i in range(n):
    path = os.path.join(folder, f'n{i:08d}.JPEG')
    with open(path, 'wb') as f:
      f.write(jpeg_bytes(synthetic_photo(rng, *size)))
    paths.append(path)
  return paths


def _polygon(rng, x, y, w, h, vertices: int = 12) -> list[float]:
  """A star-shaped polygon inside the box [x, y, w, h] (COCO's flat list)."""
  t = np.sort(rng.uniform(0, 2 * np.pi, vertices))
  r = rng.uniform(0.6, 1.0, vertices)
  px = x + w / 2 * (1 + r * np.cos(t))
  py = y + h / 2 * (1 + r * np.sin(t))
  return [round(float(v), 2) for pair in zip(px, py) for v in pair]


def write_coco(root: str, n: int, seed: int = 0,
               size: tuple[int, int] = COCO_SIZE) -> str:
  """A COCO 2017 train folder of `n` images with 1-8 objects each (boxes,
  polygons, 80 categories); returns the data dir."""
  rng = np.random.default_rng(seed)
  data_dir = os.path.join(root, 'coco')
  os.makedirs(os.path.join(data_dir, 'annotations'), exist_ok=True)
  os.makedirs(os.path.join(data_dir, 'train2017'), exist_ok=True)
  width, height = size
  images, anns = [], []
  for i in range(n):
    name = f'{i + 1:012d}.jpg'
    with open(os.path.join(data_dir, 'train2017', name), 'wb') as f:
      f.write(jpeg_bytes(synthetic_photo(rng, width, height)))
    images.append({'id': i + 1, 'file_name': name, 'height': height,
                   'width': width})
    for _ in range(int(rng.integers(1, 9))):
      w = float(rng.uniform(0.05, 0.6) * width)
      h = float(rng.uniform(0.05, 0.6) * height)
      x = float(rng.uniform(0, width - w))
      y = float(rng.uniform(0, height - h))
      anns.append({'id': len(anns) + 1, 'image_id': i + 1,
                   'category_id': int(rng.integers(1, 81)),
                   'bbox': [x, y, w, h], 'area': w * h * 0.7, 'iscrowd': 0,
                   'segmentation': [_polygon(rng, x, y, w, h)]})
  coco = {'images': images, 'annotations': anns,
          'categories': [{'id': c, 'name': f'c{c}'} for c in range(1, 81)]}
  with open(os.path.join(data_dir, 'annotations',
                         'instances_train2017.json'), 'w') as f:
    json.dump(coco, f)
  return data_dir


def _speech_like(rng: np.random.Generator, seconds: float,
                 rate: int = 16000) -> np.ndarray:
  """float32 samples: voiced syllables (harmonics of a gliding pitch under a
  ~4 Hz envelope) over low noise, with short pauses."""
  n = int(seconds * rate)
  t = np.arange(n) / rate
  pitch = 120 + 40 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6))
  phase = 2 * np.pi * np.cumsum(pitch) / rate
  voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
  envelope = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None)
  pauses = np.repeat(rng.uniform(size=n // 4000 + 1) > 0.15, 4000)[:n]
  x = 0.1 * voiced * envelope * pauses + 0.003 * rng.standard_normal(n)
  return x.astype(np.float32)


_WORDS = ('the of and to in that was he it his with had as for she which '
          'you her not but be at on they have all by this from one said '
          'were there would so when what could their been or them into '
          'more an no if some my only time very any upon out now about '
          'down like little great before than man these well such after').split()


def write_librispeech(root: str, n: int, seed: int = 0) -> str:
  """A LibriSpeech tree: `n` utterances of 8-16.7 s in train-clean-100
  (and two in dev-clean), transcripts, and a SentencePiece model trained on
  them; returns the data dir."""
  import soundfile  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import librispeech  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(seed)
  data_dir = os.path.join(root, 'librispeech')
  texts = []
  for split, count in (('train-clean-100', n), ('dev-clean', 2)):
    folder = os.path.join(data_dir, split, '19', '198')
    os.makedirs(folder, exist_ok=True)
    lines = []
    for i in range(count):
      uid = f'19-198-{i:04d}'
      seconds = float(rng.uniform(8.0, 16.7))
      soundfile.write(os.path.join(folder, uid + '.flac'),
                      _speech_like(rng, seconds), 16000, format='FLAC',
                      subtype='PCM_16')
      text = ' '.join(rng.choice(_WORDS, int(seconds * 2.7))).upper()
      lines.append(f'{uid} {text}')
      texts.append(text.lower())
    with open(os.path.join(folder, '19-198.trans.txt'), 'w') as f:
      f.write('\n'.join(lines) + '\n')
  for split in librispeech.TRAIN_SPLITS[1:]:
    os.makedirs(os.path.join(data_dir, split), exist_ok=True)
  model = os.path.join(data_dir, librispeech.SENTENCEPIECE_MODEL)
  os.makedirs(os.path.dirname(model), exist_ok=True)
  # The reference's vocabulary is 1023 pieces over 960 h of transcripts; a
  # few sentences only hold a small one (tokenising is not what costs).
  librispeech.train_sentencepiece(texts * 4, model[:-len('.model')],
                                  vocab_size=48)
  return data_dir


def write_files(root: str, pipelines, n_images: int = 24,
                n_utterances: int = 16) -> dict:
  """The files each pipeline reads, written once under `root`."""
  out = {}
  if 'resnet' in pipelines:
    out['resnet'] = write_imagenet(root, n_images)
  if 'ssd' in pipelines or 'maskrcnn' in pipelines:
    out['coco'] = write_coco(root, n_images, seed=1)
  if 'rnnt' in pipelines:
    out['librispeech'] = write_librispeech(root, n_utterances, seed=2)
  return out


# ---- the pipelines, as training runs them ---------------------------------

def _imagenet_batches(paths, batch: int, seed: int):
  from mlperf_jax.input_pipelines import batching  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import image_ops  # pylint: disable=import-outside-toplevel

  def load(indices, rng):  # imagenet.imagenet_train_batches' load
    images = []
    for i in indices:
      with open(paths[int(i)], 'rb') as f:
        images.append(image_ops.preprocess_for_train(
            f.read(), rng, image_size=image_ops.IMAGE_SIZE,
            crop=image_ops.MLPERF_CROP))
    return {'image': np.stack(images).astype(np.float32, copy=False),
            'label': np.zeros(len(indices), np.int32)}
  return batching.train_batches(len(paths), load, global_batch_size=batch,
                                seed=seed)


def batches(name: str, files: dict, batch: int, seed: int = 0):
  """The training batch iterator of pipeline `name` over `files`."""
  if name == 'resnet':
    return _imagenet_batches(files['resnet'], batch, seed)
  if name == 'ssd':
    from mlperf_jax.input_pipelines import ssd_inputs  # pylint: disable=import-outside-toplevel
    return ssd_inputs.coco_train_batches(files['coco'],
                                         global_batch_size=batch, seed=seed)
  if name == 'maskrcnn':
    from mlperf_jax.input_pipelines import maskrcnn_batches  # pylint: disable=import-outside-toplevel
    return maskrcnn_batches.coco_train_batches(files['coco'], batch,
                                               seed=seed)
  if name == 'rnnt':
    from mlperf_jax.api import HostShard  # pylint: disable=import-outside-toplevel
    from mlperf_jax.input_pipelines import librispeech  # pylint: disable=import-outside-toplevel
    data = librispeech.LibriSpeech(files['librispeech'], num_buckets=1)
    return data.train_batches(global_batch_size=batch, seed=seed,
                              host=HostShard())
  raise ValueError(f'unknown pipeline {name!r}; valid: {PIPELINES}')


# What each pipeline's batch must hold (key: trailing shape), checked on
# every measured batch so that a broken pipeline cannot look fast.
EXPECTED = {'resnet': {'image': (224, 224, 3)},
            'ssd': {'image': (300, 300, 3), 'boxes': (200, 4)},
            'maskrcnn': {'image': (800, 1344, 3), 'gt_masks': (100, 64, 64)},
            'rnnt': {'feats': (240,)}}


def _check(name: str, b: dict, batch: int) -> None:
  for key, tail in EXPECTED[name].items():
    shape = b[key].shape
    if shape[0] != batch or shape[-len(tail):] != tail:
      raise AssertionError(f'{name}: batch {key!r} has shape {shape}, '
                           f'expected ({batch}, ..., {tail})')


@contextlib.contextmanager
def _synchronous():
  """SSD's COCO loader without its threads (they prefetch batches that
  would be counted but not consumed)."""
  from mlperf_jax.input_pipelines import ssd_inputs  # pylint: disable=import-outside-toplevel
  with mock.patch.object(ssd_inputs, '_threads', lambda: 0):
    yield


def measure(name: str, files: dict, items: int, batch: int, seed: int = 0,
            barrier=None) -> dict:
  """CPU and wall seconds of `items` training items (whole batches) after a
  warm-up batch."""
  with _synchronous():
    it = batches(name, files, batch, seed)
    _check(name, next(it), batch)           # warm-up: imports, caches
    if barrier is not None:
      barrier.wait()
    n_batches = max(1, -(-items // batch))
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n_batches):
      _check(name, next(it), batch)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
  return {'items': n_batches * batch, 'cpu_s': cpu, 'wall_s': wall}


def _worker(name, files, items, batch, seed, barrier, queue):
  queue.put(measure(name, files, items, batch, seed, barrier))


def measure_workers(name: str, files: dict, items: int, batch: int,
                    workers: int) -> dict:
  """`measure` in `workers` processes at once (each its own data seed)."""
  ctx = multiprocessing.get_context('spawn')
  barrier, queue = ctx.Barrier(workers), ctx.Queue()
  procs = [ctx.Process(target=_worker, args=(name, files, items, batch, k,
                                             barrier, queue))
           for k in range(workers)]
  for p in procs:
    p.start()
  results = [queue.get() for _ in procs]
  for p in procs:
    p.join()
  if any(p.exitcode for p in procs):
    raise RuntimeError(f'{name}: a worker process failed')
  return {'items': sum(r['items'] for r in results),
          'cpu_s': sum(r['cpu_s'] for r in results),
          'wall_s': max(r['wall_s'] for r in results)}


# ---- decoders alone -----------------------------------------------------------

def _decoders() -> dict:
  """JPEG decoders available here: name -> bytes -> RGB uint8 array."""
  from mlperf_jax.input_pipelines import image_ops  # pylint: disable=import-outside-toplevel
  out = {'PIL': image_ops.decode_image}
  try:
    import simplejpeg  # pylint: disable=import-outside-toplevel
    out['simplejpeg'] = lambda b: simplejpeg.decode_jpeg(b, colorspace='RGB')
  except ImportError:
    pass
  try:
    import cv2  # pylint: disable=import-outside-toplevel
    cv2.setNumThreads(1)
    out['opencv'] = lambda b: cv2.cvtColor(
        cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR),
        cv2.COLOR_BGR2RGB)
  except ImportError:
    pass
  return out


def _cpu_per_call(fn, args, min_cpu_s: float) -> float:
  fn(args[0])
  calls, c0 = 0, time.process_time()
  while True:
    for a in args:
      fn(a)
    calls += len(args)
    spent = time.process_time() - c0
    if spent >= min_cpu_s:
      return spent / calls


def decode_costs(name: str, files: dict, min_cpu_s: float = 0.3) -> dict:
  """CPU seconds per item of the pipeline's decoder(s) alone."""
  if name == 'rnnt':
    import glob  # pylint: disable=import-outside-toplevel
    from mlperf_jax.input_pipelines import librispeech  # pylint: disable=import-outside-toplevel
    flacs = sorted(glob.glob(os.path.join(files['librispeech'],
                                          'train-clean-100', '*', '*',
                                          '*.flac')))
    return {'soundfile (flac)': _cpu_per_call(librispeech.read_audio, flacs,
                                              min_cpu_s)}
  if name == 'resnet':
    paths = files['resnet']
  else:
    folder = os.path.join(files['coco'], 'train2017')
    paths = [os.path.join(folder, f) for f in sorted(os.listdir(folder))]
  blobs = []
  for p in paths:
    with open(p, 'rb') as f:
      blobs.append(f.read())
  return {dec: _cpu_per_call(fn, blobs, min_cpu_s)
          for dec, fn in _decoders().items()}


def file_stats(name: str, files: dict) -> str:
  """What the measured files are, in a few words."""
  if name == 'rnnt':
    import glob  # pylint: disable=import-outside-toplevel
    import soundfile  # pylint: disable=import-outside-toplevel
    flacs = glob.glob(os.path.join(files['librispeech'], 'train-clean-100',
                                   '*', '*', '*.flac'))
    secs = [soundfile.info(p).duration for p in flacs]
    kb = np.mean([os.path.getsize(p) for p in flacs]) / 1024
    return (f'{len(flacs)} flac, {min(secs):.1f}-{max(secs):.1f} s (mean '
            f'{np.mean(secs):.1f} s), {kb:.0f} KB mean')
  if name == 'resnet':
    paths, (w, h) = files['resnet'], IMAGENET_SIZE
  else:
    folder = os.path.join(files['coco'], 'train2017')
    paths = [os.path.join(folder, f) for f in os.listdir(folder)]
    w, h = COCO_SIZE
  kb = np.mean([os.path.getsize(p) for p in paths]) / 1024
  return f'{len(paths)} JPEG {w}x{h}, {kb:.0f} KB mean'


# ---- accelerator rates ------------------------------------------------------

def published_rates(path: str = PUBLISHED_CSV) -> dict:
  """name -> (items/s per A100, source): the published v1.1 NVIDIA 8x A100
  run's epochs x training samples / run seconds / chips."""
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  out = {}
  with open(path, newline='') as f:
    for row in csv.DictReader(f):
      name = row['benchmark']
      if (name not in PIPELINES or row['round'] != 'v1.1' or
          row['submitter'] != 'NVIDIA' or int(row['chips']) != 8):
        continue
      samples = workloads.get_class(name).variants['reference'].train_samples
      rate = (float(row['epoch_num']) * samples /
              (float(row['minutes']) * 60) / int(row['chips']))
      out[name] = (rate, f"per A100, published {row['round']} "
                         f"{row['system']} (avg over the run)")
  return out


def parse_rates(specs) -> dict:
  """['resnet=8000', ...] -> {name: [rate, ...]}; ValueError on bad ones."""
  out = {}
  for spec in specs or ():
    name, sep, value = spec.partition('=')
    try:
      rate = float(value)
    except ValueError:
      rate = -1.0
    if not sep or name not in PIPELINES or rate <= 0:
      raise ValueError(f'--rate {spec!r}: expected NAME=ITEMS_PER_S with '
                       f'NAME one of {PIPELINES} and a positive rate')
    out.setdefault(name, []).append(rate)
  return out


def cores_needed(per_core: float, rate: float) -> float:
  return rate / per_core


def run(pipelines=PIPELINES, *, items: int = 96, batch: int = 8,
        workers: int = 0, rates: dict | None = None, work_dir: str | None = None,
        decode_min_cpu_s: float = 0.3, n_images: int = 24,
        n_utterances: int = 16, verbose: bool = True) -> dict:
  """Measures every pipeline; returns the results (JSON-able).

  `decode_min_cpu_s` 0 skips the decoder-alone timings.
  """
  published = published_rates()
  load0 = os.getloadavg()[0]
  with tempfile.TemporaryDirectory(dir=work_dir) as root:
    files = write_files(root, pipelines, n_images, n_utterances)
    results = {}
    for name in pipelines:
      m = (measure_workers(name, files, items, batch, workers) if workers
           else measure(name, files, items, batch))
      per_core = m['items'] / m['cpu_s']
      r = {'pipeline': name, 'unit': UNITS[name], 'files': file_stats(name,
                                                                     files),
           'batch': batch, 'workers': workers or 1, **m,
           'items_per_cpu_s': per_core,
           'cpu_ms_per_item': 1e3 * m['cpu_s'] / m['items'],
           'wall_items_per_s': m['items'] / m['wall_s'],
           'cpu_share': m['cpu_s'] / m['wall_s'] / (workers or 1)}
      if decode_min_cpu_s > 0:
        r['decode_cpu_ms'] = {k: 1e3 * v for k, v in decode_costs(
            name, files, decode_min_cpu_s).items()}
      targets = list(GOAL_RATES.get(name, ()))
      targets += [(rate, 'given') for rate in (rates or {}).get(name, ())]
      if name in published:
        targets.append(published[name])
      r['feeds'] = [{'rate': rate, 'source': source,
                     'cores': cores_needed(per_core, rate)}
                    for rate, source in targets]
      results[name] = r
      if verbose:
        print(line(r), flush=True)
  return {'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
          'host_cores': os.cpu_count(), 'load_before': load0,
          'load_after': os.getloadavg()[0], 'pipelines': results}


def line(r: dict) -> str:
  u = r['unit']
  dec = ', '.join(f'{k} {v:.1f}' for k, v in r.get('decode_cpu_ms',
                                                     {}).items())
  feeds = '; '.join(f"{f['rate']:,.0f} {u}/s ({f['source']}): "
                    f"{f['cores']:.1f} cores" for f in r['feeds'])
  return (f"{r['pipeline']}: {r['items_per_cpu_s']:.1f} {u}/s per core "
          f"({r['cpu_ms_per_item']:.1f} CPU-ms/{u}; decode alone {dec} ms) "
          f"over {r['items']} {u} on {r['workers']} process(es), "
          f"{r['wall_items_per_s']:.1f} {u}/s wall (CPU share "
          f"{r['cpu_share']:.2f}); files: {r['files']}"
          + (f'\n  cores to feed {feeds}' if feeds else ''))


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--pipelines', default=','.join(PIPELINES))
  p.add_argument('--items', type=int, default=96,
                 help='items measured per pipeline (and per worker)')
  p.add_argument('--batch', type=int, default=8)
  p.add_argument('--workers', type=int, default=0,
                 help='worker processes (0: this process)')
  p.add_argument('--rate', action='append', metavar='NAME=ITEMS_PER_S',
                 help='an accelerator step rate to feed (repeatable)')
  p.add_argument('--no-decode', action='store_true',
                 help='skip the decoder-alone timings')
  p.add_argument('--json', help='write the results here')
  args = p.parse_args(argv)
  names = [n for n in args.pipelines.split(',') if n]
  problems = [f'unknown pipeline {n!r} (valid: {", ".join(PIPELINES)})'
              for n in names if n not in PIPELINES]
  if args.items < 1 or args.batch < 1 or args.workers < 0:
    problems.append('--items and --batch must be positive, --workers >= 0')
  try:
    rates = parse_rates(args.rate)
  except ValueError as e:
    problems.append(str(e))
  if problems:
    for m in problems:
      print(f'error: {m}', file=sys.stderr)
    return 2
  result = run(names, items=args.items, batch=args.batch,
               workers=args.workers, rates=rates,
               decode_min_cpu_s=0 if args.no_decode else 0.3)
  print(f"load average before/after: {result['load_before']:.2f}/"
        f"{result['load_after']:.2f} on {result['host_cores']} cores")
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(result, f, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
