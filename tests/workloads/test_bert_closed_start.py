# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""(2) A closed BERT run on real data starts from the reference checkpoint;
the log says which weights were loaded (path and digest: asserted in
test_bert_workload.py's init-checkpoint test, which loads one)."""

import argparse
import pytest

from mlperf_jax.cli import options
from mlperf_jax.workloads import bert as bert_wl


def _parse(argv):
  p = argparse.ArgumentParser(prog='train')
  options.add_arguments(p)
  return options.parse(p, argv)


def test_closed_real_data_run_without_init_checkpoint_is_bad_input(
    tmp_path, capsys):
  out = tmp_path / 'runs'
  with pytest.raises(SystemExit) as e:
    _parse(['--workload', 'bert', '--scale', 'reference', '--data-dir',
            str(tmp_path), '--output-dir', str(out)])
  assert e.value.code == 2
  err = capsys.readouterr().err
  assert '--init-checkpoint' in err and 'closed-division BERT' in err
  assert '--division open' in err
  assert not out.exists()  # rejected before anything is written


@pytest.fixture
def data_ok(monkeypatch):
  """The dataset check (tested in test_bad_inputs.py) passes: only the
  checkpoint rule is under test here."""
  from mlperf_jax.input_pipelines import bert_tfrecord  # pylint: disable=import-outside-toplevel
  monkeypatch.setattr(bert_tfrecord, 'check_dataset', lambda *a, **k: [])


@pytest.mark.parametrize('extra', [
    ['--division', 'open'], ['--synthetic-data'], ['--dry-run']])
def test_random_start_is_fine_off_the_closed_real_data_path(tmp_path, extra,
                                                            data_ok):
  argv = ['--workload', 'bert', '--scale', 'reference', '--data-dir',
          str(tmp_path), *extra]
  parsed = _parse(argv)
  assert parsed.workload.name == 'bert'


def test_random_start_is_fine_at_the_mini_scale():
  assert _parse(['--workload', 'bert']).workload.scale == 'mini'


def test_closed_run_with_the_checkpoint_passes_the_check(tmp_path, data_ok):
  wl = bert_wl.BertWorkload('reference', data_dir=str(tmp_path))
  hp = wl.resolve_hparams()
  assert wl.check_request(hp, division='closed', init_checkpoint='x/model.ckpt',
                          dry_run=False) == []
  assert len(wl.check_request(hp, division='closed', init_checkpoint=None,
                              dry_run=False)) == 1
