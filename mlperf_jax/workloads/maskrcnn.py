# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mask R-CNN on COCO 2017 (reference) and on digit canvases (mini).

Reference: MLPerf Training v1.x heavy object detection (mlcommons/training
`object_detection`, maskrcnn-benchmark `e2e_mask_rcnn_R_50_FPN_1x`): box AP
0.377 and mask AP 0.339 on COCO val2017 (5,000 images), both required,
evaluated every epoch, logged as `eval_accuracy {"BBOX": b, "SEGM": s}`.
Mini: a small ResNet-FPN Mask R-CNN (same RPN, RoI and mask-head structure
and losses) on 64x64 canvases of real scikit-learn digits with exact instance
masks (3,000 train / 500 eval canvases from disjoint glyph pools), scored by
pycocotools bbox and segm AP; its targets are this project's own and the
run is not an MLPerf result. Without learning, the ground-truth boxes filled
as masks score BBOX 1.000 / SEGM 0.169 and the coarsest anchors 0.000 /
0.000 on the 500 eval canvases (`mini_baselines`).

The reference starts from the MSRA C2 ImageNet ResNet-50 (`--init-checkpoint
R-50.pkl`, `models.c2_resnet_weights`), read and checked by `check_request`
before any compute and imported in the untimed init.

The quality the runtime compares is `target_fraction`, the smaller of
`BBOX / box target` and `SEGM / mask target`: it reaches 1.0 exactly when
both targets hold.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from mlperf_jax.api import LazyModule, Target, Variant, Workload
from mlperf_jax.hparams import maskrcnn as maskrcnn_hparams
from mlperf_jax.hparams import registry

jax = LazyModule('jax')
jnp = LazyModule('jax.numpy')
traverse_util = LazyModule('flax.traverse_util')
model_lib = LazyModule('mlperf_jax.models.maskrcnn')
batches = LazyModule('mlperf_jax.input_pipelines.maskrcnn_batches')
coco = LazyModule('mlperf_jax.input_pipelines.coco')
coco_map = LazyModule('mlperf_jax.metrics.coco_map')
c2_weights = LazyModule('mlperf_jax.models.c2_resnet_weights')

COCO_TRAIN = 117_266     # input_pipelines.coco.TRAIN_IMAGES (tested)
COCO_EVAL = 5000
CANVAS_TRAIN = 3000      # input_pipelines.digit_canvas.TRAIN_CANVASES (tested)
CANVAS_EVAL = 500
QUALITY = 'target_fraction'
# The reference's unit of `num_image_candidates`: proposals per image; the
# post-NMS top N runs over groups of num_image_candidates / 1000 images.
CANDIDATES_PER_IMAGE = 1000


def _dtype(name: str):
  return jnp.bfloat16 if name == 'bfloat16' else jnp.float32


# ---- data sources -----------------------------------------------------------

def _canvas_train(wl, data_dir, hp, *, seed, host, start_step):
  del wl, data_dir
  return batches.canvas_train_batches(int(hp['global_batch_size']),
                                      seed=seed, start_step=start_step,
                                      host=host)


def _canvas_eval(wl, data_dir, hp, *, global_batch_size, host):
  del wl, data_dir, hp
  return batches.canvas_eval_batches(global_batch_size, host=host)


def _coco_train(wl, data_dir, hp, *, seed, host, start_step):
  del wl
  return batches.coco_train_batches(
      data_dir, int(hp['global_batch_size']), seed=seed,
      start_step=start_step, host=host)


def _coco_eval(wl, data_dir, hp, *, global_batch_size, host):
  del wl, hp
  return batches.coco_eval_batches(data_dir, global_batch_size, host=host)


VARIANTS = {
    'reference': Variant(
        scale='reference', benchmark='maskrcnn',
        target=Target(QUALITY, 1.0), train_samples=COCO_TRAIN,
        eval_samples=COCO_EVAL, num_runs=5, rulesets=('1.1.0', '3.1.0'),
        model=lambda dtype: model_lib.reference_config(dtype=_dtype(dtype)),
        train_data=_coco_train, eval_data=_coco_eval, needs_data_dir=True,
        eval_batch_size=None, eval_every_epochs=1, max_epochs=20,
        log_init_tensors=True,
        extra={'targets': {'BBOX': 0.377, 'SEGM': 0.339}, 'channels': 3,
               # The backbone of `--init-checkpoint R-50.pkl` (and of
               # model_lib.reference_config: tested).
               'c2_backbone': 'R-50', 'frozen_stages': 2,
               # maskrcnn_batches.REFERENCE_BUCKETS (tested)
               'train_buckets': ((800, 1344), (1344, 800)),
               'max_gt': 100, 'mask_grid': 64}),
    'mini': Variant(
        scale='mini', benchmark='mini_maskrcnn',
        target=Target(QUALITY, 1.0), train_samples=CANVAS_TRAIN,
        eval_samples=CANVAS_EVAL, num_runs=5, rulesets=('mini',),
        defaults={
            'global_batch_size': 16,
            'opt_base_learning_rate': 0.04,
            'opt_learning_rate_warmup_steps': 100,
            'opt_learning_rate_warmup_factor': 0.1,
            # The earliest legal decay at 16 images per step (K = -9) lies
            # past any mini run: the mini trains at the base rate.
            'opt_learning_rate_decay_steps': [6000, 8000],
            'num_image_candidates': 1000,
        },
        model=lambda dtype: model_lib.mini_config(dtype=_dtype(dtype)),
        train_data=_canvas_train, eval_data=_canvas_eval,
        eval_batch_size=64, eval_every_epochs=1, max_epochs=30,
        # A train step costs ~0.47 s of CPU at 16 images (32 RoIs per
        # image; 1.03 s at 64, where seed 1 reached BBOX 0.609 / SEGM
        # 0.464 at epoch 2). With 32, seed 1 reached both targets at epoch
        # 2 (0.576 / 0.499; epoch 1: 0.387 / 0.315) in 367 s plus 64 s of
        # untimed init, 289 CPU s in all (2026-12-02, load 6-12); seed 2
        # at epoch 2 too (0.608 / 0.493; epoch 1: 0.408 / 0.319): still
        # beyond the CI budget, so its conformance training tests run
        # under -m slow. Not yet calibrated over seeds.
        extra={'slow_mini': True,
               'targets': {'BBOX': 0.45, 'SEGM': 0.4}, 'channels': 1,
               'train_buckets': ((64, 64),), 'max_gt': 3, 'mask_grid': 64}),
}

# Reference-checkpoint-free tensors of the 1.1.0 `weights_initialization`
# list (closed_maskrcnn.yaml), by the Flax module path of their kernel.
_INIT_NAMES = {
    **{f'backbone/fpn_inner{i}': f'FPN_inner_block{i}' for i in range(1, 5)},
    **{f'backbone/fpn_layer{i}': f'FPN_layer_block{i}' for i in range(1, 5)},
    'rpn/conv': 'RPNHead_conv', 'rpn/cls_logits': 'RPNHead_cls',
    'rpn/bbox_pred': 'RPNHead_bbox',
    'box_head/fc6': 'ROI_BOX_FEATURE_EXTRACTOR_fc6',
    'box_head/fc7': 'ROI_BOX_FEATURE_EXTRACTOR_fc7',
    'box_head/cls_score': 'ROI_BOX_PREDICTOR_cls',
    'box_head/bbox_pred': 'ROI_BOX_PREDICTOR_bbox',
    **{f'mask_head/mask_fcn{i}': f'ROI_MASK_FEATURE_EXTRACTOR_fcn{i}'
       for i in range(1, 5)},
    'mask_head/conv5_mask': 'ROI_MASK_PREDICTOR_fcn5',
    'mask_head/mask_fcn_logits': 'ROI_MASK_PREDICTOR_fcn_logits',
}


def paste_mask(mask: np.ndarray, box: np.ndarray, height: int, width: int,
               threshold: float = 0.5, padding: int = 1) -> np.ndarray:
  """`Masker` / `paste_mask_in_image`: a 28x28 probability map into the
  image as a uint8 mask.

  The map is zero-padded by `padding` cells, its box grown by the same
  ratio (`expand_boxes`), truncated to integers, the map resized bilinearly
  (half-pixel centres, edge-clamped: torch `interpolate(align_corners=
  False)`) to the box's +1 size, thresholded and clipped into the image.
  """
  m = mask.shape[0]
  padded = np.zeros((m + 2 * padding, m + 2 * padding), np.float32)
  padded[padding:padding + m, padding:padding + m] = mask
  scale = (m + 2.0 * padding) / m
  cx, cy = (box[0] + box[2]) * 0.5, (box[1] + box[3]) * 0.5
  hw, hh = (box[2] - box[0]) * 0.5 * scale, (box[3] - box[1]) * 0.5 * scale
  b = np.array([cx - hw, cy - hh, cx + hw, cy + hh]).astype(np.int32)
  w = max(int(b[2] - b[0] + 1), 1)
  h = max(int(b[3] - b[1] + 1), 1)
  resized = _resize_bilinear(padded, h, w) > threshold
  out = np.zeros((height, width), np.uint8)
  x0, x1 = max(b[0], 0), min(b[2] + 1, width)
  y0, y1 = max(b[1], 0), min(b[3] + 1, height)
  if x1 > x0 and y1 > y0:
    out[y0:y1, x0:x1] = resized[y0 - b[1]:y1 - b[1], x0 - b[0]:x1 - b[0]]
  return out


def _resize_bilinear(a: np.ndarray, h: int, w: int) -> np.ndarray:
  def axis(n_in, n_out):
    src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(int), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, src - lo
  ylo, yhi, fy = axis(a.shape[0], h)
  xlo, xhi, fx = axis(a.shape[1], w)
  top = a[ylo][:, xlo] * (1 - fx) + a[ylo][:, xhi] * fx
  bot = a[yhi][:, xlo] * (1 - fx) + a[yhi][:, xhi] * fx
  return top * (1 - fy)[:, None] + bot * fy[:, None]


class BoxMaskAccumulator:
  """Host side of eval: COCO bbox and segm AP with pycocotools.

  Detections come back in the padded model frame; `image_scale` (the
  resize factor) maps them to the original image, as the reference's
  `prediction.resize((width, height))`, and masks are pasted there.
  """

  def __init__(self, ground_truth: Mapping[str, Any],
               targets: Mapping[str, float],
               category_ids=None):
    self._gt = coco_map.load_ground_truth(ground_truth)
    self._sizes = {img['id']: (img['height'], img['width'])
                   for img in ground_truth['images']}
    self._targets = dict(targets)
    self._cats = category_ids
    self.boxes: list[dict] = []
    self.segms: list[dict] = []
    self.image_ids: list[int] = []

  def add(self, outputs: Mapping[str, np.ndarray]) -> None:
    from pycocotools import mask as mask_util  # pylint: disable=import-outside-toplevel
    keep = np.asarray(outputs['mask']) > 0
    out = {k: np.asarray(v)[keep] for k, v in outputs.items() if k != 'mask'}
    for n, image_id in enumerate(out['image_id'].tolist()):
      self.image_ids.append(int(image_id))
      h, w = self._sizes[int(image_id)]
      s = float(out['image_scale'][n]) if 'image_scale' in out else 1.0
      for k in np.nonzero(out['valid'][n])[0]:
        box = out['boxes'][n, k] / s
        c = int(out['classes'][n, k])
        cat = int(self._cats[c]) if self._cats is not None else c
        score = float(out['scores'][n, k])
        # BoxList.convert('xywh'): w = x2 - x1 + 1.
        xywh = [float(box[0]), float(box[1]), float(box[2] - box[0] + 1),
                float(box[3] - box[1] + 1)]
        self.boxes.append({'image_id': int(image_id), 'category_id': cat,
                           'bbox': xywh, 'score': score})
        rle = mask_util.encode(np.asfortranarray(
            paste_mask(out['masks'][n, k], box, h, w)))
        rle['counts'] = rle['counts'].decode('ascii')
        self.segms.append({'image_id': int(image_id), 'category_id': cat,
                           'segmentation': rle, 'score': score})

  def result(self) -> dict[str, float]:
    ap = {}
    for name, iou_type, res in (('BBOX', 'bbox', self.boxes),
                                ('SEGM', 'segm', self.segms)):
      ap[name] = coco_map.evaluate(self._gt, res, iou_type=iou_type,
                                   image_ids=self.image_ids)['AP']
    fraction = min(ap[k] / v for k, v in self._targets.items())
    return {**ap, QUALITY: fraction, 'count': float(len(self.image_ids))}


class MaskRCNNWorkload(Workload):
  """MLPerf heavy object detection (`maskrcnn`)."""

  name = 'maskrcnn'
  variants = VARIANTS

  def hparams(self, opt_name: str) -> tuple[registry.HParam, ...]:
    return maskrcnn_hparams.hparams(opt_name)

  def accuracy_value(self, metrics: Mapping[str, float]) -> Any:
    """`eval_accuracy` as the rules log it: {"BBOX": b, "SEGM": s}."""
    return {'BBOX': float(metrics['BBOX']), 'SEGM': float(metrics['SEGM'])}

  # ---- model ---------------------------------------------------------------

  def model_config(self):
    return self.variant.model(self.compute_dtype)

  def model(self):
    return model_lib.MaskRCNN(self.model_config())

  def _group(self, hp) -> int:
    return max(1, int(hp['num_image_candidates']) // CANDIDATES_PER_IMAGE)

  def init(self, rng, hp):
    h, w = self.variant.extra['train_buckets'][0]
    c = self.variant.extra['channels']
    batch = {'image': jnp.zeros((1, h, w, c), jnp.float32),
             'image_hw': jnp.asarray([[h, w]], jnp.int32)}
    variables = self.model().init({'params': rng}, batch, train=False)
    params = variables.pop('params')
    return params, dict(variables)

  def loss(self, params, model_state, batch, rng, hp):
    out = self.model().apply(
        {'params': params, **model_state}, batch, train=True,
        candidates=int(hp['num_image_candidates']), group=self._group(hp),
        rngs={'sampling': rng})
    total = sum(out.values())
    n = batch['image'].shape[0]
    return total * n, jnp.asarray(n, jnp.float32), (model_state, out)

  def eval_step(self, params, model_state, batch, hp):
    out = self.model().apply({'params': params, **model_state}, batch,
                             train=False)
    out['image_id'] = batch['image_id']
    out['mask'] = batch['mask']
    if 'image_scale' in batch:
      out['image_scale'] = batch['image_scale']
    return out

  def eval_accumulator(self):
    if self.synthetic:
      gt = {'images': [], 'annotations': [], 'categories': []}
      return _SyntheticAccumulator(gt, self.variant.extra['targets'])
    if self.variant.needs_data_dir:
      split = coco.open_split(self.data_dir, 'val', drop_empty=False)
      import json  # pylint: disable=import-outside-toplevel
      with open(split.annotation_file, encoding='utf-8') as f:
        gt = json.load(f)
      return BoxMaskAccumulator(gt, self.variant.extra['targets'],
                                split.category_ids)
    return BoxMaskAccumulator(batches.canvas_ground_truth(),
                              self.variant.extra['targets'])

  def param_labels(self, params):
    flat = traverse_util.flatten_dict(dict(params))

    def label(path, leaf):
      if len(leaf.shape) > 1:
        return registry.KERNEL
      if any('bn' in p or 'norm' in p.lower() for p in path[:-1]) or (
          path[-1] == 'scale'):
        return registry.NORM
      return registry.BIAS
    return traverse_util.unflatten_dict(
        {p: label(p, v) for p, v in flat.items()})

  def logical_axis_rules(self):
    return model_lib.LOGICAL_AXIS_RULES

  def check_request(self, hp, *, division, init_checkpoint, dry_run):
    """Also: a closed run on COCO must start from the reference's ImageNet
    backbone (`MODEL.WEIGHT`), as the rules require of benchmarks defined
    from a fixed set of weights (training_rules.adoc v1.1); smoke runs on
    synthetic data, dry runs and the open division may start from random
    weights."""
    problems = []
    if init_checkpoint:
      problems += [f'--init-checkpoint {init_checkpoint}: {p}'
                   for p in self._import_c2(init_checkpoint)]
    elif (division == 'closed' and 'c2_backbone' in self.variant.extra
          and not self.synthetic and not dry_run):
      problems.append(
          'a closed-division Mask R-CNN run on COCO must start from the '
          "reference's MSRA ImageNet ResNet-50 (MODEL.WEIGHT catalog://"
          'ImageNetPretrained/MSRA/R-50): pass --init-checkpoint R-50.pkl '
          "(Detectron's ImageNetPretrained/MSRA/R-50.pkl), or use "
          '--division open to train the backbone from random weights')
    group = self._group(hp)
    if int(hp['global_batch_size']) % group:
      problems.append(
          f'num_image_candidates {hp["num_image_candidates"]} selects over '
          f'groups of {group} images, which global_batch_size '
          f'{hp["global_batch_size"]} does not split into; use a multiple '
          f'of {group} images or fewer candidates')
    if self.variant.needs_data_dir and not self.synthetic and not dry_run:
      problems += coco.layout_problems(self.data_dir)
    return problems

  # ---- the ImageNet backbone (`--init-checkpoint R-50.pkl`) -----------------

  def _import_c2(self, path: str) -> list[str]:
    """Reads and checks the MSRA C2 weights (NumPy only, before JAX);
    keeps them for `load_init_state`. Returns problems."""
    arch = self.variant.extra.get('c2_backbone')
    if arch is None:
      return [f'the {self.scale} model trains its backbone from scratch '
              '(GroupNorm, no ImageNet weights); drop --init-checkpoint']
    try:
      blobs = c2_weights.read(path)
      stages, width = c2_weights.ARCHS[arch]
      variables = c2_weights.backbone_variables(
          blobs, stages, width, self.variant.extra['frozen_stages'])
    except ValueError as e:
      return [f'{e}; pass the MSRA {arch} ImageNet weights (Detectron\'s '
              f'ImageNetPretrained/MSRA/{arch}.pkl, the reference\'s '
              f'catalog://ImageNetPretrained/MSRA/{arch})']
    self._c2 = {'path': path, 'variables': variables}
    return []

  def load_init_state(self, path, params, model_state, hp):
    """The reference's `MODEL.WEIGHT` (MSRA C2 ImageNet ResNet-50, see
    `models.c2_resnet_weights`): the trainable backbone convs (res3-res5)
    into `params['backbone']`, the frozen stem and res2 convs and every
    FrozenBatchNorm buffer into the model state's `frozen` / `frozen_bn`
    backbones; the FPN and heads keep the run's own init. The file was
    read and checked by the CLI's `check_request` before any compute (read
    again here when another path comes)."""
    import flax  # pylint: disable=import-outside-toplevel
    del hp
    imported = getattr(self, '_c2', None)
    if imported is None or imported['path'] != path:
      bad = self._import_c2(path)
      if bad:
        raise ValueError('; '.join(bad))
      imported = self._c2
    params, model_state = jax.device_get((params, model_state))
    trees = {'params': flax.core.unfreeze(flax.linen.meta.unbox(params)),
             **{k: flax.core.unfreeze(v) for k, v in model_state.items()}}
    for coll, backbone in imported['variables'].items():
      # Merged leaf by leaf (`backbone` also holds the FPN); the runtime
      # checks the result against the model's shapes.
      flat = traverse_util.flatten_dict(trees.get(coll, {}))
      flat.update({('backbone',) + k: v for k, v in
                   traverse_util.flatten_dict(backbone).items()})
      trees[coll] = traverse_util.unflatten_dict(flat)
    params = trees.pop('params')
    return params, trees

  def init_tensor_names(self, params):
    import flax  # pylint: disable=import-outside-toplevel
    flat = traverse_util.flatten_dict(flax.linen.meta.unbox(dict(params)))
    found = {'/'.join(p[:-1]) for p in flat if p[-1] == 'kernel'}
    return sorted(v for k, v in _INIT_NAMES.items() if k in found)

  def parameter_counts(self) -> tuple[int, int]:
    """(all, trainable) parameters from abstract shapes (`jax.eval_shape`)."""
    import flax  # pylint: disable=import-outside-toplevel
    shapes = jax.eval_shape(lambda r: self.init(r, {}),
                            jax.ShapeDtypeStruct((2,), jnp.uint32))
    params, state = flax.linen.meta.unbox(shapes)
    return model_lib.parameter_counts({'params': params, **state})

  def memory_report(self, hp, mesh_shape):
    del hp, mesh_shape
    total, trainable = self.parameter_counts()
    # The reference counts the frozen stem and res2 as parameters too.
    return (f'Mask R-CNN parameters: {total:,} in all, {trainable:,} '
            'trainable (the frozen stem and res2 convs are model state)')

  # ---- data ----------------------------------------------------------------

  def buckets(self, hp, *, train):
    del hp, train
    buckets = tuple(self.variant.extra['train_buckets'])
    # Synthetic batches come in one shape (the first bucket's).
    return buckets[:1] if self.synthetic else buckets

  def batch_spec(self, hp, *, train, bucket=None):
    ex = self.variant.extra
    h, w = bucket or ex['train_buckets'][0]
    b = self.global_batch_size(hp) if train else self.eval_batch_size(hp)
    g, m = ex['max_gt'], ex['mask_grid']
    f32, i32 = jnp.float32, jnp.int32
    s = lambda shape, dt: jax.ShapeDtypeStruct(shape, dt)
    spec = {'image': s((b, h, w, ex['channels']), f32),
            'image_hw': s((b, 2), i32)}
    if train:
      spec.update({'gt_boxes': s((b, g, 4), f32),
                   'gt_classes': s((b, g), i32),
                   'gt_masks': s((b, g, m, m), jnp.uint8),
                   'gt_mask_frames': s((b, g, 4), f32)})
    else:
      spec.update({'image_id': s((b,), i32), 'mask': s((b,), f32)})
      if self.variant.needs_data_dir:
        spec['image_scale'] = s((b,), f32)
    return spec

  def synthetic_bounds(self, hp):
    h, w = self.variant.extra['train_buckets'][0]
    return {'gt_classes': self.model_config().num_classes, 'gt_masks': 2,
            'image_hw': min(h, w) + 1, 'image_id': 2 ** 30}


def mini_baselines(count: int | None = None) -> dict[str, dict[str, float]]:
  """AP of two detectors without learning on the mini's eval canvases (the
  first `count`), judged like a run (`BoxMaskAccumulator`, 28x28 maps
  pasted into their boxes):

  * 'box_as_mask': the ground-truth boxes themselves, right class, score
    1, each box filled as its mask. Its BBOX is 1 by construction; its
    SEGM bounds every detector whose masks are filled boxes (what the mask
    head adds is the rest).
  * 'prior': the anchors of the coarsest level as detections of every
    class, scored by the class's training frequency, masks filled (COCO's
    100 best per image).
  """
  from mlperf_jax.input_pipelines import digit_canvas  # pylint: disable=import-outside-toplevel
  cs = digit_canvas.load_split('eval')
  n = len(cs) if count is None else count
  cfg = model_lib.mini_config()
  size = digit_canvas.CANVAS_SIZE
  full = np.ones((cfg.mask_resolution,) * 2, np.float32)
  gt = batches.canvas_ground_truth()
  train = digit_canvas.load_split('train')
  freq = np.bincount(train.labels[train.labels > 0],
                     minlength=cfg.num_classes)[1:]
  anchors = np.clip(model_lib.level_anchors(cfg, (size, size))[-1], 0,
                    size - 1)
  k = cfg.num_classes - 1
  prior_scores = np.repeat(freq / freq.sum(), len(anchors))
  top = np.argsort(-prior_scores, kind='stable')[:100]
  out = {}
  for name in ('box_as_mask', 'prior'):
    acc = BoxMaskAccumulator(gt, {'BBOX': 1.0, 'SEGM': 1.0})
    for i in range(n):
      if name == 'box_as_mask':
        m = int(cs.num_instances[i])
        boxes = batches.legacy_boxes(cs.boxes[i, :m])
        classes, scores = cs.labels[i, :m], np.ones(m)
      else:
        boxes = np.tile(anchors, (k, 1))[top]
        classes = np.repeat(np.arange(1, k + 1), len(anchors))[top]
        scores = prior_scores[top]
      d = len(boxes)
      acc.add({'boxes': boxes[None], 'scores': scores[None],
               'classes': classes[None], 'valid': np.ones((1, d), bool),
               'masks': np.broadcast_to(full, (1, d) + full.shape),
               'image_id': cs.image_id[i:i + 1], 'mask': np.ones(1)})
    r = acc.result()
    out[name] = {'BBOX': r['BBOX'], 'SEGM': r['SEGM']}
  return out


class _SyntheticAccumulator:
  """Synthetic data has no ground truth: AP 0 (smoke runs only)."""

  def __init__(self, gt, targets):
    del gt
    self._targets = targets
    self.count = 0

  def add(self, outputs):
    self.count += int(np.sum(np.asarray(outputs['mask']) > 0))

  def result(self):
    return {'BBOX': 0.0, 'SEGM': 0.0, QUALITY: 0.0,
            'count': float(self.count)}
