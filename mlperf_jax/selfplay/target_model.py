# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The fixed networks a MiniGo run is judged against, and TF import.

* Mini: `mini_target.npz`, shipped in this package: the parameters and
  BatchNorm statistics of a 5x5 network trained by this project's own
  mini loop (`python -m mlperf_jax.selfplay.make_target`, whose docstring
  holds the exact command, seed and generation); its `meta` entry records
  them.
* Reference: the target model of `ml_perf/target` (TF checkpoint of the
  "intermediate amateur" network, TensorBundle V2 read by
  `mlperf_jax.formats.tf_checkpoint`), looked up under `--data-dir` as
  `target/target` (the prefix of `target.index` / `target.data-*`). The
  same importer reads the bootstrap checkpoint given as `--init-checkpoint`.

TF names map one to one to the Flax paths (`models/minigo.py` names its
layers like TF): `conv2d_3/kernel`, `batch_normalization_3/gamma|beta|
moving_mean|moving_variance`, `dense_1/kernel|bias`.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import numpy as np

SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'mini_target.npz')
REFERENCE_TARGET = os.path.join('target', 'target')

_BN_LEAF = {'scale': 'gamma', 'bias': 'beta', 'mean': 'moving_mean',
            'var': 'moving_variance'}


def _flatten(tree, prefix=()):
  for k, v in tree.items():
    if isinstance(v, dict) or hasattr(v, 'items'):
      yield from _flatten(v, prefix + (k,))
    else:
      yield prefix + (k,), v


def _unflatten(flat):
  out: dict = {}
  for path, v in flat.items():
    d = out
    for k in path[:-1]:
      d = d.setdefault(k, {})
    d[path[-1]] = v
  return out


def save_npz(path: str, variables, meta: dict[str, Any]) -> None:
  """Writes {'params': ..., 'batch_stats': ...} and `meta` (JSON)."""
  arrays = {'/'.join(p): np.asarray(v, np.float32)
            for p, v in _flatten(variables)}
  arrays['meta'] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(),
                                 np.uint8)
  with open(path, 'wb') as f:
    np.savez_compressed(f, **arrays)


def load_npz(path: str) -> tuple[dict, dict]:
  """(variables, meta) of a file written by `save_npz`."""
  with np.load(path) as z:
    meta = json.loads(bytes(z['meta']).decode())
    flat = {tuple(k.split('/')): np.asarray(z[k]) for k in z.files
            if k != 'meta'}
  return _unflatten(flat), meta


@functools.cache
def _shipped():
  if not os.path.exists(SHIPPED):
    raise FileNotFoundError(
        f'the mini MiniGo target network {SHIPPED} is missing from the '
        'package; reinstall mlperf_jax, or make it with python -m '
        'mlperf_jax.selfplay.make_target')
  return load_npz(SHIPPED)


def load_shipped() -> dict:
  """The mini target's variables (host arrays)."""
  return _shipped()[0]


def shipped_meta() -> dict:
  return _shipped()[1]


def tf_names(variables) -> dict[tuple[str, ...], str]:
  """Flax variable path ('params'|'batch_stats', layer, leaf) -> TF name."""
  names = {}
  for path, _ in _flatten(variables):
    layer, leaf = path[-2], path[-1]
    if layer.startswith('batch_normalization'):
      leaf = _BN_LEAF[leaf]
    names[path] = f'{layer}/{leaf}'
  return names


def variables_from_tf_checkpoint(prefix: str, like) -> dict:
  """Variables shaped like `like` (a {'params', 'batch_stats'} tree of
  arrays or ShapeDtypeStructs) read from a TF checkpoint.

  Raises:
    ValueError: naming every missing tensor and every shape mismatch.
  """
  import flax  # pylint: disable=import-outside-toplevel
  from mlperf_jax.formats import tf_checkpoint  # pylint: disable=import-outside-toplevel
  like = flax.linen.meta.unbox(like)
  names = tf_names(like)
  try:
    listing = tf_checkpoint.list_tf_checkpoint(prefix)
  except tf_checkpoint.CheckpointError as e:
    raise ValueError(str(e)) from e
  problems = []
  shapes = {p: tuple(v.shape) for p, v in _flatten(like)}
  for path, name in names.items():
    if name not in listing:
      problems.append(f'no tensor {name!r}')
    elif tuple(listing[name][0]) != shapes[path]:
      problems.append(f'{name}: shape {tuple(listing[name][0])} in the '
                      f'checkpoint, {shapes[path]} in the model')
  if problems:
    raise ValueError(f'{prefix} is not a MiniGo checkpoint of this network: '
                     + '; '.join(problems))
  tensors = tf_checkpoint.read_tf_checkpoint(prefix, sorted(set(names.values())))
  return _unflatten({p: np.asarray(tensors[n], np.float32)
                     for p, n in names.items()})


def params_from_tf_checkpoint(prefix: str, abstract_params) -> dict:
  """Only the parameters (kernels, biases, BN gamma/beta) of a checkpoint."""
  return variables_from_tf_checkpoint(
      prefix, {'params': abstract_params})['params']


def load_reference_target(data_dir: str | None, config) -> dict:
  """The reference target network's variables from `--data-dir`."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  from mlperf_jax.models import minigo  # pylint: disable=import-outside-toplevel
  if not data_dir:
    raise ValueError('the reference MiniGo run needs --data-dir holding the '
                     f'target model ({REFERENCE_TARGET}.index)')
  net = minigo.MiniGoNet(config)
  n = config.board_size
  like = jax.eval_shape(lambda r: net.init(
      r, jnp.zeros((1, n, n, minigo.NUM_PLANES)), train=False),
      jax.random.PRNGKey(0))
  return variables_from_tf_checkpoint(os.path.join(data_dir, REFERENCE_TARGET),
                                      dict(like))
