# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.inference.rnnt_checkpoint RNNT_PT OUT_DIR`

Imports the official MLPerf Inference RNN-T checkpoint (`rnnt.pt`, the
PyTorch file `speech_recognition/rnnt` downloads; a `torch.save` dict whose
`state_dict` holds `model_separable_rnnt.RNNT`'s tensors) into OUT_DIR as
final parameters that `python -m mlperf_jax.infer --workload rnnt --scale
reference --checkpoint OUT_DIR --data-dir LIBRISPEECH` serves (Offline,
SingleStream, Server; `--mode accuracy` ends with the WER).

The file is read without PyTorch (`mlperf_jax.formats.torch_checkpoint`,
both torch's zip and legacy formats); names map as the reference's
`load_and_migrate_checkpoint` (pytorch_SUT.py) migrates them (`joint_net.*`
-> `joint.net.*`, the featurizer's `fb` and `window` buffers dropped) and
then onto this project's parameters (`models.rnnt.import_torch_state_dict`:
torch's [out, in] weights transposed, the joint's Linear over concat(f, g)
split into `joint_enc` (with the bias) and `joint_pred`), checked against
the 45,323,037 parameters of `models.rnnt.inference_config`.

Exit codes: 0 imported; 2 bad input (no such file, not a torch checkpoint,
tensors missing or of the wrong shape, OUT_DIR not empty), nothing written.
"""

from __future__ import annotations

import argparse
import os
import sys

from mlperf_jax.formats import torch_checkpoint

# What `load_final_params` and the workload read: the reference-scale RNN-T
# served with the inference model's config.
METADATA = {'workload': 'rnnt', 'scale': 'reference', 'model': 'inference'}


def import_params(path: str, cfg=None) -> dict:
  """The parameters of the checkpoint `path` for `cfg` (default: the MLPerf
  Inference RNN-T), as NumPy float32 arrays.

  Raises:
    ValueError (`TorchCheckpointError` included) naming the problem.
  """
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from mlperf_jax.models import rnnt  # pylint: disable=import-outside-toplevel
  cfg = cfg or rnnt.inference_config()
  state = torch_checkpoint.state_dict(path)
  params = rnnt.import_torch_state_dict(state, cfg)
  model = rnnt.RNNT(cfg)
  abstract = jax.eval_shape(
      lambda r: model.init(r, jnp.zeros((1, 4, cfg.in_features)),
                           jnp.array([4]), jnp.zeros((1, 2), jnp.int32)),
      jax.random.PRNGKey(0))['params']
  rnnt.check_shapes(params, abstract)
  return jax.tree.map(lambda x: np.asarray(x, np.float32), params)


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(
      prog='python -m mlperf_jax.inference.rnnt_checkpoint',
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('checkpoint', help='the official rnnt.pt (torch.save file)')
  p.add_argument('output_dir', help='a new or empty directory for the final '
                 'parameters')
  args = p.parse_args(argv)
  problems = []
  if not os.path.isfile(args.checkpoint):
    problems.append(f'{args.checkpoint!r} is not a file (download rnnt.pt as '
                    'the MLPerf Inference speech_recognition/rnnt README says)')
  if os.path.exists(args.output_dir) and (
      not os.path.isdir(args.output_dir) or os.listdir(args.output_dir)):
    problems.append(f'{args.output_dir!r} exists and is not an empty '
                    'directory; give a new one (nothing is overwritten)')
  if problems:
    p.error('; '.join(problems))
  try:
    params = import_params(args.checkpoint)
  except ValueError as e:
    p.error(f'cannot import {args.checkpoint}: {e}')
  from mlperf_jax.models import rnnt  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import checkpoint  # pylint: disable=import-outside-toplevel
  checkpoint.save_final_params(
      args.output_dir, params, {},
      {**METADATA, 'source': os.path.abspath(args.checkpoint),
       'parameters': rnnt.count_params(params)})
  print(f'imported {rnnt.count_params(params):,} parameters from '
        f'{args.checkpoint} into {args.output_dir}; serve them with python -m '
        'mlperf_jax.infer --workload rnnt --scale reference --checkpoint '
        f'{args.output_dir} --data-dir LIBRISPEECH')
  return 0


if __name__ == '__main__':
  sys.exit(main())
