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
from typing import Any, Iterable, Iterator, Mapping

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mlperf_jax.input_pipelines import digits as digits_data
from mlperf_jax.input_pipelines import synthetic as synthetic_data
from mlperf_jax.models import resnet as resnet_model
from mlperf_jax.hparams import registry
from mlperf_jax.hparams import resnet as resnet_optim
from mlperf_jax.api import (HostBatch, HostShard, InferenceSet,
                                 ScaleConfig, SumAccumulator, Target,
                                 Workload, host_slices)

IMAGENET_TRAIN = 1_281_167
IMAGENET_EVAL = 50_000

_MINI_DEFAULTS = {
    'global_batch_size': 128,
    'model_bn_span': 128,
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
}

SCALES = {
    'reference': ScaleConfig(
        scale='reference', benchmark='resnet',
        target=Target('top1', 0.7590), train_samples=IMAGENET_TRAIN,
        eval_samples=IMAGENET_EVAL, eval_batch_size=0, defaults={},
        rulesets=('1.1.0', '4.0.0'), num_runs=5),
    'mini': ScaleConfig(
        scale='mini', benchmark='mini_resnet',
        target=Target('top1', 0.97),
        train_samples=digits_data.DIGITS_TRAIN_SAMPLES,
        eval_samples=digits_data.DIGITS_EVAL_SAMPLES, eval_batch_size=128,
        defaults=_MINI_DEFAULTS, rulesets=('mini',), num_runs=5),
}


class ResNetWorkload(Workload):
  """MLPerf image classification (`resnet`)."""

  name = 'resnet'
  scales = SCALES

  # ---- hyperparameters -----------------------------------------------------

  def hparams(self, opt_name: str) -> tuple[registry.HParam, ...]:
    return resnet_optim.hparams(opt_name)

  def default_opt_name(self) -> str:
    return self.config.defaults.get('opt_name', 'lars')

  def eval_every_epochs(self, hp):
    return 4 if self.scale == 'reference' else 1

  def default_max_epochs(self, hp):
    return 60 if self.scale == 'reference' else 40

  # ---- model ---------------------------------------------------------------

  def model_config(self) -> resnet_model.ResNetConfig:
    cfg = (resnet_model.resnet50_config() if self.scale == 'reference'
           else resnet_model.mini_config())
    dtype = jnp.bfloat16 if self.compute_dtype == 'bfloat16' else jnp.float32
    return dataclasses.replace(cfg, dtype=dtype)

  def model(self) -> resnet_model.ResNet:
    return resnet_model.ResNet(self.model_config())

  def _image_shape(self) -> tuple[int, int, int]:
    return (224, 224, 3) if self.scale == 'reference' else (8, 8, 1)

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
    return SumAccumulator('count', {'top1': 'correct'})

  def predict(self, params, model_state, inputs):
    logits = self.model().apply({'params': params, **model_state}, inputs,
                                train=False)
    return jnp.argmax(logits, -1).astype(jnp.int32)

  def inference_set(self) -> InferenceSet:
    if self.scale == 'mini':  # the 360 held-out digits
      split = digits_data.load_digits_split()
      images, labels = split['eval_image'], split['eval_label']
      return InferenceSet(count=len(labels), performance_count=len(labels),
                          get_sample=lambda i: images[i], labels=labels)
    from mlperf_jax.input_pipelines import imagenet  # pylint: disable=import-outside-toplevel
    source = imagenet.open_split(self.data_dir, 'validation')
    labels = _LazyLabels(source)
    # ImageNet 2012 validation: 50,000 images; 1,024 fit the QSL (v1.x).
    return InferenceSet(
        count=len(source), performance_count=1024,
        get_sample=lambda i: imagenet.eval_example(source[i], 224),
        labels=labels)

  def decay_mask(self, params):
    # Weight decay (and LARS's trust ratio) only for conv and dense kernels;
    # BatchNorm scales/offsets and biases are excluded, as in the reference.
    return jax.tree.map(lambda p: p.ndim > 1, params)

  def logical_axis_rules(self):
    return resnet_model.LOGICAL_AXIS_RULES

  def init_tensor_names(self, params):
    if self.scale != 'reference':
      return []
    names = resnet_model.resnet_weight_names(flax.linen.meta.unbox(params))
    return sorted(names.values())

  # ---- data ----------------------------------------------------------------

  def _eval_batch_size(self, hp) -> int:
    # Reference: evaluate in batches of the training batch size (the whole
    # 50,000-image set, last batch padded and masked). Synthetic data: a few
    # such batches. Mini: a fixed size that leaves a padded last batch.
    if self.scale == 'reference':
      return int(hp['global_batch_size'])
    return self.config.eval_batch_size

  def batch_spec(self, hp, *, train):
    b = int(hp['global_batch_size']) if train else self._eval_batch_size(hp)
    spec = {'image': jax.ShapeDtypeStruct((b, *self._image_shape()),
                                          jnp.float32),
            'label': jax.ShapeDtypeStruct((b,), jnp.int32)}
    if not train:
      spec['mask'] = jax.ShapeDtypeStruct((b,), jnp.float32)
    return spec

  def _synthetic_spec(self, hp, train):
    spec = self.batch_spec(hp, train=train)
    num_classes = self.model_config().num_classes
    return {'image': (spec['image'].shape, np.float32, None),
            'label': (spec['label'].shape, np.int32, num_classes)}

  def train_batches(self, hp: Mapping[str, Any], *, seed: int, host: HostShard,
                    start_step: int = 0) -> Iterator[HostBatch]:
    gbs = int(hp['global_batch_size'])
    if self.synthetic:
      return host_slices(synthetic_data.synthetic_train_batches(
          self._synthetic_spec(hp, True), seed=seed), host)
    if self.scale == 'mini':
      # Each host builds the whole (64 KB) global batch and keeps its slice,
      # so the augmentation, and hence the run, does not depend on the number
      # of hosts (two processes train exactly like one).
      return host_slices(digits_data.digits_train_batches(
          global_batch_size=gbs, seed=seed, start_step=start_step), host)
    from mlperf_jax.input_pipelines import imagenet  # pylint: disable=import-outside-toplevel
    return imagenet.imagenet_train_batches(
        self.data_dir, global_batch_size=gbs, seed=seed, host_index=host.index,
        host_count=host.count, start_step=start_step)

  def eval_batches(self, hp, *, host: HostShard) -> Iterable[HostBatch]:
    eb = self._eval_batch_size(hp)
    if self.synthetic:
      return host_slices(synthetic_data.synthetic_eval_batches(
          self._synthetic_spec(hp, False), num_batches=2, seed=0), host)
    if self.scale == 'mini':
      return digits_data.digits_eval_batches(
          global_batch_size=eb, host_index=host.index, host_count=host.count)
    from mlperf_jax.input_pipelines import imagenet  # pylint: disable=import-outside-toplevel
    return imagenet.imagenet_eval_batches(
        self.data_dir, global_batch_size=eb, host_index=host.index,
        host_count=host.count)


class _LazyLabels:
  """Validation labels read on demand (decoding every image up front would
  take minutes)."""

  def __init__(self, source):
    self._source = source

  def __len__(self):
    return len(self._source)

  def __getitem__(self, i):
    return int(self._source[int(i)]['label'])
