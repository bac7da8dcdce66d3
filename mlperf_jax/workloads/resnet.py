# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ResNet-50 v1.5 on ImageNet (reference) and a mini ResNet on digits (mini).

Reference: MLPerf Training v1.x image classification, 75.90 % top-1 on the
50,000 ImageNet validation images, evaluated every 4 epochs, LARS or SGD.
Mini: a bottleneck ResNet with one block per stage on scikit-learn's 1,797
real 8x8 handwritten digits (1,437 train / 360 held out), evaluated every
epoch; its target is this project's own and the run is not an MLPerf result.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from mlperf_jax.api import (InferenceSpec, LazyModule, Target, Variant,
                            Workload, scenario_buckets)
from mlperf_jax.hparams import registry
from mlperf_jax.hparams import resnet as resnet_hparams
from mlperf_jax.inference import calibration

# Imported on first use: reading the variants imports no JAX.
jax = LazyModule('jax')
jnp = LazyModule('jax.numpy')
optax = LazyModule('optax')
traverse_util = LazyModule('flax.traverse_util')
resnet_model = LazyModule('mlperf_jax.models.resnet')
conv_lowering = LazyModule('mlperf_jax.models.conv_lowering')
max_pool = LazyModule('mlperf_jax.models.max_pool')
batch_norm = LazyModule('mlperf_jax.models.batch_norm')
digits = LazyModule('mlperf_jax.input_pipelines.digits')
imagenet = LazyModule('mlperf_jax.input_pipelines.imagenet')
sums = LazyModule('mlperf_jax.metrics.sums')
synthetic = LazyModule('mlperf_jax.input_pipelines.synthetic')

IMAGENET_TRAIN = 1_281_167
IMAGENET_EVAL = 50_000
DIGITS_TRAIN = 1437  # input_pipelines.digits.DIGITS_TRAIN_SAMPLES (tested)
DIGITS_EVAL = 360
NOTICE_KEY = 'mlperf_jax_notice'
# Which 2D convolution ran (models/conv_lowering.py; the same function).
CONV2D_KEY = 'mlperf_jax_conv2d'
# ... and which max pooling (models/max_pool.py; the same function).
MAX_POOL_KEY = 'mlperf_jax_max_pool'
# Which BatchNorm runs (models/batch_norm.py).
BATCH_NORM_KEY = 'mlperf_jax_batch_norm'


def _dtype(name: str):
  return jnp.bfloat16 if name == 'bfloat16' else jnp.float32


# ---- data sources (signatures: see mlperf_jax.api.TrainData / EvalData) ----

def _digits_train(wl, data_dir, hp, *, seed, host, start_step):
  del wl, data_dir
  # Each host builds the whole (64 KB) global batch and keeps its slice, so
  # the augmentation, and hence the run, does not depend on the number of
  # hosts (two processes train exactly like one).
  return synthetic.host_slices(digits.digits_train_batches(
      global_batch_size=int(hp['global_batch_size']), seed=seed,
      start_step=start_step), host)


def _digits_eval(wl, data_dir, hp, *, global_batch_size, host):
  del wl, data_dir, hp
  return digits.digits_eval_batches(global_batch_size=global_batch_size,
                                    host=host)


def input_std(hp):
  """The channel stds images are divided by: None for the reference's
  mean-only normalisation (`input_normalization=mean`)."""
  if hp.get('input_normalization', 'mean') == 'mean_std':
    return imagenet.image_ops.STDDEV_RGB
  return None


def _imagenet_train(wl, data_dir, hp, *, seed, host, start_step):
  del wl
  return imagenet.imagenet_train_batches(
      data_dir, global_batch_size=int(hp['global_batch_size']), seed=seed,
      host=host, start_step=start_step, std=input_std(hp))


def _imagenet_eval(wl, data_dir, hp, *, global_batch_size, host):
  del wl
  return imagenet.imagenet_eval_batches(
      data_dir, global_batch_size=global_batch_size, host=host,
      std=input_std(hp))


# The variants' extra['inference_data']: workload -> (count, load_sample,
# label), where load_sample(index) is one sample pytree and label(index) the
# ground-truth class, read lazily (decoding every validation image up front
# would take minutes).


def _digits_inference(wl):
  del wl
  split = digits.load_digits_split()
  images, labels = split['eval_image'], split['eval_label']
  return (len(labels), lambda i: {'image': images[int(i)]},
          lambda i: int(labels[int(i)]))


def _imagenet_inference(wl):
  source = imagenet.open_split(wl.data_dir, 'validation')
  size = wl.variant.extra['image_shape'][0]
  return (len(source),
          lambda i: {'image': imagenet.eval_example(source[int(i)], size)},
          lambda i: int(source[int(i)]['label']))


# The variants' extra['calibration_data']: workload -> the fixed
# `calibration.CalibrationSet` of int8 serving (`infer --precision int8`).

# Mini: 100 training digits drawn with this seed (never the scored
# held-out digits).
DIGITS_CALIBRATION_SIZE = 100
DIGITS_CALIBRATION_SEED = 0


def _digits_calibration(wl):
  del wl
  images = digits.load_digits_split()['train_image']
  ids = calibration.seeded_subset(len(images), DIGITS_CALIBRATION_SIZE,
                                  DIGITS_CALIBRATION_SEED)
  return calibration.CalibrationSet(
      source=(f'{DIGITS_CALIBRATION_SIZE} digits training images, '
              f'np.random.default_rng({DIGITS_CALIBRATION_SEED}) choice'),
      ids=ids, load=lambda k: {'image': images[ids[k]]})


def _imagenet_calibration(wl):
  # MLPerf's 500 validation images, found by file name (one pass over the
  # validation records), preprocessed as the inference samples.
  source = imagenet.open_split(wl.data_dir, 'validation')
  names = calibration.read_list(calibration.IMAGENET_CAL_LIST)
  file_names = [r['file_name'] for r in source]
  file_names = [f.decode() if isinstance(f, bytes) else f for f in file_names]
  ids = calibration.resolve_file_names(names, file_names)
  size = wl.variant.extra['image_shape'][0]
  return calibration.CalibrationSet(
      source=calibration.IMAGENET_CAL_SOURCE, ids=ids,
      load=lambda k: {'image': imagenet.eval_example(source[ids[k]], size)})


VARIANTS = {
    'reference': Variant(
        scale='reference', benchmark='resnet',
        target=Target('top1', 0.7590), train_samples=IMAGENET_TRAIN,
        eval_samples=IMAGENET_EVAL, num_runs=5, rulesets=('1.1.0', '4.0.0'),
        model=lambda dtype: resnet_model.resnet50_config(dtype=_dtype(dtype)),
        train_data=_imagenet_train, eval_data=_imagenet_eval,
        needs_data_dir=True,
        # Evaluate in batches of the training batch size (the whole 50,000
        # image set, last batch padded and masked).
        eval_batch_size=None, eval_every_epochs=4, max_epochs=60,
        log_init_tensors=True, mlperf_conf_model='resnet50',
        # Inference: ImageNet 2012 validation (50,000 images); 1,024 of them
        # fit the QSL (the v1.x performance sample count).
        extra={'image_shape': (224, 224, 3), 'inference_count': 1024,
               'inference_data': _imagenet_inference,
               'calibration_data': _imagenet_calibration}),
    'mini': Variant(
        scale='mini', benchmark='mini_resnet',
        target=Target('top1', 0.97), train_samples=DIGITS_TRAIN,
        eval_samples=DIGITS_EVAL, num_runs=5, rulesets=('mini',),
        defaults={
            'global_batch_size': 128,
            'opt_name': 'lars',
            'label_smoothing': 0.0,
            'lars_opt_base_learning_rate': 2.0,
            'lars_opt_learning_rate_warmup_epochs': 1,
            'lars_opt_momentum': 0.9,
            'lars_opt_weight_decay': 1e-4,
            'lars_opt_learning_rate_decay_steps': 180,
            'sgd_opt_base_learning_rate': 0.2,
            'sgd_opt_learning_rate_decay_steps': 180,
            'sgd_opt_weight_decay': 1e-4,
            'opt_learning_rate_warmup_epochs': 1,
        },
        model=lambda dtype: resnet_model.mini_config(dtype=_dtype(dtype)),
        train_data=_digits_train, eval_data=_digits_eval,
        # A fixed size that leaves a padded last batch.
        eval_batch_size=128, eval_every_epochs=1, max_epochs=40,
        mlperf_conf_model='resnet50',
        # Inference: the 360 held-out digits, all of them in the QSL.
        extra={'image_shape': (8, 8, 1), 'inference_count': None,
               'inference_data': _digits_inference,
               'calibration_data': _digits_calibration}),
}


class ResNetWorkload(Workload):
  """MLPerf image classification (`resnet`)."""

  name = 'resnet'
  variants = VARIANTS

  # ---- hyperparameters -----------------------------------------------------

  def hparams(self, opt_name: str) -> tuple[registry.HParam, ...]:
    return resnet_hparams.hparams(opt_name)

  def extra_mllog_items(self, hp):
    lowering = self.model_config().conv_lowering
    items = [(CONV2D_KEY, conv_lowering.describe(lowering)),
             (BATCH_NORM_KEY, batch_norm.describe())]
    if self.model_config().stem == 'imagenet':
      items.append((MAX_POOL_KEY, max_pool.describe(
          max_pool.for_conv_lowering(lowering))))
    if hp.get('input_normalization', 'mean') == 'mean_std':
      items.append((NOTICE_KEY, 'input normalisation: (x - channel mean) / '
                    'channel std, not the reference\'s mean subtraction alone '
                    '(input_normalization=mean_std; open division)'))
    return items

  def check_request(self, hp, *, division, init_checkpoint, dry_run):
    """The prepared ImageNet, checked before compute (imagenet.py)."""
    del hp, division, init_checkpoint
    if dry_run or self.synthetic or not self.data_dir or (
        not self.variant.needs_data_dir):
      return []
    return imagenet.check_dataset(self.data_dir)

  # ---- model ---------------------------------------------------------------

  def model_config(self):
    return self.variant.model(self.compute_dtype)

  def model(self):
    return resnet_model.ResNet(self.model_config())

  def _image_shape(self) -> tuple[int, int, int]:
    return self.variant.extra['image_shape']

  def init(self, rng, hp):
    x = jnp.zeros((1, *self._image_shape()), jnp.float32)
    variables = self.model().init(rng, x, train=False)
    return variables['params'], {'batch_stats': variables['batch_stats']}

  def loss(self, params, model_state, batch, rng, hp):
    del rng
    logits, updates = self.model().apply(
        {'params': params, **model_state}, batch['image'], train=True,
        mutable=['batch_stats'])
    num_classes = logits.shape[-1]
    labels = optax.smooth_labels(
        jax.nn.one_hot(batch['label'], num_classes),
        float(hp['label_smoothing']))
    per_example = optax.softmax_cross_entropy(logits.astype(jnp.float32),
                                              labels)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch['label'])
    return (jnp.sum(per_example), jnp.asarray(per_example.shape[0], jnp.float32),
            ({'batch_stats': updates['batch_stats']}, {'accuracy': accuracy}))

  def eval_step(self, params, model_state, batch, hp):
    logits = self.model().apply({'params': params, **model_state},
                                batch['image'], train=False)
    mask = batch['mask']
    correct = (jnp.argmax(logits, -1) == batch['label']).astype(jnp.float32)
    return {'correct': jnp.sum(correct * mask), 'count': jnp.sum(mask)}

  def eval_accumulator(self):
    return sums.SumAccumulator('count', {'top1': 'correct'})

  def param_labels(self, params):
    # Weight decay (and LARS's trust ratio) only for conv and dense kernels;
    # BatchNorm scales/offsets and biases are excluded, as in the reference.
    flat = traverse_util.flatten_dict(dict(params))

    def label(path, leaf):
      if len(leaf.shape) > 1:
        return registry.KERNEL
      return registry.NORM if 'bn' in '/'.join(path).lower() or path[
          -1] == 'scale' else registry.BIAS
    return traverse_util.unflatten_dict(
        {p: label(p, v) for p, v in flat.items()})

  def logical_axis_rules(self):
    return resnet_model.LOGICAL_AXIS_RULES

  def init_tensor_names(self, params):
    import flax  # pylint: disable=import-outside-toplevel
    names = resnet_model.resnet_weight_names(flax.linen.meta.unbox(params))
    return sorted(names.values())

  # ---- data ----------------------------------------------------------------

  def batch_spec(self, hp, *, train, bucket=None):
    del bucket
    b = self.global_batch_size(hp) if train else self.eval_batch_size(hp)
    spec = {'image': jax.ShapeDtypeStruct((b, *self._image_shape()),
                                          jnp.float32),
            'label': jax.ShapeDtypeStruct((b,), jnp.int32)}
    if not train:
      spec['mask'] = jax.ShapeDtypeStruct((b,), jnp.float32)
    return spec

  def synthetic_bounds(self, hp):
    return {'label': self.model_config().num_classes}

  # ---- schedule ------------------------------------------------------------

  def steps_per_epoch(self, hp) -> int:
    """`floor(train_samples / global_batch_size)`, as the reference.

    The reference (`image_classification/tensorflow2/common.py`,
    `get_num_train_iterations` with its default `drop_train_remainder=True`)
    rounds down, over a repeated stream (`imagenet_preprocessing.py`
    shuffles, repeats, then batches), so no image is dropped: its epochs, and
    so the warmup (`warmup_epochs * steps_per_epoch`) and the evaluation
    points, are `floor(N / GBS)` steps, as here (the data stream,
    `input_pipelines.batching`, crosses epochs in the same way).
    """
    return max(1, self.variant.train_samples // self.global_batch_size(hp))

  # ---- inference -----------------------------------------------------------

  # The ResNetConfig fields the served weights need (set by loading an ONNX
  # model: 1001 classes, padding, epsilon); none for our own training's.
  _serving_overrides: dict = {}

  def serving_config(self):
    """The configuration `predict` runs: the model's, with the fields the
    last `load_serving_checkpoint` found its weights to need."""
    return dataclasses.replace(self.model_config(), **self._serving_overrides)

  def load_serving_checkpoint(self, path: str):
    """(params, model_state) to serve (`infer --checkpoint`): the
    `final_params` directory of a training run, or an ONNX file: MLPerf
    Inference's `resnet50_v1.onnx` (TF official models' ResNet-50 v1.5, 1001
    classes, background first), mapped by `models.resnet_onnx_weights`,
    which also sets what `serving_config` changes for it."""
    if os.path.isdir(path):
      self._serving_overrides = {}
      return super().load_serving_checkpoint(path)
    from mlperf_jax.formats import onnx_model  # pylint: disable=import-outside-toplevel
    from mlperf_jax.models import resnet_onnx_weights as onnx_weights  # pylint: disable=import-outside-toplevel
    graph = onnx_model.read(path)
    net = onnx_weights.trace(graph)
    overrides = net.config_overrides()
    cfg = dataclasses.replace(self.model_config(), **overrides)
    image = jax.ShapeDtypeStruct((1, *self._image_shape()), jnp.float32)
    shapes = jax.eval_shape(lambda x: resnet_model.ResNet(cfg).init(
        jax.random.PRNGKey(0), x, train=False), image)
    params, stats = onnx_weights.variables(
        net, graph, shapes['params'], shapes['batch_stats'])
    self._serving_overrides = overrides
    return (jax.tree.map(jnp.asarray, params),
            {'batch_stats': jax.tree.map(jnp.asarray, stats)})

  def predict(self, params, model_state, inputs):
    cfg = self.serving_config()
    logits = resnet_model.ResNet(cfg).apply(
        {'params': params, **model_state}, inputs['image'], train=False)
    label = jnp.argmax(logits, -1).astype(jnp.int32) + cfg.label_offset
    return {'label': label}

  def calibration_set(self) -> 'calibration.CalibrationSet':
    """The fixed calibration set of int8 serving (the variant's)."""
    return self.variant.extra['calibration_data'](self)

  def inference(self) -> InferenceSpec:
    """MLPerf Inference image classification over the variant's data.

    Samples are {'image': float32 [H, W, C]} (preprocessed when the QSL
    loads them); each response is the predicted class as one little-endian
    int32, the bytes the official ImageNet accuracy script reads.
    """
    extra = self.variant.extra
    count, load_sample, label = extra['inference_data'](self)
    performance_count = min(extra['inference_count'] or count, count)
    buckets = extra.get('inference_buckets', INFERENCE_BUCKETS)
    metric = self.variant.target.metric

    def accuracy(responses):
      return top1_of_responses(responses, label, metric)

    return InferenceSpec(
        count=count, performance_count=performance_count,
        load_sample=load_sample, buckets=scenario_buckets(buckets),
        predict=self.predict, encode=encode_label, accuracy=accuracy,
        metric=metric)


# Batch sizes compiled per LoadGen scenario (both scales): SingleStream and
# MultiStream run their queries' own sizes (1 and 8 samples), Server batches
# dynamically up to 64 samples, Offline feeds the largest bucket. A variant
# may override them with extra['inference_buckets'].
INFERENCE_BUCKETS = {'SingleStream': (1,), 'MultiStream': (8,),
                     'Server': (1, 2, 4, 8, 16, 32, 64),
                     'Offline': (1, 8, 32, 128)}

def encode_label(outputs, row: int) -> bytes:
  """The predicted class of `row` as one little-endian int32."""
  return np.asarray(outputs['label'][row], '<i4').tobytes()


def decode_label(response: bytes) -> int | None:
  """The class in a response; None for an empty or short one (a failed
  sample)."""
  if len(response) < 4:
    return None
  return int(np.frombuffer(response[:4], '<i4')[0])


def top1_of_responses(responses, label, metric: str = 'top1'
                      ) -> dict[str, float]:
  """Top-1 over the logged responses ({index: bytes}); an empty response
  (a failed sample) counts as wrong."""
  idx = sorted(responses)
  correct = sum(decode_label(responses[i]) == label(i) for i in idx)
  return {metric: correct / len(idx) if idx else float('nan'),
          'samples': float(len(idx))}
