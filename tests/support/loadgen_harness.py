# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Shared helpers of the LoadGen tests: one SUT/QSL code for both LoadGens."""

import array
import os
import time

from mlperf_jax.loadgen import official


def run(which, scenario, outdir, mode='PerformanceOnly', total=50,
        performance=20, events=None, audit_config=None, response_cb=None,
        hold=None, **overrides):
  """Runs one test under LoadGen ``which``; returns the issued indices.

  The SUT completes every sample synchronously inside ``issue_queries``
  with the sample index as a little-endian int32, so both LoadGens see the
  identical SUT code.

  Args:
    which: 'official' or 'python'.
    scenario: a ``TestScenario`` member name.
    outdir: where the logs go.
    mode: a ``TestMode`` member name.
    total: the QSL's total sample count.
    performance: the QSL's performance sample count.
    events: a list to append ``('load', indices)``, ``('unload', indices)``
      and ``('flush', n_issued_since_last_flush)`` to, or None.
    audit_config: text of an ``audit.config`` written into ``outdir`` and
      passed to the test, or None (no audit file).
    response_cb: passed to ``QuerySamplesComplete``, or None.
    hold: None, or ``(k, seconds)``: after the first ``k`` samples of each
      issue run (counted between flushes), samples are held and completed
      in ``flush_queries`` after sleeping ``seconds`` (deterministic
      over-latency samples for FindPeakPerformance).
    **overrides: ``TestSettings`` attributes (``completion_timeout_s``, ours
      only, is not set on the official one).
  """
  lg = official.get(which)
  os.makedirs(outdir, exist_ok=True)
  s = lg.TestSettings()
  s.scenario = getattr(lg.TestScenario, scenario)
  s.mode = getattr(lg.TestMode, mode)
  s.min_duration_ms = 50
  s.min_query_count = 100
  s.single_stream_expected_latency_ns = 100000
  s.multi_stream_expected_latency_ns = 100000
  s.server_target_qps = 4000
  s.offline_expected_qps = 4000
  for k, v in overrides.items():
    if k == 'completion_timeout_s' and which == 'official':
      continue  # ours only
    setattr(s, k, v)
  issued = []
  keep = []
  held = []
  since_flush = [0]

  def respond(qs):
    resp = []
    for q in qs:
      a = array.array('i', [q.index])
      keep.append(a)
      resp.append(lg.QuerySampleResponse(q.id, a.buffer_info()[0], 4))
    if response_cb is None:
      lg.QuerySamplesComplete(resp)
    else:
      lg.QuerySamplesComplete(resp, response_cb)

  def issue(qs):
    issued.extend(q.index for q in qs)
    if hold is not None:
      n = since_flush[0]
      since_flush[0] += len(qs)
      if n + len(qs) > hold[0]:
        held.extend(qs[max(hold[0] - n, 0):])
        qs = qs[:max(hold[0] - n, 0)]
    else:
      since_flush[0] += len(qs)
    respond(qs)

  def flush():
    if held:
      time.sleep(hold[1])
      respond(list(held))
      del held[:]
    if events is not None:
      events.append(('flush', since_flush[0]))
    since_flush[0] = 0

  def load(x):
    if events is not None:
      events.append(('load', tuple(x)))

  def unload(x):
    if events is not None:
      events.append(('unload', tuple(x)))

  audit = 'no-such-audit.config'
  if audit_config is not None:
    audit = os.path.join(str(outdir), 'audit.config')
    with open(audit, 'w', encoding='utf-8') as f:
      f.write(audit_config)
  sut = lg.ConstructSUT(issue, flush)
  qsl = lg.ConstructQSL(total, performance, load, unload)
  ls = lg.LogSettings()
  ls.log_output.outdir = str(outdir)
  ls.enable_trace = False
  try:
    lg.StartTestWithLogSettings(sut, qsl, s, ls, audit)
  finally:
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
  return issued
