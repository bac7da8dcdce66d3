# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Shared helpers of the LoadGen tests: one SUT/QSL code for both LoadGens."""

import array
import os

from mlperf_jax.loadgen import official


def run(which, scenario, outdir, mode='PerformanceOnly', total=50,
        performance=20, sut_kind='sync', **overrides):
  """Runs one test under LoadGen ``which``; returns the issued indices.

  The SUT completes every sample synchronously inside ``issue_queries``
  with the sample index as a little-endian int32 (``sut_kind='sync'``), so
  both LoadGens see the identical SUT code.
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
    setattr(s, k, v)
  issued = []
  keep = []

  def issue(qs):
    issued.extend(q.index for q in qs)
    resp = []
    for q in qs:
      a = array.array('i', [q.index])
      keep.append(a)
      resp.append(lg.QuerySampleResponse(q.id, a.buffer_info()[0], 4))
    lg.QuerySamplesComplete(resp)

  sut = lg.ConstructSUT(issue, lambda: None)
  qsl = lg.ConstructQSL(total, performance, lambda x: None, lambda x: None)
  ls = lg.LogSettings()
  ls.log_output.outdir = str(outdir)
  ls.enable_trace = False
  try:
    lg.StartTestWithLogSettings(sut, qsl, s, ls, 'no-such-audit.config')
  finally:
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
  return issued
