# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD-MobileNet-v1 variables from the official TF checkpoint (`model.ckpt`).

`ssd_mobilenet_v1_coco_2018_01_28.tar.gz` holds `model.ckpt.{index,
data-00000-of-00001}` (TensorBundle V2, read by
`mlperf_jax.formats.tf_checkpoint`) besides the frozen graph. Its variable
names are the TF slim scopes our modules are named after:

* `FeatureExtractor/MobilenetV1/<layer>/weights` (`depthwise_weights` for
  `Conv2d_k_depthwise`) and `.../<layer>/BatchNorm/{gamma, beta,
  moving_mean, moving_variance}`;
* `BoxPredictor_k/{BoxEncodingPredictor, ClassPredictor}/{weights,
  biases}`.

TF conv kernels are [kh, kw, in, out] as ours; depthwise kernels are
[kh, kw, in, 1] where Flax's grouped conv holds [kh, kw, 1, in]. Training
bookkeeping in the checkpoint (`global_step`, optimizer slots such as
`.../RMSProp`, `.../ExponentialMovingAverage`) is not a model variable and
is skipped.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import numpy as np
from flax import traverse_util

from mlperf_jax.formats import tf_checkpoint

SCOPE = 'FeatureExtractor/MobilenetV1'
_BN = {'scale': 'gamma', 'bias': 'beta', 'mean': 'moving_mean',
       'var': 'moving_variance'}
_PRED = {'kernel': 'weights', 'bias': 'biases'}
# Checkpoint entries that are not model variables.
_BOOKKEEPING = ('global_step',)
_SLOT_SUFFIXES = ('/RMSProp', '/RMSProp_1', '/Momentum',
                  '/ExponentialMovingAverage')


def tf_name(path: tuple[str, ...]) -> str:
  """The TF variable name of one of our variables (params or
  batch_stats path), e.g. ('Conv2d_1_depthwise', 'conv', 'kernel') ->
  'FeatureExtractor/MobilenetV1/Conv2d_1_depthwise/depthwise_weights'."""
  head, *rest = path
  if head.startswith('BoxPredictor_'):
    module, leaf = rest
    return f'{head}/{module}/{_PRED[leaf]}'
  module, leaf = rest
  if module == 'conv':
    kind = 'depthwise_weights' if head.endswith('_depthwise') else 'weights'
    return f'{SCOPE}/{head}/{kind}'
  return f'{SCOPE}/{head}/BatchNorm/{_BN[leaf]}'


def _is_bookkeeping(name: str) -> bool:
  return name in _BOOKKEEPING or name.endswith(_SLOT_SUFFIXES)


def import_variables(tensors: dict[str, np.ndarray], params: Any,
                     batch_stats: Any) -> tuple[Any, Any]:
  """Our (params, batch_stats) numpy trees from {TF name: array}.

  `params` / `batch_stats` (arrays or shapes) say which variables to fill.
  ValueError names every missing variable, shape mismatch and unexpected
  model variable of the checkpoint.
  """
  problems, used, out = [], set(), []
  for tree in (params, batch_stats):
    new = {}
    for path, leaf in traverse_util.flatten_dict(
        dict(nn.unbox(tree))).items():
      name = tf_name(path)
      if name not in tensors:
        problems.append(f'missing {name}')
        continue
      used.add(name)
      value = np.asarray(tensors[name])
      want = tuple(leaf.shape)
      if name.endswith('/depthwise_weights'):  # TF [kh, kw, in, 1]
        want = want[:2] + want[:1:-1]
      if tuple(value.shape) != want:
        problems.append(f'{name} has shape {tuple(value.shape)}, our '
                        f'{"/".join(path)} needs it as {want}')
        continue
      if name.endswith('/depthwise_weights'):
        value = value.transpose(0, 1, 3, 2)
      new[path] = value.astype(np.float32)
    out.append(traverse_util.unflatten_dict(new))
  unexpected = sorted(n for n in tensors
                      if n not in used and not _is_bookkeeping(n))
  if unexpected:
    problems.append(f'unexpected {len(unexpected)} variables: '
                    f'{", ".join(unexpected[:5])}'
                    + (' ...' if len(unexpected) > 5 else ''))
  if problems:
    raise ValueError(
        'not an ssd_mobilenet_v1_coco checkpoint of this configuration: '
        + '; '.join(problems[:10])
        + (f' (and {len(problems) - 10} more)' if len(problems) > 10 else ''))
  return out[0], out[1]


def read_checkpoint(prefix: str, params: Any, batch_stats: Any
                    ) -> tuple[Any, Any]:
  """`import_variables` of the checkpoint `prefix` (e.g.
  `ssd_mobilenet_v1_coco_2018_01_28/model.ckpt`); ValueError names the
  checkpoint and the problem."""
  names = [n for n in tf_checkpoint.list_tf_checkpoint(prefix)
           if not _is_bookkeeping(n)]
  tensors = tf_checkpoint.read_tf_checkpoint(prefix, names)
  try:
    return import_variables(tensors, params, batch_stats)
  except ValueError as e:
    raise ValueError(f'{prefix}: {e}') from None
