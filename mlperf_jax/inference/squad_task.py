# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""A SQuAD evaluation set as the MLPerf BERT QSL sees it: examples, one
LoadGen sample per feature (window), and the accuracy script.

Reference scale: `dev-v1.1.json` and the model's uncased `vocab.txt` in
the data directory, sequence 384, stride 128, query 64 (10,833 features).
Mini scale: the held-out split of `squad_mini` with the mini corpus's
vocabulary, sequence 64 (the mini BERT's positions), stride 24, query 16
(the same ratios of window to stride to query as closely as 64 allows).

`accuracy` is `accuracy-squad.py` + `evaluate-v1.1.py`: responses decoded
as float32 [seq, 2], answers by `squad_answers.predictions`, EM and F1 (in
percent) over every question of the set.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping, Sequence

import numpy as np

from mlperf_jax.input_pipelines import bert_tokenization
from mlperf_jax.input_pipelines import squad
from mlperf_jax.inference import squad_answers
from mlperf_jax.metrics import squad as squad_metric

MINI_SEQ_LENGTH = 64
MINI_DOC_STRIDE = 24
MINI_QUERY_LENGTH = 16
REFERENCE_FEATURES = 10_833
DEV_FILE = 'dev-v1.1.json'
VOCAB_FILE = 'vocab.txt'


@dataclasses.dataclass
class SquadTask:
  dataset: Mapping[str, Any]  # the SQuAD JSON
  examples: Sequence[squad.Example]
  features: Sequence[squad.Feature]
  max_seq_length: int

  @property
  def arrays(self) -> dict[str, np.ndarray]:
    return squad.feature_arrays(self.features)

  def sample(self, i: int) -> dict[str, np.ndarray]:
    f = self.features[i]
    return {'input_ids': f.input_ids, 'input_mask': f.input_mask,
            'segment_ids': f.segment_ids}

  def predictions(self, logits: Mapping[int, tuple[np.ndarray, np.ndarray]]
                  ) -> dict[str, str]:
    return squad_answers.predictions(self.examples, self.features, logits)

  def score_logits(self, logits: Mapping[int, tuple[np.ndarray, np.ndarray]]
                   ) -> dict[str, float]:
    """EM / F1 of per-feature (start, end) logits."""
    out = squad_metric.evaluate(self.dataset['data'],
                                self.predictions(logits))
    out['samples'] = float(len(logits))
    return out

  def accuracy(self, responses: Mapping[int, bytes]) -> dict[str, float]:
    """The accuracy script over a log's responses (`{qsl_idx: bytes}`)."""
    return self.score_logits({
        i: squad_answers.decode_response(d, self.max_seq_length)
        for i, d in responses.items()})

  def score_array(self, logits: np.ndarray) -> dict[str, float]:
    """EM / F1 of logits [N, T, 2] for every feature (direct scoring)."""
    return self.score_logits({i: (l[:, 0].astype(np.float64),
                                  l[:, 1].astype(np.float64))
                              for i, l in enumerate(logits)})


def build(dataset: Mapping[str, Any], vocab: Sequence[str], *,
          max_seq_length: int, doc_stride: int, max_query_length: int,
          is_training: bool = False) -> SquadTask:
  tok = bert_tokenization.FullTokenizer(vocab)
  examples = squad.read_squad_examples(dataset['data'], is_training)
  features = squad.convert_examples_to_features(
      examples, tok, max_seq_length=max_seq_length, doc_stride=doc_stride,
      max_query_length=max_query_length, is_training=is_training)
  return SquadTask(dataset, examples, features, max_seq_length)


def mini_vocab() -> list[str]:
  from mlperf_jax.workloads import bert as bert_workload  # pylint: disable=import-outside-toplevel
  return list(bert_workload._mini_corpus().vocab)  # pylint: disable=protected-access


def mini(split: str = 'dev') -> SquadTask:
  from mlperf_jax.input_pipelines import squad_mini  # pylint: disable=import-outside-toplevel
  return build(squad_mini.load()[split], mini_vocab(),
               max_seq_length=MINI_SEQ_LENGTH, doc_stride=MINI_DOC_STRIDE,
               max_query_length=MINI_QUERY_LENGTH,
               is_training=split == 'train')


def read_json(path: str) -> dict[str, Any]:
  try:
    with open(path, encoding='utf-8') as f:
      data = json.load(f)
  except OSError as e:
    raise OSError(f'cannot read {path}: {e.strerror or e}') from None
  except ValueError as e:
    raise ValueError(f'{path} is not JSON: {e}') from None
  if not isinstance(data, dict) or not isinstance(data.get('data'), list):
    raise ValueError(f'{path} is not a SQuAD file (no "data" list)')
  return data


def reference(data_dir: str) -> SquadTask:
  """dev-v1.1.json + vocab.txt under `data_dir`, features as MLPerf's."""
  missing = [n for n in (DEV_FILE, VOCAB_FILE)
             if not os.path.isfile(os.path.join(data_dir, n))]
  if missing:
    raise OSError(f'{data_dir} lacks {" and ".join(missing)} (the SQuAD v1.1 '
                  'dev set and the BERT model\'s uncased vocab.txt)')
  return build(read_json(os.path.join(data_dir, DEV_FILE)),
               bert_tokenization.load_vocab(os.path.join(data_dir,
                                                         VOCAB_FILE)),
               max_seq_length=squad.MAX_SEQ_LENGTH,
               doc_stride=squad.DOC_STRIDE,
               max_query_length=squad.MAX_QUERY_LENGTH)
