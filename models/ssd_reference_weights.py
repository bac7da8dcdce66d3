# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SSD-ResNet-34 variables from the reference PyTorch checkpoint layout.

The official MLPerf Inference v1.x SSD-ResNet-34 1200 weights,
`resnet34-ssd1200.pytorch`, are a whole pickled `SSD_R34` module
(mlcommons/inference `vision/classification_and_detection/python/models/
ssd_r34.py`, loaded there with `torch.load(path)`); the MLPerf Training
SSD300 (`single_stage_detector/ssd/ssd300.py`) has the same module tree.
Its state-dict keys:

* trunk (`base_model_r34.py` `ResNet34`): `model.layer1` is torchvision
  resnet34's children [:6], so `model.layer1.0` = conv1, `.1` = bn1,
  `.4` = layer1, `.5` = layer2; `model.layer2.0` = layer3 (first block at
  stride 1). Blocks keep torchvision's names (`conv1`, `bn1`, ...,
  `downsample.0/1`); BN has `running_mean`/`running_var` (and
  `num_batches_tracked`, ignored);
* extra blocks: `additional_blocks.{i}.0` (1x1 conv) and `.2` (3x3 conv),
  both with bias (`.1`/`.3` are the ReLUs);
* heads: `loc.{k}` and `conf.{k}`, whose output channels keep the
  reference's coordinate-major layout, as ours (`models/ssd.py`).

Conv kernels are torch [out, in, kh, kw]; ours [kh, kw, in, out].
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import numpy as np
from flax import traverse_util

from mlperf_jax.formats import torch_checkpoint
from mlperf_jax.models import resnet34_backbone as trunk_lib

# torchvision trunk module -> its name inside the reference's `model`.
_TRUNK = {'conv1': 'model.layer1.0', 'bn1': 'model.layer1.1',
          'layer1': 'model.layer1.4', 'layer2': 'model.layer1.5',
          'layer3': 'model.layer2.0'}
_CONV_LEAF = {'kernel': 'weight', 'bias': 'bias'}


def reference_key(path: tuple[str, ...], collection: str = 'params') -> str:
  """State-dict key of one of our SSD variables, e.g. ('extra0_conv2',
  'kernel') -> 'additional_blocks.0.2.weight'."""
  head, *rest = path
  if head == 'backbone':
    name = trunk_lib.torchvision_name(tuple(rest), collection)
    first, _, tail = name.partition('.')
    if first in ('conv1', 'bn1'):
      return f'{_TRUNK[first]}.{tail}'
    block, _, tail = tail.partition('.')
    return f'{_TRUNK[first]}.{block}.{tail}'
  leaf = _CONV_LEAF[rest[-1]]
  if head.startswith('extra'):
    i, conv = head[len('extra'):].split('_')
    return f'additional_blocks.{i}.{0 if conv == "conv1" else 2}.{leaf}'
  for kind in ('loc', 'conf'):
    if head.startswith(kind):
      return f'{kind}.{head[len(kind):]}.{leaf}'
  raise ValueError(f'no reference key for SSD variable {"/".join(path)}')


def import_state_dict(state: dict[str, np.ndarray], params: Any,
                      batch_stats: Any = None) -> tuple[Any, Any]:
  """Our (params, batch_stats) from a reference state dict.

  Args:
    state: {key: array}, e.g. `torch_checkpoint.state_dict` output.
    params / batch_stats: the SSD's collections (arrays or shapes) that say
      which variables to fill and their shapes.

  Returns:
    numpy trees of params and batch stats (None if not given).

  Raises:
    ValueError listing every missing key and shape mismatch, and the
    reference keys left unused (a file of another model).
  """
  problems, used, out = [], set(), []
  for collection, tree in (('params', params), ('batch_stats', batch_stats)):
    if tree is None:
      out.append(None)
      continue
    new = {}
    for path, leaf in traverse_util.flatten_dict(
        dict(nn.unbox(tree))).items():
      key = reference_key(path, collection)
      if key not in state:
        problems.append(f'missing {key}')
        continue
      used.add(key)
      value = np.asarray(state[key])
      if value.ndim == 4:
        value = value.transpose(2, 3, 1, 0)
      if tuple(value.shape) != tuple(leaf.shape):
        problems.append(f'{key} has shape {tuple(state[key].shape)}, our '
                        f'{"/".join(path)} needs {tuple(leaf.shape)} '
                        '(torch layout transposed)')
        continue
      new[path] = value.astype(np.float32)
    out.append(traverse_util.unflatten_dict(new))
  if params is not None and batch_stats is not None:
    unused = sorted(k for k in state if k not in used
                    and not k.endswith('num_batches_tracked'))
    if unused:
      problems.append(f'{len(unused)} keys of the file are not ours '
                      f'(first: {", ".join(unused[:3])})')
  if problems:
    raise ValueError('not SSD-ResNet-34 weights of this configuration: ' +
                     '; '.join(problems[:8]) +
                     (f' (and {len(problems) - 8} more)'
                      if len(problems) > 8 else ''))
  return out[0], out[1]


def read_checkpoint(path: str, params: Any, batch_stats: Any
                    ) -> tuple[Any, Any]:
  """`import_state_dict` of a `torch.save` file (e.g.
  `resnet34-ssd1200.pytorch`); ValueError names the file and the problem."""
  state = torch_checkpoint.state_dict(path)
  try:
    return import_state_dict(state, params, batch_stats)
  except ValueError as e:
    raise ValueError(f'{path}: {e}') from None
