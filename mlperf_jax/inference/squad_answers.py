# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Answer text from BERT start/end logits, as the MLPerf SQuAD accuracy script.

`language/bert/accuracy-squad.py` (mlcommons/inference v1.0.1), whose
`write_predictions` follows google-research/bert `run_squad.py`:

* a response is float32 logits [seq, 2] (start, end per token), padded to
  384 with -10000;
* per example, over every window that has a response: the 20 best start and
  the 20 best end indexes (stable order of descending logit), every pair
  kept where both lie in the window's context tokens, the start is in its
  max-context window, end >= start and the span is at most 30 tokens; pairs
  sorted by start + end logit (descending, stable);
* the n-best list: for each pair in order until 20 distinct texts, the
  WordPiece text ('##' joins removed, whitespace collapsed) projected back
  onto the original words (`get_final_text`: character alignment of the
  uncased BasicTokenizer's reading of the original span with the prediction,
  falling back to the whole original span); a text already seen is skipped;
* the prediction is the first n-best text, or 'empty' where no pair is
  valid (also for an example none of whose windows was logged).
"""

from __future__ import annotations

import collections
from typing import Mapping, Sequence

import numpy as np

from mlperf_jax.input_pipelines import bert_tokenization
from mlperf_jax.input_pipelines import squad

N_BEST = 20
MAX_ANSWER_LENGTH = 30
_PAD_LOGIT = -10000.0


def decode_response(data: bytes, max_seq_length: int = squad.MAX_SEQ_LENGTH
                    ) -> tuple[np.ndarray, np.ndarray]:
  """(start, end) float64 logits [max_seq_length] of a response's bytes."""
  logits = np.frombuffer(data, np.float32).reshape(-1, 2)
  start = np.full(max_seq_length, _PAD_LOGIT)
  end = np.full(max_seq_length, _PAD_LOGIT)
  start[:len(logits)] = logits[:, 0]
  end[:len(logits)] = logits[:, 1]
  return start, end


def best_indexes(logits: np.ndarray, n: int) -> list[int]:
  """Indexes of the n largest logits, ties in index order."""
  return [int(i) for i in np.argsort(-np.asarray(logits), kind='stable')[:n]]


def _strip_spaces(text: str) -> tuple[str, dict[int, int]]:
  chars, ns_to_s = [], {}
  for i, c in enumerate(text):
    if c != ' ':
      ns_to_s[len(chars)] = i
      chars.append(c)
  return ''.join(chars), ns_to_s


def final_text(pred_text: str, orig_text: str,
               do_lower_case: bool = True) -> str:
  """The prediction's characters in the original text (or orig_text)."""
  tok_text = ' '.join(
      bert_tokenization.BasicTokenizer(do_lower_case).tokenize(orig_text))
  start = tok_text.find(pred_text)
  if start == -1:
    return orig_text
  end = start + len(pred_text) - 1
  orig_ns, orig_map = _strip_spaces(orig_text)
  tok_ns, tok_map = _strip_spaces(tok_text)
  if len(orig_ns) != len(tok_ns):
    return orig_text
  tok_s_to_ns = {s: ns for ns, s in tok_map.items()}
  o_start = orig_map.get(tok_s_to_ns.get(start, -1))
  if o_start is None:
    return orig_text
  o_end = orig_map.get(tok_s_to_ns.get(end, -1))
  if o_end is None:
    return orig_text
  return orig_text[o_start:o_end + 1]


def predictions(examples: Sequence[squad.Example],
                features: Sequence[squad.Feature],
                logits: Mapping[int, tuple[np.ndarray, np.ndarray]], *,
                n_best: int = N_BEST,
                max_answer_length: int = MAX_ANSWER_LENGTH
                ) -> dict[str, str]:
  """{qas_id: answer text}; `logits` maps a feature's index (its LoadGen
  sample index) to its (start, end) logits."""
  by_example = collections.defaultdict(list)
  for i, f in enumerate(features):
    by_example[f.example_index].append(i)
  out = {}
  for ex_index, ex in enumerate(examples):
    prelim = []
    for i in by_example[ex_index]:
      if i not in logits:
        continue
      f, (start_logits, end_logits) = features[i], logits[i]
      ends = best_indexes(end_logits, n_best)
      for s in best_indexes(start_logits, n_best):
        for e in ends:
          if (s >= len(f.tokens) or e >= len(f.tokens)
              or s not in f.token_to_orig_map or e not in f.token_to_orig_map
              or not f.token_is_max_context.get(s, False) or e < s
              or e - s + 1 > max_answer_length):
            continue
          prelim.append((float(start_logits[s]) + float(end_logits[e]),
                         i, s, e))
    prelim.sort(key=lambda p: p[0], reverse=True)
    seen, best = set(), None
    for _, i, s, e in prelim:
      if len(seen) >= n_best:
        break
      f = features[i]
      tok_text = ' '.join(f.tokens[s:e + 1])
      tok_text = tok_text.replace(' ##', '').replace('##', '')
      tok_text = ' '.join(tok_text.strip().split())
      orig = ' '.join(ex.doc_tokens[f.token_to_orig_map[s]:
                                    f.token_to_orig_map[e] + 1])
      text = final_text(tok_text, orig)
      if text in seen:
        continue
      seen.add(text)
      if best is None:
        best = text
    out[ex.qas_id] = best if best is not None else 'empty'
  return out
