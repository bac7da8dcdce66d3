# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The official MLPerf Inference RNN-T checkpoint (`rnnt.pt`) imported
without PyTorch: both torch formats, the full-size import into final
parameters (45,323,037), bad input, and (slow) serving the imported model
at the reference scale in three scenarios with the WER accuracy script."""

import collections
import os
import subprocess
import sys

import flax
import jax
import numpy as np
import pytest

from mlperf_jax import workloads
from mlperf_jax.inference import rnnt_checkpoint
from mlperf_jax.input_pipelines import librispeech
from mlperf_jax.models import rnnt
from mlperf_jax.runtime import checkpoint
from support import torch_checkpoint_writer as tw


def _small():
  return rnnt.inference_config(in_features=6, enc_hidden=8, enc_pre_layers=1,
                               enc_post_layers=2, pred_hidden=5,
                               joint_hidden=6)


@pytest.mark.parametrize('save', [tw.save_legacy, tw.save_zip])
def test_checkpoint_file_imports_as_its_state_dict(save, tmp_path):
  cfg = _small()
  state = tw.rnnt_inference_state(cfg, np.random.default_rng(3))
  path = str(tmp_path / 'rnnt.pt')
  # As the reference's training script saved it (pytorch_SUT.py reads
  # checkpoint['state_dict']).
  save({'epoch': 100, 'state_dict': collections.OrderedDict(state)}, path)
  got = rnnt_checkpoint.import_params(path, cfg)
  want = rnnt.import_torch_state_dict(state, cfg)
  flat_got = flax.traverse_util.flatten_dict(got)
  flat_want = flax.traverse_util.flatten_dict(want)
  assert sorted(flat_got) == sorted(flat_want)
  for k, v in flat_want.items():
    np.testing.assert_array_equal(flat_got[k], v, err_msg=str(k))
  # A checkpoint of another model is a named error.
  del state['prediction.dec_rnn.lstm.bias_hh_l1']
  save({'state_dict': state}, path)
  with pytest.raises(ValueError, match='bias_hh_l1'):
    rnnt_checkpoint.import_params(path, cfg)


def test_full_size_import_writes_servable_final_params(tmp_path, capsys):
  cfg = rnnt.inference_config()
  pt = str(tmp_path / 'rnnt.pt')
  state = tw.rnnt_inference_state(cfg, np.random.default_rng(0))
  tw.save_legacy({'state_dict': collections.OrderedDict(state)}, pt)
  out = str(tmp_path / 'imported')
  assert rnnt_checkpoint.main([pt, out]) == 0
  assert '45,323,037 parameters' in capsys.readouterr().out
  wl = workloads.get('rnnt', 'reference')
  params, model_state = checkpoint.load_final_params(out, wl)
  assert model_state == {} or not jax.tree.leaves(model_state)
  assert rnnt.count_params(params) == 45_323_037
  np.testing.assert_array_equal(
      params['joint_enc']['kernel'],
      state['joint_net.0.weight'][:, :cfg.enc_hidden].T)
  # Nothing is overwritten; a missing file is named; exit 2 for both.
  with pytest.raises(SystemExit) as e:
    rnnt_checkpoint.main([str(tmp_path / 'nope.pt'), out])
  assert e.value.code == 2
  err = capsys.readouterr().err
  assert 'nope.pt' in err and 'not an empty directory' in err


def _dev_clean(root, rng):
  import soundfile
  texts = ['hello world', "it's a test", 'one two three']
  folder = os.path.join(root, librispeech.EVAL_SPLIT, '19', '198')
  os.makedirs(folder)
  with open(os.path.join(folder, '19-198.trans.txt'), 'w') as f:
    for j, (t, sec) in enumerate(zip(texts + ['too long'],
                                     [1.0, 0.7, 1.3, 15.5])):
      soundfile.write(os.path.join(folder, f'19-198-{j:04d}.flac'),
                      0.1 * rng.normal(size=int(16000 * sec)), 16000)
      f.write(f'19-198-{j:04d} {t.upper()}\n')


# The full-size model compiled for three scenarios on a CPU: minutes.
@pytest.mark.slow
def test_imported_model_served_in_three_scenarios_with_wer(tmp_path):
  cfg = rnnt.inference_config()
  state = tw.rnnt_inference_state(cfg, np.random.default_rng(0))
  state = {k: 0.05 * v for k, v in state.items()}
  pt, out = str(tmp_path / 'rnnt.pt'), str(tmp_path / 'imported')
  tw.save_zip({'state_dict': state}, pt)
  assert rnnt_checkpoint.main([pt, out]) == 0
  data = str(tmp_path / 'ls')
  _dev_clean(data, np.random.default_rng(1))
  spec = workloads.get('rnnt', 'reference', data_dir=data).inference()
  assert spec.count == 3  # the 15.5 s utterance is not in the QSL
  for scenario in ('Offline', 'SingleStream', 'Server'):
    logs = tmp_path / scenario
    proc = subprocess.run(
        [sys.executable, '-m', 'mlperf_jax.infer', '--workload', 'rnnt',
         '--scale', 'reference', '--data-dir', data, '--checkpoint', out,
         '--mode', 'accuracy', '--scenario', scenario, '--output-dir',
         str(logs)], capture_output=True, text=True, timeout=1800,
        check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    acc = subprocess.run(
        [sys.executable, '-m', 'mlperf_jax.accuracy', '--workload', 'rnnt',
         '--scale', 'reference', '--data-dir', data,
         str(logs / 'mlperf_log_accuracy.json')],
        capture_output=True, text=True, timeout=600, check=False)
    assert acc.returncode == 0, acc.stdout + acc.stderr
    assert 'wer = ' in acc.stdout and 'samples = 3' in acc.stdout
