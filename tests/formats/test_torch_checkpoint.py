# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""PyTorch checkpoints read without PyTorch: both `torch.save` formats
(written by `support/torch_checkpoint_writer.py`) round-trip every dtype,
strided tensors and nested containers; unknown globals are never run;
damaged files are clear errors."""

import collections
import os
import pickle
import zipfile

import numpy as np
import pytest

from mlperf_jax.formats import torch_checkpoint as tc
from support import torch_checkpoint_writer as tw

SAVERS = {'zip': tw.save_zip, 'legacy': tw.save_legacy}


def _sample(rng):
  w = rng.normal(size=(5, 3)).astype(np.float32)
  return {
      'epoch': 100, 'step': 2**40, 'lr': 0.5, 'name': 'rnnt', 'done': True,
      'state_dict': collections.OrderedDict({
          'a.weight': w, 'a.weight_t': tw.transposed(w.T.copy()),
          'b.double': rng.normal(size=(2, 2, 2)),
          'c.half': rng.normal(size=4).astype(np.float16),
          'd.long': np.arange(-3, 4, dtype=np.int64),
          'e.int': np.arange(6, dtype=np.int32).reshape(2, 3),
          'f.byte': np.arange(7, dtype=np.uint8),
          'g.bool': np.array([True, False, True]),
          'h.scalar': np.array(3.5, np.float32),
          'i.empty': np.zeros((0, 4), np.float32)}),
      'nested': [(1, 'x'), {'k': np.ones(2, np.float32)}, None]}


@pytest.mark.parametrize('fmt', sorted(SAVERS))
def test_round_trip(fmt, tmp_path):
  obj = _sample(np.random.default_rng(0))
  path = str(tmp_path / 'ck.pt')
  SAVERS[fmt](obj, path)
  if fmt == 'zip':
    assert zipfile.is_zipfile(path)
  got = tc.load(path)
  assert {k: got[k] for k in ('epoch', 'step', 'lr', 'name', 'done')} == {
      'epoch': 100, 'step': 2**40, 'lr': 0.5, 'name': 'rnnt', 'done': True}
  assert isinstance(got['state_dict'], collections.OrderedDict)
  want = obj['state_dict']
  assert list(got['state_dict']) == list(want)
  for k, v in want.items():
    ref = v.value if isinstance(v, tw.Tensor) else v
    assert got['state_dict'][k].dtype == ref.dtype, k
    np.testing.assert_array_equal(got['state_dict'][k], ref, err_msg=k)
  np.testing.assert_array_equal(got['state_dict']['a.weight_t'],
                                want['a.weight'].T)
  assert got['nested'][0] == (1, 'x') and got['nested'][2] is None
  np.testing.assert_array_equal(got['nested'][1]['k'], np.ones(2))
  sd = tc.state_dict(path)
  assert sorted(sd) == sorted(want)


def test_unknown_globals_are_inert(tmp_path):
  marker = tmp_path / 'ran'

  class Evil:
    def __reduce__(self):
      return (os.system, (f'touch {marker}',))
  body = pickle.dumps({'x': Evil()}, protocol=2)
  path = tmp_path / 'evil.pt'
  with zipfile.ZipFile(path, 'w') as z:
    z.writestr('archive/data.pkl', body)
  got = tc.load(str(path))
  assert isinstance(got['x'], tc.Opaque) and not marker.exists()
  assert got['x'].name.endswith('.system')


def test_damaged_files_are_clear_errors(tmp_path):
  path = str(tmp_path / 'ck.pt')
  tw.save_legacy({'state_dict': {'w': np.ones((64, 64), np.float32)}}, path)
  with open(path, 'rb') as f:
    data = f.read()
  cut = str(tmp_path / 'cut.pt')
  with open(cut, 'wb') as f:
    f.write(data[:-100])
  with pytest.raises(tc.TorchCheckpointError, match='truncated'):
    tc.load(cut)
  junk = str(tmp_path / 'junk.pt')
  with open(junk, 'wb') as f:
    f.write(b'not a checkpoint at all')
  with pytest.raises(tc.TorchCheckpointError, match='neither'):
    tc.load(junk)
  z = str(tmp_path / 'z.pt')
  tw.save_zip({'w': np.ones(3, np.float32)}, z)
  with zipfile.ZipFile(z) as src, zipfile.ZipFile(str(tmp_path / 'z2.pt'),
                                                  'w') as dst:
    for n in src.namelist():
      if '/data/' not in n:
        dst.writestr(n, src.read(n))
  with pytest.raises(tc.TorchCheckpointError, match='lacks'):
    tc.load(str(tmp_path / 'z2.pt'))
  with pytest.raises(tc.TorchCheckpointError, match='not a state dict'):
    tw.save_zip([1, 2], z)
    tc.state_dict(z)
