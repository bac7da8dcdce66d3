# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD-MobileNet-v1, MLPerf Inference v1.x edge object detection (serving only).

MLPerf Training has no SSD-MobileNet, so this workload is served, never
trained (`infer`, `accuracy`; its training methods raise). Facts from
mlcommons/inference v1.x `vision/classification_and_detection`
(`ssd-mobilenet`, the TF model `ssd_mobilenet_v1_coco_2018_01_28`):

* COCO val2017 at 300x300 (resized, uint8, scaled to [-1, 1] in the graph),
  FP32 mAP 0.22, closed target 99 % of it (0.2178), QSL 256 for
  performance runs (`performance_sample_count_override`), edge scenarios
  SingleStream and Offline (MultiStream in v1.0);
* the response is `accuracy-coco.py`'s float32 `[sample index, ymin, xmin,
  ymax, xmax, score, class]` per detection, normalised boxes; the class is
  the COCO category id already (no `--use-inv-map`).

Reference scale: the full model (`models/ssd_mobilenet_v1.py`, 6,819,839
parameters) with the official weights (`--checkpoint .../model.ckpt`, the
TF checkpoint of the tarball) on `--data-dir` COCO (the layout
`input_pipelines/coco.py` reads), all 5,000 val2017 images as the
reference serves them, the 48 without annotations included (they hold no
ground truth; their detections are false positives for COCOeval, as in
`accuracy-coco.py` without `--remove-48-empty-images`).

Mini scale, the dry path: a quarter-width model at 64x64 with seeded random
weights (or a `--checkpoint` of that shape) on 8 synthetic images whose COCO
ground truth is written here; its mAP is near 0 and only shows that the
path works end to end.
"""

from __future__ import annotations

import numpy as np

from mlperf_jax.api import InferenceSpec, LazyModule, Target, Variant, Workload
from mlperf_jax.workloads import ssd as ssd_workload

jax = LazyModule('jax')
jnp = LazyModule('jax.numpy')
ssdm = LazyModule('mlperf_jax.models.ssd_mobilenet_v1')

MINI_IMAGES = 8
MINI_SIZE = 64
# COCO category ids the synthetic images use (ids with gaps before them).
MINI_CATEGORIES = (1, 3, 13, 90)
# QSL performance set of ssd-mobilenet (mlperf.conf v1.x).
PERFORMANCE_COUNT = 256


def _dtype(name: str):
  return jnp.bfloat16 if name == 'bfloat16' else jnp.float32


def synthetic_coco(count: int = MINI_IMAGES, size: int = MINI_SIZE,
                   seed: int = 0) -> tuple[np.ndarray, dict]:
  """(uint8 images [count, size, size, 3], their COCO ground-truth dict):
  noise with 1-3 flat-coloured rectangles per image, each an annotation of
  one of `MINI_CATEGORIES`."""
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
  anns, infos = [], []
  for i in range(count):
    infos.append({'id': 1000 + i, 'width': size, 'height': size,
                  'file_name': f'synthetic_{i}.png'})
    for _ in range(int(rng.integers(1, 4))):
      w, h = (int(v) for v in rng.integers(size // 6, size // 2, 2))
      x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
      images[i, y:y + h, x:x + w] = rng.integers(0, 256, 3, dtype=np.uint8)
      anns.append({'id': len(anns) + 1, 'image_id': 1000 + i,
                   'category_id': int(rng.choice(MINI_CATEGORIES)),
                   'bbox': [x, y, w, h], 'area': float(w * h), 'iscrowd': 0})
  gt = {'images': infos, 'annotations': anns,
        'categories': [{'id': c, 'name': f'category_{c}'}
                       for c in MINI_CATEGORIES]}
  return images, gt


def _synthetic_data(wl):
  images, gt = synthetic_coco()
  size = float(MINI_SIZE)
  return (len(images), lambda i: ssdm.preprocess(images[int(i)]),
          lambda i: (gt['images'][int(i)]['id'], size, size), gt)


def _coco_data(wl):
  """val2017 as `pre_process_coco_mobilenet`: RGB, resized to 300x300
  (PIL bilinear where the reference uses OpenCV's INTER_LINEAR), uint8;
  then the graph's scaling to [-1, 1]."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import coco  # pylint: disable=import-outside-toplevel
  split = coco.open_split(wl.data_dir, 'val', drop_empty=False)
  size = wl.model_config().image_size

  def image(i):
    with Image.open(split.image_path(int(i))) as img:
      img = img.convert('RGB').resize((size, size),
                                      Image.Resampling.BILINEAR)
      return ssdm.preprocess(np.asarray(img))

  def info(i):
    rec = split.images[int(i)]
    return rec.image_id, float(rec.width), float(rec.height)
  return len(split), image, info, split.annotation_file


def _no_training(*args, **kwargs):
  raise NotImplementedError('ssd-mobilenet is an MLPerf Inference model '
                            'only; it has no training data')


VARIANTS = {
    'reference': Variant(
        scale='reference', benchmark='ssd-mobilenet',
        target=Target('mAP', 0.99 * 0.22), train_samples=0,
        eval_samples=5000, num_runs=1,
        model=lambda dtype: ssdm.reference_config(dtype=_dtype(dtype)),
        train_data=_no_training, eval_data=_no_training, needs_data_dir=True,
        mlperf_conf_model='ssd-mobilenet',
        extra={'inference_data': _coco_data,
               'performance_count': PERFORMANCE_COUNT}),
    'mini': Variant(
        scale='mini', benchmark='mini_ssd-mobilenet', target=Target('mAP', 0.0),
        train_samples=0, eval_samples=MINI_IMAGES, num_runs=1,
        model=lambda dtype: ssdm.reference_config(
            image_size=MINI_SIZE, depth_multiplier=0.25, dtype=_dtype(dtype)),
        train_data=_no_training, eval_data=_no_training,
        mlperf_conf_model='ssd-mobilenet',
        extra={'inference_data': _synthetic_data}),
}

# Edge scenarios (SingleStream, Offline; MultiStream in v1.0) and Server
# for completeness.
INFERENCE_BUCKETS = {'SingleStream': (1,), 'MultiStream': (1, 8),
                     'Server': (1, 2, 4, 8), 'Offline': (1, 8, 32)}


class SSDMobileNetWorkload(Workload):
  """MLPerf Inference v1.x SSD-MobileNet-v1 (edge), served only."""

  name = 'ssd-mobilenet'
  variants = VARIANTS

  def hparams(self, opt_name: str):
    del opt_name
    return ()

  def optimizer_names(self) -> list[str]:
    return []

  # ---- model ---------------------------------------------------------------

  def model_config(self):
    return self.variant.model(self.compute_dtype)

  def model(self):
    return ssdm.SSDMobileNetV1(self.model_config())

  def _image(self):
    cfg = self.model_config()
    return jax.ShapeDtypeStruct((1, cfg.image_size, cfg.image_size, 3),
                                jnp.float32)

  def init(self, rng, hp=None):
    del hp
    # Jitted: op by op, the ~60 layers' init takes seconds on CPU.
    variables = jax.jit(self.model().init)(rng, jnp.zeros(self._image().shape))
    return variables['params'], {'batch_stats': variables['batch_stats']}

  def untrained_serving_params(self):
    """(params, model_state) of a seeded init (seed 0): what `infer` serves
    at a scale without `--checkpoint` (the dry path)."""
    params, state = self.init(jax.random.PRNGKey(0))
    import flax  # pylint: disable=import-outside-toplevel
    return flax.linen.meta.unbox(params), state

  def load_serving_checkpoint(self, path: str):
    """(params, model_state) from the TF checkpoint prefix `path` (the
    tarball's `model.ckpt`), mapped by `models.ssd_mobilenet_v1_tf_weights`,
    BatchNorm moving statistics included."""
    from mlperf_jax.models import ssd_mobilenet_v1_tf_weights as tfw  # pylint: disable=import-outside-toplevel
    if path.endswith('.index'):
      path = path[:-len('.index')]
    shapes = jax.eval_shape(lambda x: self.model().init(
        jax.random.PRNGKey(0), x), self._image())
    params, stats = tfw.read_checkpoint(path, shapes['params'],
                                        shapes['batch_stats'])
    return (jax.tree.map(jnp.asarray, params),
            {'batch_stats': jax.tree.map(jnp.asarray, stats)})

  def predict(self, params, model_state, inputs):
    codes, logits = self.model().apply({'params': params, **model_state},
                                       inputs['image'])
    cfg = self.model_config()
    det = ssdm.postprocess(codes, logits, ssdm.anchor_table(cfg),
                           score_threshold=cfg.score_threshold)
    return {'boxes': det.boxes, 'scores': det.scores,
            'classes': det.classes, 'valid': det.valid,
            'index': inputs['index']}

  def logical_axis_rules(self):
    return ssdm.LOGICAL_AXIS_RULES

  # ---- training interfaces: none ------------------------------------------

  def loss(self, params, model_state, batch, rng, hp):
    _no_training()

  def eval_step(self, params, model_state, batch, hp):
    _no_training()

  def eval_accumulator(self):
    _no_training()

  def param_labels(self, params):
    _no_training()

  def batch_spec(self, hp, *, train, bucket=None):
    _no_training()

  # ---- inference -----------------------------------------------------------

  def inference(self) -> InferenceSpec:
    """COCO detection at the model's size; responses in the official
    float32 x 7 layout (`ssd.encode`), scored by pycocotools over the
    logged images (`accuracy-coco.py`), classes as COCO ids."""
    count, image, info, gt = self.variant.extra['inference_data'](self)
    return ssd_workload.detection_inference_spec(
        count=count,
        performance_count=self.variant.extra.get('performance_count', count),
        image=image, info=info, ground_truth=lambda: (gt, None),
        buckets=INFERENCE_BUCKETS, predict=self.predict,
        metric=self.variant.target.metric)

