# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD-ResNet-34 on COCO 2017 (reference) and a mini SSD on digit canvases.

The benchmark name `ssd` means SSD-ResNet-34 only in the 1.0.0 and 1.1.0
rulesets; from 2.0.0 on it names RetinaNet (a different model, Adam, target
0.340), which this workload does not implement.

Reference (mlcommons/training `single_stage_detector/ssd/`, v1.1 rules):
SSD300 with a ResNet-34 trunk (19,972,534 parameters, 8732 default boxes),
SGD with momentum 0.9 and weight decay 5e-4 on every parameter, the MLPerf
linear warmup and x0.1 steps at epochs 40 and 50, trained on the 117,266
train2017 images that have annotations, evaluated with COCOeval bbox
AP@[.5:.95] over the 4,952 val2017 images that have annotations (images
without any are dropped by the reference's `COCODetection`; they hold no
ground truth and get no detections, so the AP is that over all 5,000) at
the epochs the v1.1 rules fix: 40, 50, 55, 60, 65, 70, 75, 80
(`training_rules.adoc`; the reference code's every-5th-epoch is overruled
by the rules text). Target 0.23, 5 runs.

Mini: a 494k-parameter SSD (BasicBlock trunk to 16x16, two extra blocks,
maps 16/8/4, 1472 default boxes by the reference formula, the reference's
encoder, loss, decode and NMS) on 64x64 canvases of real handwritten digits
(`input_pipelines/digit_canvas.py`: 3,000 training canvases from 1,400
glyphs, 500 eval canvases from the other 397), judged by pycocotools.
Target: COCO AP@[.5:.95] 0.5, where the prior-box baseline (every default
box of every class, scored by class frequency) scores 0.000. The target is
this project's own; a mini run is not an MLPerf result.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterator

import numpy as np

from mlperf_jax.api import (Block, InferenceSpec, LazyModule, Target, Variant,
                            Workload, scenario_buckets)
from mlperf_jax.hparams import registry
from mlperf_jax.hparams import ssd as ssd_hparams

# Imported on first use: reading the variants imports no JAX.
jax = LazyModule('jax')
jnp = LazyModule('jax.numpy')
traverse_util = LazyModule('flax.traverse_util')
ssd_model = LazyModule('mlperf_jax.models.ssd')
ssd_inputs = LazyModule('mlperf_jax.input_pipelines.ssd_inputs')
coco_map = LazyModule('mlperf_jax.metrics.coco_map')
conv_lowering = LazyModule('mlperf_jax.models.conv_lowering')
batch_norm = LazyModule('mlperf_jax.models.batch_norm')

COCO_TRAIN = 117_266
COCO_EVAL = 4952
CANVAS_TRAIN = 3000   # digit_canvas.TRAIN_CANVASES (tested)
CANVAS_EVAL = 500
# The v1.1 rules' SSD evaluation epochs (training_rules.adoc, l. 402).
REFERENCE_EVAL_EPOCHS = (40, 50, 55, 60, 65, 70, 75, 80)


def _dtype(name: str):
  return jnp.bfloat16 if name == 'bfloat16' else jnp.float32


# ---- data sources (signatures: see mlperf_jax.api.TrainData / EvalData) ----

def _canvas_train(wl, data_dir, hp, *, seed, host, start_step):
  del wl, data_dir
  return ssd_inputs.canvas_train_batches(
      global_batch_size=int(hp['global_batch_size']), seed=seed, host=host,
      start_step=start_step)


def _canvas_eval(wl, data_dir, hp, *, global_batch_size, host):
  del wl, data_dir, hp
  return ssd_inputs.canvas_eval_batches(global_batch_size=global_batch_size,
                                        host=host)


def _coco_train(wl, data_dir, hp, *, seed, host, start_step):
  return ssd_inputs.coco_train_batches(
      data_dir, global_batch_size=int(hp['global_batch_size']), seed=seed,
      host=host, start_step=start_step, size=wl.model_config().image_size,
      max_samples=int(hp['max_samples']))


def _coco_eval(wl, data_dir, hp, *, global_batch_size, host):
  del hp
  return ssd_inputs.coco_eval_batches(
      data_dir, global_batch_size=global_batch_size, host=host,
      size=wl.model_config().image_size)


def _canvas_inference(wl):
  del wl
  from mlperf_jax.input_pipelines import digit_canvas  # pylint: disable=import-outside-toplevel
  data = digit_canvas.load_split('eval')
  size = float(digit_canvas.CANVAS_SIZE)
  return (len(data), lambda i: data.image[int(i)],
          lambda i: (int(data.image_id[int(i)]), size, size))


def _coco_inference(wl):
  """val2017 at the served model's size; as inference's
  `pre_process_coco_resnet34` (resize to 1200x1200, /255, ImageNet mean and
  std) but resized by PIL's bilinear filter, the training eval's, where the
  reference uses OpenCV's `INTER_LINEAR`."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import ssd_augment  # pylint: disable=import-outside-toplevel
  split = ssd_inputs.coco_split(wl.data_dir, 'val')
  size = wl.serving_config().image_size

  def image(i):
    with Image.open(split.image_path(int(i))) as img:
      return ssd_augment.eval_example(img.convert('RGB'), size=size)

  def info(i):
    rec = split.images[int(i)]
    return rec.image_id, float(rec.width), float(rec.height)
  return len(split), image, info


def _canvas_gt(wl):
  del wl
  return ssd_inputs.canvas_ground_truth(), None


def _coco_gt(wl):
  split = ssd_inputs.coco_split(wl.data_dir, 'val')
  return split.annotation_file, split.category_ids


VARIANTS = {
    'reference': Variant(
        scale='reference', benchmark='ssd', target=Target('mAP', 0.23),
        train_samples=COCO_TRAIN, eval_samples=COCO_EVAL, num_runs=5,
        rulesets=('1.1.0',),
        model=lambda dtype: ssd_model.ssd300_config(dtype=_dtype(dtype)),
        train_data=_coco_train, eval_data=_coco_eval, needs_data_dir=True,
        eval_batch_size=None, max_epochs=80, log_init_tensors=True,
        mlperf_conf_model='ssd-resnet34',
        # Ground truth padded to the reference eval's 200 boxes per image.
        extra={'max_boxes': 200,
               'eval_epochs': REFERENCE_EVAL_EPOCHS,
               'ground_truth': _coco_gt, 'inference_data': _coco_inference,
               # MLPerf Inference v1.x serves another network under the
               # same name: SSD-ResNet-34 at 1200x1200.
               'serving_model': lambda dtype: ssd_model.ssd_r34_1200_config(
                   dtype=_dtype(dtype))}),
    'mini': Variant(
        scale='mini', benchmark='mini_ssd', target=Target('mAP', 0.5),
        train_samples=CANVAS_TRAIN, eval_samples=CANVAS_EVAL, num_runs=5,
        rulesets=('mini',),
        defaults={
            'global_batch_size': 32,
            'opt_weight_decay': 5e-4,
            'opt_base_learning_rate': 0.05,
            'opt_learning_rate_warmup_steps': 50,
        },
        model=lambda dtype: ssd_model.mini_config(dtype=_dtype(dtype)),
        train_data=_canvas_train, eval_data=_canvas_eval,
        eval_batch_size=128, eval_every_epochs=1, max_epochs=12,
        mlperf_conf_model='ssd-resnet34',
        extra={'max_boxes': 3, 'ground_truth': _canvas_gt,
               'inference_data': _canvas_inference}),
}


def _valid_synthetic_boxes(batch):
  b = np.asarray(batch['boxes'], np.float32)
  lo = np.minimum(b[..., :2], b[..., 2:])
  hi = np.maximum(np.maximum(b[..., :2], b[..., 2:]), lo + 0.02)
  return {**batch, 'boxes': np.concatenate([lo, hi], -1)}


# Batch sizes compiled per LoadGen scenario: SingleStream one image, Offline
# up to 32 (MultiStream is not an SSD-ResNet-34 scenario of v1.x Inference).
INFERENCE_BUCKETS = {'SingleStream': (1,), 'Server': (1, 2, 4, 8),
                     'Offline': (1, 8, 32)}
# The official response: float32 per detection, [sample index, ymin, xmin,
# ymax, xmax, score, class] (inference `accuracy-coco.py`).
RESPONSE_FIELDS = 7


class SSDWorkload(Workload):
  """MLPerf single-stage detection, SSD-ResNet-34 (`ssd`, rulesets 1.x)."""

  name = 'ssd'
  variants = VARIANTS

  # ---- hyperparameters -----------------------------------------------------

  def hparams(self, opt_name: str) -> tuple[registry.HParam, ...]:
    return ssd_hparams.hparams(opt_name)

  def check_request(self, hp, *, division, init_checkpoint, dry_run):
    """Also: an `--init-checkpoint` is read and matched against the trunk
    (shapes by `jax.eval_shape`) before anything is compiled."""
    del division
    problems = []
    if init_checkpoint:
      try:
        self._import_trunk(init_checkpoint, *self._trunk_shapes())
      except ValueError as e:
        problems.append(f'--init-checkpoint {init_checkpoint}: {e}')
    if self.variant.needs_data_dir and not dry_run and not self.synthetic:
      from mlperf_jax.input_pipelines import coco  # pylint: disable=import-outside-toplevel
      problems += coco.layout_problems(self.data_dir)
    return problems

  # ---- model ---------------------------------------------------------------

  def model_config(self):
    return self.variant.model(self.compute_dtype)

  def extra_mllog_items(self, hp):
    """Which 2D convolution and BatchNorm the trunk ran, under ResNet-50's
    keys."""
    del hp
    return [('mlperf_jax_conv2d', conv_lowering.describe(
        self.model_config().backbone.conv_lowering)),
            ('mlperf_jax_batch_norm', batch_norm.describe())]

  def model(self):
    return ssd_model.SSD(self.model_config())

  def _image_shape(self) -> tuple[int, int, int]:
    cfg = self.model_config()
    return (cfg.image_size, cfg.image_size, cfg.image_channels)

  def _defaults(self, cfg=None):
    xywh, ltrb = ssd_model.default_tables(cfg or self.model_config())
    return jnp.asarray(xywh), jnp.asarray(ltrb)

  def init(self, rng, hp):
    x = jnp.zeros((1, *self._image_shape()), jnp.float32)
    variables = self.model().init(rng, x, train=False)
    return variables['params'], {'batch_stats': variables['batch_stats']}

  def loss(self, params, model_state, batch, rng, hp):
    del rng, hp
    (ploc, plabel), updates = self.model().apply(
        {'params': params, **model_state}, batch['image'], train=True,
        mutable=['batch_stats'])
    dxywh, dltrb = self._defaults()
    gloc, glabel = ssd_model.encode_targets(batch['boxes'], batch['labels'],
                                            dltrb)
    per_image = ssd_model.ssd_loss(ploc, plabel, gloc, glabel, dxywh)
    return (jnp.sum(per_image),
            jnp.asarray(per_image.shape[0], jnp.float32),
            ({'batch_stats': updates['batch_stats']},
             {'positives': jnp.mean(jnp.sum(glabel > 0, 1).astype(
                 jnp.float32))}))

  def detect(self, params, model_state, images, cfg=None):
    """Images -> `nms.Detections` (normalised ltrb boxes), the reference
    eval post-processing, of the training model or of the model `cfg`."""
    model = ssd_model.SSD(cfg) if cfg else self.model()
    ploc, plabel = model.apply({'params': params, **model_state}, images,
                               train=False)
    dxywh, _ = self._defaults(cfg)
    return ssd_model.decode(ploc, plabel, dxywh)

  def load_init_state(self, path, params, model_state, hp):
    """The reference's ImageNet ResNet-34 trunk (`resnet34-333f7ec4.pth` as
    the pickle `pth_to_pickle.py` writes, or an `.npz` of the same keys):
    its convs and BN affine into `params['backbone']`, its BN running
    statistics into `model_state['batch_stats']['backbone']` (the
    reference's `ResNet34` loads the whole torchvision state dict, buffers
    included); the extra blocks and heads keep the run's own init."""
    del hp
    return self._import_trunk(path, *jax.device_get((params, model_state)))

  def _trunk_shapes(self):
    """(params, model_state) shapes of the trunk alone, nested as in the
    SSD, by `jax.eval_shape` without starting a JAX backend (the CLI checks
    requests before `jax.distributed.initialize`): XLA's lowering, since
    'auto' asks for the backend and the shapes do not depend on it."""
    from mlperf_jax.models import resnet34_backbone as trunk  # pylint: disable=import-outside-toplevel
    cfg = self.model_config()
    trunk_cfg = dataclasses.replace(cfg.backbone, conv_lowering='xla')
    image = jax.ShapeDtypeStruct(
        (1, cfg.image_size, cfg.image_size, cfg.image_channels), jnp.float32)
    shapes = jax.eval_shape(
        lambda r, x: trunk.ResNetTrunk(trunk_cfg).init(r, x, False),
        jax.ShapeDtypeStruct((2,), jnp.uint32), image)
    return ({'backbone': shapes['params']},
            {'batch_stats': {'backbone': shapes['batch_stats']}})

  def _import_trunk(self, path, params, model_state):
    """(params, model_state) with the trunk's variables from the file
    (`params` / `model_state` arrays or shapes); ValueError names every
    missing key and shape mismatch."""
    import flax  # pylint: disable=import-outside-toplevel
    from mlperf_jax.models import resnet34_backbone as trunk  # pylint: disable=import-outside-toplevel
    weights = trunk.read_torchvision_weights(path)
    params = flax.linen.meta.unbox(params)
    stats = model_state['batch_stats']
    backbone, backbone_stats = trunk.import_trunk(
        weights, params['backbone'], stats['backbone'])
    return ({**params, 'backbone': backbone},
            {**model_state, 'batch_stats': {**stats,
                                            'backbone': backbone_stats}})

  def eval_step(self, params, model_state, batch, hp):
    del hp
    det = self.detect(params, model_state, batch['image'])
    return {'boxes': det.boxes, 'scores': det.scores,
            'classes': det.classes, 'valid': det.valid,
            'image_id': batch['image_id'], 'box_scale': batch['image_size'],
            'mask': batch['mask']}

  def eval_accumulator(self):
    if self.synthetic:  # random images have no ground truth: AP 0
      return coco_map.CocoAccumulator(
          None, metrics={self.variant.target.metric: ('bbox', 'AP')})
    gt, category_ids = self.variant.extra['ground_truth'](self)
    return coco_map.CocoAccumulator(
        gt, metrics={self.variant.target.metric: ('bbox', 'AP')},
        category_ids=category_ids)

  def param_labels(self, params):
    flat = traverse_util.flatten_dict(dict(params))

    def label(path, leaf):
      if len(leaf.shape) > 1:
        return registry.KERNEL
      return registry.NORM if any('bn' in p for p in path) else registry.BIAS
    return traverse_util.unflatten_dict(
        {p: label(p, v) for p, v in flat.items()})

  def logical_axis_rules(self):
    return ssd_model.LOGICAL_AXIS_RULES

  def init_tensor_names(self, params):
    import flax  # pylint: disable=import-outside-toplevel
    names = ssd_model.weight_names(flax.linen.meta.unbox(params))
    return sorted(set(names.values()))

  # ---- data ----------------------------------------------------------------

  def batch_spec(self, hp, *, train, bucket=None):
    del bucket
    b = self.global_batch_size(hp) if train else self.eval_batch_size(hp)
    spec = {'image': jax.ShapeDtypeStruct((b, *self._image_shape()),
                                          jnp.float32)}
    if train:
      g = self.variant.extra['max_boxes']
      spec['boxes'] = jax.ShapeDtypeStruct((b, g, 4), jnp.float32)
      spec['labels'] = jax.ShapeDtypeStruct((b, g), jnp.int32)
    else:
      spec['image_id'] = jax.ShapeDtypeStruct((b,), jnp.int32)
      spec['image_size'] = jax.ShapeDtypeStruct((b, 2), jnp.float32)
      spec['mask'] = jax.ShapeDtypeStruct((b,), jnp.float32)
    return spec

  def memory_report(self, hp, mesh_shape):
    """Not a memory limit: the `--dry-run` line stating the detector's
    default boxes (SSD300: 8732)."""
    del hp, mesh_shape
    cfg = self.model_config()
    return (f'default boxes: {cfg.boxes.num_boxes} per image (maps '
            f'{"/".join(map(str, cfg.boxes.feat_size))}, '
            f'{"/".join(map(str, cfg.num_defaults))} per cell)')

  def train_batches(self, hp, *, seed, host, start_step=0):
    """As the base; synthetic batches get valid boxes (random coordinates
    in [0, 1) sorted into l < r, t < b), or the loss's log(w) is NaN."""
    batches = super().train_batches(hp, seed=seed, host=host,
                                    start_step=start_step)
    if not self.synthetic:
      return batches
    return map(_valid_synthetic_boxes, batches)

  def synthetic_bounds(self, hp):
    return {'boxes': 1.0, 'labels': self.model_config().num_classes,
            'image_id': 1_000_000}

  # ---- schedule ------------------------------------------------------------

  def blocks(self, hp, max_epochs: int) -> Iterator[Block]:
    """Evaluations at the variant's fixed epochs (reference: the v1.1
    rules' 40, 50, 55, ..., 80), else every `eval_every_epochs`."""
    fixed = self.variant.extra.get('eval_epochs')
    if not fixed:
      yield from super().blocks(hp, max_epochs)
      return
    spe = self.steps_per_epoch(hp)
    done = 0
    for epoch in [e for e in fixed if e <= max_epochs] or [max_epochs]:
      yield Block(first_epoch_num=done + 1, epoch_count=epoch - done,
                  steps=(epoch - done) * spe, eval_epoch_num=epoch)
      done = epoch


  # ---- inference -----------------------------------------------------------

  def serving_config(self):
    """The served model: the variant's `serving_model` (reference: MLPerf
    Inference v1.x's SSD-ResNet-34 1200, `ssd_r34.py`; it decodes as the
    training SSD: `decode_batch(..., 0.50, 200)`, scores > 0.05), else the
    trained model."""
    make = self.variant.extra.get('serving_model', self.variant.model)
    return make(self.compute_dtype)

  def load_serving_checkpoint(self, path: str):
    """(params, model_state) to serve (`infer --checkpoint`): a `torch.save`
    file of the reference's `SSD_R34` module tree (the official
    `resnet34-ssd1200.pytorch`, a pickled whole module; or a state dict of
    it, zip or legacy format), mapped by `models.ssd_reference_weights`,
    BatchNorm statistics included; or the `final_params` directory of a
    training run of a scale that serves its own model (mini)."""
    cfg = self.serving_config()
    if os.path.isdir(path):
      if self.variant.extra.get('serving_model') is not None:
        raise ValueError(
            f'{path} holds trained parameters, but the {self.scale} scale '
            'serves MLPerf Inference\'s SSD-ResNet-34 1200, a separately '
            'trained network: give its weights, resnet34-ssd1200.pytorch')
      from mlperf_jax.runtime import checkpoint as ckpt  # pylint: disable=import-outside-toplevel
      return ckpt.load_final_params(path, self)
    from mlperf_jax.models import ssd_reference_weights as reference_weights  # pylint: disable=import-outside-toplevel
    image = jax.ShapeDtypeStruct(
        (1, cfg.image_size, cfg.image_size, cfg.image_channels), jnp.float32)
    shapes = jax.eval_shape(lambda x: ssd_model.SSD(cfg).init(
        jax.random.PRNGKey(0), x, train=False), image)
    params, stats = reference_weights.read_checkpoint(
        path, shapes['params'], shapes['batch_stats'])
    return (jax.tree.map(jnp.asarray, params),
            {'batch_stats': jax.tree.map(jnp.asarray, stats)})

  def predict(self, params, model_state, inputs):
    det = self.detect(params, model_state, inputs['image'],
                      self.serving_config())
    return {'boxes': det.boxes, 'scores': det.scores,
            'classes': det.classes, 'valid': det.valid,
            'index': inputs['index']}

  def inference(self) -> InferenceSpec:
    """MLPerf Inference object detection over the variant's eval images,
    served by `serving_config` (reference: SSD-ResNet-34 1200 on COCO
    val2017 at 1200x1200, weights from `load_serving_checkpoint`).

    Samples are {'image', 'index'} (preprocessed when the QSL loads them);
    each response is the official layout read by inference's
    `accuracy-coco.py`: float32 `[sample index, ymin, xmin, ymax, xmax,
    score, class]` per detection, boxes relative to the image, class the
    model's (1..80 / 1..10), mapped to the COCO category when scored.
    """
    count, image, info = self.variant.extra['inference_data'](self)
    return detection_inference_spec(
        count=count, performance_count=count, image=image,
        info=info, ground_truth=lambda: self.variant.extra['ground_truth'](
            self), buckets=INFERENCE_BUCKETS, predict=self.predict,
        metric=self.variant.target.metric)


def detection_inference_spec(*, count, performance_count, image, info,
                             ground_truth, buckets, predict, metric
                             ) -> InferenceSpec:
  """The COCO-detection InferenceSpec both SSDs serve.

  `image(i)` is sample i's preprocessed image; `ground_truth()` returns
  (COCO ground truth, category ids or None), read only when scored; `buckets`
  maps each scenario to its batch sizes. Samples are {'image', 'index'};
  responses are `encode`'s official float32 x 7 rows, scored by pycocotools
  over the images the responses name (inference's `accuracy-coco.py`).
  """

  def load_sample(i):
    return {'image': image(i), 'index': np.int32(i)}

  def accuracy(responses):
    gt, category_ids = ground_truth()
    results, ids = responses_to_results(responses, info, category_ids)
    ap = coco_map.evaluate(gt, results, image_ids=ids)['AP'] if ids else (
        float('nan'))
    return {metric: ap, 'samples': float(len(ids))}

  return InferenceSpec(
      count=count, performance_count=performance_count,
      load_sample=load_sample, buckets=scenario_buckets(buckets),
      predict=predict,
      encode=encode, accuracy=accuracy, metric=metric)


def encode(outputs, row: int) -> bytes:
  """Row `row`'s valid detections in the official float32 layout."""
  valid = np.asarray(outputs['valid'][row], bool)
  boxes = np.asarray(outputs['boxes'][row], np.float32)[valid]
  n = int(valid.sum())
  out = np.empty((n, RESPONSE_FIELDS), np.float32)
  out[:, 0] = float(outputs['index'][row])
  out[:, 1:5] = boxes[:, [1, 0, 3, 2]]            # ymin, xmin, ymax, xmax
  out[:, 5] = np.asarray(outputs['scores'][row], np.float32)[valid]
  out[:, 6] = np.asarray(outputs['classes'][row], np.float32)[valid]
  return out.tobytes()


def responses_to_results(responses, info, category_ids=None):
  """({sample index: bytes}, index -> (image id, width, height)) -> (COCO
  results, evaluated image ids), as `accuracy-coco.py` reads them; a
  detection naming another sample than its own is an error."""
  results, ids = [], []
  for idx in sorted(responses):
    image_id, w, h = info(idx)
    ids.append(image_id)
    dets = np.frombuffer(responses[idx], np.float32).reshape(
        -1, RESPONSE_FIELDS)
    for d in dets:
      if int(d[0]) != idx:
        raise ValueError(f'response of sample {idx} holds a detection of '
                         f'sample {int(d[0])}')
      ymin, xmin, ymax, xmax = (float(v) for v in d[1:5])
      c = int(d[6])
      results.append({
          'image_id': image_id,
          'category_id': int(category_ids[c]) if category_ids else c,
          'bbox': [xmin * w, ymin * h, (xmax - xmin) * w, (ymax - ymin) * h],
          'score': float(d[5])})
  return results, ids


def prior_box_baseline(wl: SSDWorkload, count: int | None = None) -> float:
  """COCO AP of the trivial detector: every default box of the coarsest map
  as a detection of every class, scored by the class's training frequency
  (no learning). The mini target must lie far above it."""
  from mlperf_jax.input_pipelines import digit_canvas  # pylint: disable=import-outside-toplevel
  cfg = wl.model_config()
  _, ltrb = ssd_model.default_tables(cfg)
  f = cfg.boxes.feat_size[-1]
  coarse = ltrb[-f * f * cfg.num_defaults[-1]:]
  train = digit_canvas.load_split('train')
  freq = np.bincount(train.labels[train.labels > 0],
                     minlength=cfg.num_classes)[1:] / (train.labels > 0).sum()
  evl = digit_canvas.load_split('eval')
  if count is not None:
    evl = digit_canvas.CanvasSet(*(x[:count] for x in
                                   dataclasses.astuple(evl)))
  n, k = len(coarse), cfg.num_classes - 1
  boxes = np.tile(coarse[None], (len(evl), k, 1))
  scores = np.repeat(freq, n)[None].repeat(len(evl), 0)
  classes = np.repeat(np.arange(1, k + 1), n)[None].repeat(len(evl), 0)
  results = coco_map.box_results(
      evl.image_id, boxes, scores, classes, np.ones(scores.shape, bool),
      box_scale=np.full((len(evl), 2), digit_canvas.CANVAS_SIZE, np.float32))
  return coco_map.evaluate(ssd_inputs.canvas_ground_truth(), results,
                          image_ids=evl.image_id.tolist())['AP']
