# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The MLPerf BERT reference TF checkpoint <-> our parameter tree.

The reference starts from a provided TF1 checkpoint (`model.ckpt-28252`)
whose variables are named by the reference's scopes:
`bert/embeddings/word_embeddings`, `bert/encoder/layer_N/attention/self/
query/kernel`, `bert/encoder/layer_N/output/LayerNorm/gamma`,
`cls/predictions/output_bias`, `cls/seq_relationship/output_weights`, ...
`models/bert.py` names its modules after those scopes, so a parameter's TF
name is `bert_model.tf_name(path)`; the only shape differences are the
attention kernels and biases, kept 3-D/2-D here ([H, heads, head_size],
[heads, head_size, H], [heads, head_size]) and 2-D/1-D in the reference, so
import and export reshape them (a row-major reshape, as the reference's own
`dense_layer_3d` does).

The checkpoint also holds optimizer slots (`.../adam_m`, `.../adam_v`,
`.../LAMB`, `.../LAMB_1`) and `global_step`; import ignores them (the
reference restores only the model variables and starts its optimizer from
zero), and reports any model variable it lacks.

  params = import_params(read_tf_checkpoint(prefix), abstract_params)
  tensors = export_params(params)  # e.g. for the tests' checkpoint writer
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import numpy as np
from flax import traverse_util

from mlperf_jax.models import bert as bert_model


class CheckpointMappingError(ValueError):
  """The checkpoint does not fit the model; the message lists every problem."""


def name_map(params: Any) -> dict[tuple[str, ...], tuple[str, tuple[int, ...]]]:
  """`{our path: (TF name, TF shape)}` for every parameter.

  Args:
    params: parameters, boxed or not, arrays or `jax.ShapeDtypeStruct`s.
  """
  flat = traverse_util.flatten_dict(nn.unbox(params))
  return {p: (bert_model.tf_name(p), bert_model.tf_shape(p, tuple(v.shape)))
          for p, v in flat.items()}


def import_params(tensors: Mapping[str, np.ndarray], abstract_params: Any,
                  *, dtype: Any = np.float32) -> dict:
  """Our parameter tree from reference TF variables.

  Args:
    tensors: `{TF name: array}`, e.g. `tf_checkpoint.read_tf_checkpoint(p)`;
      extra entries (optimizer slots, global_step) are ignored.
    abstract_params: our parameters or their shapes (e.g. from
      `jax.eval_shape(workload.init, ...)`), boxed or not: fixes the tree.
    dtype: dtype of the returned arrays.

  Returns:
    Unboxed nested dict of numpy arrays shaped like `abstract_params`.

  Raises:
    CheckpointMappingError: listing every missing variable and every shape
      mismatch at once.
  """
  flat = traverse_util.flatten_dict(nn.unbox(abstract_params))
  out, problems = {}, []
  for path, (name, tf_shape) in name_map(abstract_params).items():
    if name not in tensors:
      problems.append(f'missing variable {name!r} (for {"/".join(path)})')
      continue
    value = np.asarray(tensors[name])
    if tuple(value.shape) != tuple(tf_shape):
      problems.append(f'{name}: checkpoint shape {tuple(value.shape)}, model '
                      f'expects {tuple(tf_shape)}')
      continue
    out[path] = value.reshape(flat[path].shape).astype(dtype)
  if problems:
    raise CheckpointMappingError(
        f'{len(problems)} problem(s) importing the BERT checkpoint:\n' +
        '\n'.join(f'  - {p}' for p in problems))
  return traverse_util.unflatten_dict(out)


def export_params(params: Any) -> dict[str, np.ndarray]:
  """`{TF name: array}` in the reference layout (inverse of `import_params`)."""
  flat = traverse_util.flatten_dict(nn.unbox(params))
  return {name: np.asarray(flat[p]).reshape(shape)
          for p, (name, shape) in name_map(params).items()}
