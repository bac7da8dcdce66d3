# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""MSRA Caffe2 ImageNet ResNet weights (Detectron `R-50.pkl`) for Mask R-CNN.

Reference: mlcommons/training `object_detection/pytorch`, which starts from
`catalog://ImageNetPretrained/MSRA/R-50` (`maskrcnn_benchmark/config/
paths_catalog.py`) and reads it with `utils/c2_model_loading.py`:

* The file is a pickle (written by Python 2; read with `encoding='latin1'`)
  of a dict of NumPy blobs, optionally under a `'blobs'` key.
* Blob names: `conv1_w` (stem conv), `res_conv1_bn_{s,b}` (its affine),
  `res{S}_{U}_branch2{a,b,c}_w` (the bottleneck's three convs),
  `res{S}_{U}_branch1_w` (the projection shortcut), each with
  `..._bn_s` / `..._bn_b`. Stages S = 2..5, units U from 0. Others
  (`fc1000_*`, `*_momentum`) are not loaded (`_momentum` is skipped by the
  reference, the classifier has no counterpart in the detector).
* Conv weights are OIHW (C2/torch layout, BGR input); this model's convs
  are HWIO.
* The C2 AffineChannel `_s` / `_b` become `FrozenBatchNorm2d` `weight` /
  `bias`; its `running_mean` / `running_var` stay at their initial 0 / 1
  (`layers/batch_norm.py` registers them as buffers of zeros and ones and
  the file has none).

Reading uses a restricted unpickler that rebuilds NumPy arrays and nothing
else, so a file that holds code or other objects is refused with a clear
error rather than run. This module is NumPy-only: the CLI checks a file
before JAX is imported.
"""

from __future__ import annotations

import pickle
from typing import Any, Iterator, Mapping

import numpy as np

# (units per stage, stem width) of the catalogued C2 ResNets
# (`_C2_STAGE_NAMES`; the stem is 64 wide in all of them).
ARCHS = {'R-50': ((3, 4, 6, 3), 64), 'R-101': ((3, 4, 23, 3), 64)}

# Globals a pickle of NumPy arrays needs (numpy 1 and 2 spellings).
_ALLOWED = {
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'),
    ('numpy._core.numeric', '_frombuffer'),
    ('_codecs', 'encode'), ('collections', 'OrderedDict'),
}


_NUMPY_2 = int(np.__version__.split('.')[0]) >= 2


class _ArraysOnly(pickle.Unpickler):

  def find_class(self, module, name):
    if (module, name) not in _ALLOWED:
      raise pickle.UnpicklingError(
          f'it refers to {module}.{name}, which is not part of a pickle of '
          'NumPy arrays')
    if module.startswith('numpy.core') and _NUMPY_2:
      module = 'numpy._core' + module[len('numpy.core'):]
    return super().find_class(module, name)


def read(path: str) -> dict[str, np.ndarray]:
  """The blobs of a C2 pickle; ValueError names what is wrong with it."""
  try:
    with open(path, 'rb') as f:
      data = _ArraysOnly(f, encoding='latin1').load()
  except OSError as e:
    raise ValueError(f'cannot read it ({e.strerror})') from e
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(
        'it is not a Caffe2/Detectron weights pickle (a pickled dict of '
        f'NumPy arrays such as R-50.pkl): {type(e).__name__}: {e}') from e
  if isinstance(data, dict) and 'blobs' in data:
    data = data['blobs']
  if not isinstance(data, dict):
    raise ValueError('it is not a Caffe2/Detectron weights pickle: it holds '
                     f'a {type(data).__name__}, not a dict of NumPy blobs')
  return {str(k): v for k, v in data.items()}


def _convs(stage_sizes, width: int, in_channels: int
           ) -> Iterator[tuple[str, tuple[str, ...], tuple[int, ...]]]:
  """(C2 prefix, model path, OIHW shape) of every conv, stem first."""
  yield 'conv1', ('stem_conv',), (width, in_channels, 7, 7)
  cin = width
  for s, units in enumerate(stage_sizes):
    inner, out = width * 2 ** s, 4 * width * 2 ** s
    for u in range(units):
      unit = f'res{s + 2}_{u}'   # the same name on both sides
      if cin != out:
        yield f'{unit}_branch1', (unit, 'downsample'), (out, cin, 1, 1)
      yield f'{unit}_branch2a', (unit, 'conv1'), (inner, cin, 1, 1)
      yield f'{unit}_branch2b', (unit, 'conv2'), (inner, inner, 3, 3)
      yield f'{unit}_branch2c', (unit, 'conv3'), (out, inner, 1, 1)
      cin = out


def _bn_name(conv_prefix: str) -> str:
  return 'res_conv1_bn' if conv_prefix == 'conv1' else f'{conv_prefix}_bn'


def _bn_path(conv_path: tuple[str, ...]) -> tuple[str, ...]:
  last = {'stem_conv': 'stem_bn', 'downsample': 'downsample_bn',
          'conv1': 'bn1', 'conv2': 'bn2', 'conv3': 'bn3'}[conv_path[-1]]
  return conv_path[:-1] + (last,)


def expected_shapes(stage_sizes, width: int, in_channels: int = 3) -> dict[str, tuple[int, ...]]:
  """C2 blob name -> shape of every blob the backbone loads."""
  out = {}
  for prefix, _, shape in _convs(stage_sizes, width, in_channels):
    out[f'{prefix}_w'] = shape
    bn = _bn_name(prefix)
    out[f'{bn}_s'] = out[f'{bn}_b'] = (shape[0],)
  return out


def problems(blobs: Mapping[str, Any], stage_sizes, width: int,
             in_channels: int = 3) -> list[str]:
  """Every missing, misshapen or non-numeric blob (empty: loadable)."""
  found = []
  for name, shape in expected_shapes(stage_sizes, width, in_channels).items():
    v = blobs.get(name)
    if v is None:
      found.append(f'blob {name} {shape} is missing')
    elif not isinstance(v, np.ndarray) or v.dtype.kind not in 'fiu':
      found.append(f'blob {name} is a {type(v).__name__}, not a numeric '
                   'array')
    elif tuple(v.shape) != shape:
      found.append(f'blob {name} has shape {tuple(v.shape)}, the model '
                   f'needs {shape}')
  return found


def _put(tree: dict, path: tuple[str, ...], value) -> None:
  for p in path[:-1]:
    tree = tree.setdefault(p, {})
  tree[path[-1]] = value


def backbone_variables(blobs: Mapping[str, np.ndarray], stage_sizes,
                       width: int, frozen_stages: int,
                       in_channels: int = 3) -> dict[str, dict]:
  """The backbone's tensors by collection, as `models.maskrcnn` names them.

  Returns {'params': {...}, 'frozen': {...}, 'frozen_bn': {...}}, each
  nested like the module tree under `backbone` (float32 NumPy, kernels
  HWIO): convs of the stem and of the first `frozen_stages - 1` stages are
  `frozen`, the others `params`; every norm is `frozen_bn`. Raises
  ValueError listing every problem of `problems`.
  """
  bad = problems(blobs, stage_sizes, width, in_channels)
  if bad:
    raise ValueError('; '.join(bad))
  out: dict[str, dict] = {'params': {}, 'frozen': {}, 'frozen_bn': {}}
  for prefix, path, _ in _convs(stage_sizes, width, in_channels):
    # FREEZE_CONV_BODY_AT: 1 freezes the stem, 2 also res2, ...
    stage = 1 if path[0] == 'stem_conv' else int(path[0][3])
    kernel = np.transpose(np.asarray(blobs[f'{prefix}_w'], np.float32),
                          (2, 3, 1, 0))
    coll = 'frozen' if frozen_stages >= stage else 'params'
    _put(out[coll], path + ('kernel',), kernel)
    bn = _bn_name(prefix)
    c = kernel.shape[-1]
    _put(out['frozen_bn'], _bn_path(path), {
        'weight': np.asarray(blobs[f'{bn}_s'], np.float32),
        'bias': np.asarray(blobs[f'{bn}_b'], np.float32),
        'running_mean': np.zeros((c,), np.float32),
        'running_var': np.ones((c,), np.float32)})
  return out
