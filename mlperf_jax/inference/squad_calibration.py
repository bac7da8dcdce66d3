# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The fixed calibration sets of int8 BERT serving (SQuAD v1.1 windows).

Reference scale: MLPerf's list `calibration/SQuAD-v1.1/
bert_calibration_qas_ids.txt` of `mlcommons/inference` (100 question ids of
dev-v1.1.json drawn at random by MLCommons; shipped unchanged in
`calibration_lists/`, 2,500 bytes as stored at mlcommons/inference commit
c78a252610a3453e54ceed58bf0e59f1a61fe4f9). The folder's README asks for one
of its two files only; this one names questions, so the calibration
samples are every window (feature) of those questions, found by id and
independent of how the features are numbered. (The other file,
`bert_calibration_features.txt`, names 100 feature indices of the
reference's own feature list.)

Mini scale: as every mini model here (`calibration.py`), never the scored
questions: `MINI_QUESTIONS` questions of the mini QA set's *training*
split, drawn with `np.random.default_rng(MINI_SEED)` (`seeded_subset` over
its questions in file order), every window of each, built as inference
windows are (no answer positions).

Both are `calibration.CalibrationSet`s of QSL samples (input_ids,
input_mask, segment_ids); this module imports no JAX.
"""

from __future__ import annotations

import os
from typing import Sequence

from mlperf_jax.inference import calibration

REFERENCE_LIST = os.path.join(os.path.dirname(calibration.IMAGENET_CAL_LIST),
                              'bert_calibration_qas_ids.txt')
REFERENCE_SOURCE = ('mlcommons/inference calibration/SQuAD-v1.1/'
                    'bert_calibration_qas_ids.txt (100 dev-v1.1 questions)')
MINI_QUESTIONS = 100
MINI_SEED = 0


def windows_of(task, qas_ids: Sequence[str]) -> list[int]:
  """Indices in `task.features` of every window of the questions `qas_ids`
  (in feature order); raises ValueError naming questions not in the set."""
  wanted = set(qas_ids)
  have = {e.qas_id for e in task.examples}
  missing = [q for q in qas_ids if q not in have]
  if missing:
    raise ValueError(f'{len(missing)} calibration questions are not in the '
                     f'SQuAD set, e.g. {missing[:3]} (is it dev-v1.1.json?)')
  return [i for i, f in enumerate(task.features)
          if task.examples[f.example_index].qas_id in wanted]


def _windows(task, qas_ids, source: str) -> calibration.CalibrationSet:
  ids = windows_of(task, qas_ids)
  return calibration.CalibrationSet(source=source, ids=ids,
                                    load=lambda k: task.sample(ids[k]))


def reference(dev_task) -> calibration.CalibrationSet:
  """Every window of MLPerf's 100 calibration questions in the dev set."""
  qas_ids = calibration.read_list(REFERENCE_LIST)
  cal = _windows(dev_task, qas_ids, REFERENCE_SOURCE)
  return calibration.CalibrationSet(
      source=f'{REFERENCE_SOURCE}, their {len(cal)} windows', ids=cal.ids,
      load=cal.load)


def mini_questions(train_task) -> list[str]:
  """The mini calibration questions' ids (training split)."""
  rows = calibration.seeded_subset(len(train_task.examples), MINI_QUESTIONS,
                                   MINI_SEED)
  return [train_task.examples[i].qas_id for i in rows]


def mini() -> calibration.CalibrationSet:
  """Every window of `MINI_QUESTIONS` seeded mini training questions."""
  from mlperf_jax.inference import squad_task  # pylint: disable=import-outside-toplevel
  from mlperf_jax.input_pipelines import squad_mini  # pylint: disable=import-outside-toplevel
  train = squad_task.build(
      squad_mini.load()['train'], squad_task.mini_vocab(),
      max_seq_length=squad_task.MINI_SEQ_LENGTH,
      doc_stride=squad_task.MINI_DOC_STRIDE,
      max_query_length=squad_task.MINI_QUERY_LENGTH, is_training=False)
  qas_ids = mini_questions(train)
  cal = _windows(train, qas_ids, '')
  return calibration.CalibrationSet(
      source=(f'{MINI_QUESTIONS} mini QA training questions '
              f'(np.random.default_rng({MINI_SEED}) choice), their '
              f'{len(cal)} windows'), ids=cal.ids, load=cal.load)
