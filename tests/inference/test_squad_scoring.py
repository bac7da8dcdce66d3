# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""SQuAD v1.1 pieces of the BERT inference benchmark: tokenizer, windows,
answer decoding and EM/F1, against hand-worked cases and an independent
transcription of the reference scripts (run_squad.py's write_predictions
and evaluate-v1.1.py written here as plain Python loops)."""

import collections
import json
import math
import re
import string

import numpy as np
import pytest

from mlperf_jax.input_pipelines import bert_tokenization as bt
from mlperf_jax.input_pipelines import squad
from mlperf_jax.inference import squad_answers
from mlperf_jax.inference import squad_task
from mlperf_jax.metrics import squad as squad_metric

VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'un', '##aff', '##able', 'the',
         'cat', 'sat', 'on', 'mat', '.', ',', 'john', 'smith', '(', ')', '-',
         '1895', '1943', 'was', 'born', 'in', 'who', 'what', 'year', 'a',
         'dog', 'ran', '##s', 'leader', 'japan', '##ese', '?', "'", 's',
         'steve', 'big', 'red', 'house', 'when', 'where']


def test_basic_tokenizer_cleans_lowercases_strips_accents_splits_punct():
  tok = bt.BasicTokenizer()
  assert tok.tokenize(' \tHeLLo!How  are\u00a0you?  ') == [
      'hello', '!', 'how', 'are', 'you', '?']
  assert tok.tokenize('na\u00efve caf\u00e9\x00\ufffd\x07') == ['naive',
                                                               'cafe']
  assert tok.tokenize('ab\u4e2d\u6587cd') == ['ab', '\u4e2d', '\u6587', 'cd']
  assert tok.tokenize("Smith's (1895-1943).") == [
      'smith', "'", 's', '(', '1895', '-', '1943', ')', '.']


def test_wordpiece_greedy_longest_match_and_unk():
  tok = bt.FullTokenizer(VOCAB)
  assert tok.tokenize('UNaffable cats') == ['un', '##aff', '##able', 'cat',
                                            '##s']
  assert tok.tokenize('unaffablex') == ['[UNK]']  # no full cover
  assert bt.WordpieceTokenizer(VOCAB).tokenize('a' * 101) == ['[UNK]']
  assert tok.convert_tokens_to_ids(['the', 'cat']) == [7, 8]
  with pytest.raises(ValueError, match='UNK'):
    bt.FullTokenizer(['a', 'b'])


def test_doc_spans_and_max_context_as_the_reference_comment():
  # Windows of 5 tokens every 2 over 12 tokens. Token 7 has min(left,
  # right) context 1 in windows 2 and 3: a tie keeps the first. Token 9 has
  # 1 in window 3 (length 5) and in window 4 (length 4): 0.01 x length
  # decides.
  spans = squad.doc_spans(12, 5, 2)
  assert spans == [(0, 5), (2, 5), (4, 5), (6, 5), (8, 4)]
  assert [squad._is_max_context(spans, k, 7) for k in range(5)] == [
      False, False, True, False, False]
  assert [squad._is_max_context(spans, k, 9) for k in range(5)] == [
      False, False, False, True, False]
  assert squad.doc_spans(3, 5, 2) == [(0, 3)]


def _dataset():
  ctx1 = 'The leader was John Smith (1895-1943). Steve Smith\'s dog ran.'
  ctx2 = ('the cat sat on the mat . ' * 6) + 'a big red house in japan .'
  return {'version': '1.1', 'data': [
      {'title': 'a', 'paragraphs': [
          {'context': ctx1, 'qas': [
              {'id': 'q1', 'question': 'What year was John Smith born?',
               'answers': [{'text': '1895', 'answer_start': ctx1.index('1895')},
                           {'text': '1895-1943', 'answer_start':
                            ctx1.index('1895')}]},
              {'id': 'q2', 'question': 'Who ran?',
               'answers': [{'text': 'Steve Smith\'s dog',
                            'answer_start': ctx1.index('Steve')}]}]}]},
      {'title': 'b', 'paragraphs': [
          {'context': ctx2, 'qas': [
              {'id': 'q3', 'question': 'Where was the big red house?',
               'answers': [{'text': 'japan', 'answer_start':
                            ctx2.index('japan')}]}]}]}]}


def test_training_features_find_the_answer_tokens():
  ds = _dataset()
  tok = bt.FullTokenizer(VOCAB)
  ex = squad.read_squad_examples(ds['data'], is_training=False)
  assert [e.qas_id for e in ex] == ['q1', 'q2', 'q3']
  assert ex[0].doc_tokens[4] == 'Smith' and ex[0].answers == ('1895',
                                                              '1895-1943')
  one = {'version': '1.1', 'data': [
      {'title': 'a', 'paragraphs': [dict(ds['data'][0]['paragraphs'][0],
                                         qas=ds['data'][0]['paragraphs'][0][
                                             'qas'][:1])]}]}
  one['data'][0]['paragraphs'][0]['qas'][0]['answers'] = one['data'][0][
      'paragraphs'][0]['qas'][0]['answers'][:1]
  tr = squad.read_squad_examples(one['data'], is_training=True)
  feats = squad.convert_examples_to_features(
      tr, tok, max_seq_length=24, doc_stride=4, max_query_length=8,
      is_training=True)
  # '(1895-1943).' is one word; the improved span is the token '1895'.
  hits = [f for f in feats if f.start_position]
  assert hits and all(f.tokens[f.start_position] == '1895'
                      and f.end_position == f.start_position for f in hits)
  for f in feats:
    assert len(f.input_ids) == 24 and f.tokens[0] == '[CLS]'
    n = len(f.tokens)
    assert f.input_mask.sum() == n and (f.segment_ids[n:] == 0).all()
  assert [f.unique_id for f in feats] == list(
      range(1_000_000_000, 1_000_000_000 + len(feats)))


# ---- an independent transcription of the reference scripts ------------------


def _ref_normalize(s):
  s = s.lower()
  s = ''.join(ch for ch in s if ch not in set(string.punctuation))
  s = re.sub(r'\b(a|an|the)\b', ' ', s)
  return ' '.join(s.split())


def _ref_f1(p, g):
  pt, gt = _ref_normalize(p).split(), _ref_normalize(g).split()
  common = collections.Counter(pt) & collections.Counter(gt)
  same = sum(common.values())
  if same == 0:
    return 0
  pr, rc = same / len(pt), same / len(gt)
  return 2 * pr * rc / (pr + rc)


def _ref_evaluate(data, preds):
  f1 = em = total = 0
  for art in data:
    for par in art['paragraphs']:
      for qa in par['qas']:
        total += 1
        if qa['id'] not in preds:
          continue
        gts = [a['text'] for a in qa['answers']]
        em += max(_ref_normalize(preds[qa['id']]) == _ref_normalize(g)
                  for g in gts)
        f1 += max(_ref_f1(preds[qa['id']], g) for g in gts)
  return {'exact_match': 100.0 * em / total, 'f1': 100.0 * f1 / total}


def _ref_final_text(pred, orig):
  tok = ' '.join(bt.BasicTokenizer(True).tokenize(orig))
  start = tok.find(pred)
  if start == -1:
    return orig
  end = start + len(pred) - 1

  def strip(t):
    chars, m = [], collections.OrderedDict()
    for i, c in enumerate(t):
      if c == ' ':
        continue
      m[len(chars)] = i
      chars.append(c)
    return ''.join(chars), m
  ons, omap = strip(orig)
  tns, tmap = strip(tok)
  if len(ons) != len(tns):
    return orig
  inv = {v: k for k, v in tmap.items()}
  if start not in inv or inv[start] not in omap:
    return orig
  if end not in inv or inv[end] not in omap:
    return orig
  return orig[omap[inv[start]]:omap[inv[end]] + 1]


def _ref_predictions(examples, features, results, n_best=20, max_len=30):
  by_ex = collections.defaultdict(list)
  for i, f in enumerate(features):
    by_ex[f.example_index].append((i, f))
  out = {}
  for ei, ex in enumerate(examples):
    prelim = []
    for i, f in by_ex[ei]:
      if i not in results:
        continue
      sl, el = results[i]
      sidx = [k for k, _ in sorted(enumerate(sl), key=lambda x: x[1],
                                   reverse=True)][:n_best]
      eidx = [k for k, _ in sorted(enumerate(el), key=lambda x: x[1],
                                   reverse=True)][:n_best]
      for s in sidx:
        for e in eidx:
          if s >= len(f.tokens) or e >= len(f.tokens):
            continue
          if s not in f.token_to_orig_map or e not in f.token_to_orig_map:
            continue
          if not f.token_is_max_context.get(s, False) or e < s:
            continue
          if e - s + 1 > max_len:
            continue
          prelim.append((f, s, e, sl[s], el[e]))
    prelim = sorted(prelim, key=lambda x: x[3] + x[4], reverse=True)
    nbest, seen = [], set()
    for f, s, e, _, _ in prelim:
      if len(nbest) >= n_best:
        break
      t = ' '.join(f.tokens[s:e + 1]).replace(' ##', '').replace('##', '')
      t = ' '.join(t.strip().split())
      o = ' '.join(ex.doc_tokens[f.token_to_orig_map[s]:
                                 f.token_to_orig_map[e] + 1])
      final = _ref_final_text(t, o)
      if final in seen:
        continue
      seen.add(final)
      nbest.append(final)
    out[ex.qas_id] = nbest[0] if nbest else 'empty'
  return out


def test_metric_hand_worked_and_against_transcription():
  assert squad_metric.normalize_answer(' The  Cat, an apple!') == 'cat apple'
  assert squad_metric.f1_score('the cat sat', 'a cat sat down') == (
      pytest.approx(0.8))
  assert squad_metric.f1_score('dog', 'cat') == 0.0
  assert squad_metric.exact_match_score('The Cat.', 'cat') == 1.0
  ds = _dataset()
  preds = {'q1': '1895-1943', 'q2': 'Smith\'s dog ran'}  # q3 unanswered
  got = squad_metric.evaluate(ds['data'], preds)
  want = _ref_evaluate(ds['data'], preds)
  assert got['f1'] == pytest.approx(want['f1'], abs=1e-12)
  assert got['exact_match'] == pytest.approx(100 / 3)
  assert got['unanswered'] == 1


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_decoding_matches_transcription_on_random_logits(seed):
  ds = _dataset()
  task = squad_task.build(ds, VOCAB, max_seq_length=24, doc_stride=6,
                          max_query_length=8)
  assert len(task.features) > len(task.examples)  # windows
  rng = np.random.default_rng(seed)
  # Logits in steps of 1/4, so ties occur and their order is exercised;
  # one window left out (as a partial log would).
  raw = {i: np.round(rng.normal(size=(24, 2)) * 4) / 4
         for i in range(len(task.features)) if i != 1}
  responses = {i: l.astype(np.float32).tobytes() for i, l in raw.items()}
  decoded = {i: squad_answers.decode_response(d, 24)
             for i, d in responses.items()}
  want = _ref_predictions(task.examples, task.features,
                          {i: (list(s), list(e))
                           for i, (s, e) in decoded.items()})
  assert task.predictions(decoded) == want
  got = task.accuracy(responses)
  ref = _ref_evaluate(ds['data'], want)
  assert got['f1'] == pytest.approx(ref['f1'], abs=1e-12)
  assert got['exact_match'] == pytest.approx(ref['exact_match'], abs=1e-12)


def test_decoding_recovers_the_original_text_of_a_span():
  ds = _dataset()
  task = squad_task.build(ds, VOCAB, max_seq_length=40, doc_stride=16,
                          max_query_length=12)
  logits = {}
  for i, f in enumerate(task.features):
    s = np.full(40, -5.0)
    e = np.full(40, -5.0)
    if f.example_index == 0:  # point at the token '1895'
      k = f.tokens.index('1895')
      s[k] = e[k] = 5.0
    if f.example_index == 1:  # 'steve smith ' s dog' -> "Steve Smith's dog"
      k = f.tokens.index('steve')
      s[k], e[k + 4] = 5.0, 5.0
    logits[i] = (s, e)
  preds = task.predictions(logits)
  assert preds['q1'] == '1895' and preds['q2'] == "Steve Smith's dog"
  assert squad_answers.final_text('smith', "Smith's") == 'Smith'
  assert squad_answers.final_text('xyz', "Smith's") == "Smith's"
  assert math.isclose(task.score_logits(logits)['exact_match'], 200 / 3)
  json.dumps(preds)  # JSON-able, as the reference writes it
