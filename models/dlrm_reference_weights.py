# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""DLRM parameters from the reference PyTorch `DLRM_Net` state dict.

MLPerf Inference's DLRM weights (`tb00_40M.pt`, recommendation/dlrm/
pytorch, tables capped at 40M rows) are a `torch.save` of the training
script's checkpoint dict, `{'state_dict': dlrm.state_dict(), 'epoch': ...,
'iter': ..., ...}`, loaded there by `load_state_dict(ld_model
['state_dict'])`. `DLRM_Net` (`dlrm_s_pytorch.py`) names its tensors:

* `emb_l.{t}.weight`: table `t`'s `nn.EmbeddingBag` [rows_t, dim];
* `bot_l.{2k}.weight` / `.bias`, `top_l.{2k}.weight` / `.bias`: layer `k`
  of the bottom and top MLPs, built by `create_mlp` as an `nn.Sequential`
  of `Linear`, activation, `Linear`, ... (so the Linears sit at even
  indices), weight [out, in] (ours: kernel [in, out]).

The tables go into the fused arrays of our embedding plan
(`models/dlrm_embedding.py`) at the plan's offsets, padding rows zero.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import numpy as np
from flax import traverse_util

from mlperf_jax.formats import torch_checkpoint
from mlperf_jax.models import dlrm as dlrm_model


def reference_keys(cfg: dlrm_model.DlrmConfig) -> dict[str, tuple[int, ...]]:
  """{state-dict key: torch shape} of the reference `DLRM_Net` of `cfg`."""
  keys = {f'emb_l.{t}.weight': (rows, cfg.embedding_dim)
          for t, rows in enumerate(cfg.table_rows)}
  for prefix, widths in (('bot_l', [cfg.num_dense, *cfg.bottom_mlp]),
                         ('top_l', [cfg.interaction_width, *cfg.top_mlp])):
    for k, (a, b) in enumerate(zip(widths, widths[1:])):
      keys[f'{prefix}.{2 * k}.weight'] = (b, a)
      keys[f'{prefix}.{2 * k}.bias'] = (b,)
  return keys


def _mlp_keys(cfg, params) -> dict[tuple[str, ...], str]:
  """Our MLP parameter paths -> their reference keys."""
  out = {}
  for ours, ref in (('bottom_mlp', 'bot_l'), ('top_mlp', 'top_l')):
    names = sorted(params[ours], key=lambda n: int(n.rsplit('dense', 1)[1]))
    for k, name in enumerate(names):
      out[(ours, name, 'kernel')] = f'{ref}.{2 * k}.weight'
      out[(ours, name, 'bias')] = f'{ref}.{2 * k}.bias'
  return out


def check_state_dict(state: Mapping[str, Any],
                     cfg: dlrm_model.DlrmConfig) -> None:
  """Raises ValueError naming every missing, unexpected or mis-shaped
  tensor of `state` ({key: array or anything with `.shape`})."""
  want = reference_keys(cfg)
  problems = [f'missing {k} {list(s)}' for k, s in want.items()
              if k not in state]
  problems += [f'unexpected {k} {list(np.shape(v))}' for k, v in state.items()
               if k not in want]
  misshaped = [k for k, s in want.items()
               if k in state and tuple(np.shape(state[k])) != s]
  problems += [f'{k}: shape {list(np.shape(state[k]))}, this DLRM needs '
               f'{list(want[k])}' for k in misshaped]
  if problems:
    hint = ''
    if any(k.startswith('emb_l') for k in misshaped):
      hint = (' (table rows follow max_ind_range: the official weights '
              f'cap them at {dlrm_model.MAX_IND_RANGE:,})')
    raise ValueError('not DLRM_Net weights of this configuration' + hint +
                     ': ' + '; '.join(problems))


def import_state_dict(state: Mapping[str, np.ndarray],
                      cfg: dlrm_model.DlrmConfig, params: Any) -> dict:
  """Our parameter tree (NumPy) from a reference state dict.

  Args:
    state: {key: array} in the reference's names and layouts.
    cfg: the DLRM configuration (its embedding plan places the tables).
    params: the expected tree (arrays or `jax.ShapeDtypeStruct`s, e.g. from
      `jax.eval_shape` of `init`).

  Raises:
    ValueError: see `check_state_dict`.
  """
  check_state_dict(state, cfg)
  params = nn.unbox(params)
  plan = cfg.plan
  flat = {}
  for path, key in _mlp_keys(cfg, params).items():
    a = np.asarray(state[key], np.float32)
    flat[path] = a.T if path[-1] == 'kernel' else a
  emb = params['embeddings']
  groups = []
  if 'embedding_row' in emb:
    groups.append(('embedding_row', list(zip(plan.row_tables,
                                             plan.row_offsets))))
  if 'embedding_table' in emb:
    groups.append(('embedding_table', sorted(plan.table_offsets.items())))
  for name, placed in groups:
    fused = np.zeros(emb[name].shape, np.float32)
    for t, offset in placed:
      fused[offset:offset + plan.table_rows[t]] = state[f'emb_l.{t}.weight']
    flat[('embeddings', name)] = fused
  want = set(traverse_util.flatten_dict(params))
  if set(flat) != want:
    raise ValueError(f'DLRM parameters {sorted(want - set(flat))} have no '
                     'reference tensor')
  return traverse_util.unflatten_dict(flat)


def read_checkpoint(path: str, cfg: dlrm_model.DlrmConfig,
                    params: Any) -> dict:
  """`import_state_dict` of a `torch.save` file (a checkpoint dict with a
  'state_dict', or the state dict itself).

  Raises:
    ValueError: unreadable file or mismatched tensors, naming the path.
  """
  try:
    state = torch_checkpoint.state_dict(path)
    return import_state_dict(state, cfg, params)
  except ValueError as e:
    raise ValueError(f'{path}: {e}') from None
