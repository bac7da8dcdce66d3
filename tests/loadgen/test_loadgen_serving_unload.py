# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The serving SUT cancels what it still holds before the QSL unloads.

When the Python LoadGen stops waiting (its completion timeout) it unloads
the loaded set while the SUT still has samples queued and one batch in
flight. The SUT must then neither read an unloaded sample (a KeyError) nor
complete samples to a finished test ("QuerySamplesComplete called with no
test running", once per batch).
"""

import threading
import time

import numpy as np

from mlperf_jax import api
from mlperf_jax.inference import serving
from mlperf_jax.loadgen import logs
from mlperf_jax.loadgen import pyloadgen as lg


class SlowCollate:
  """Builds batches like `api.stack_samples`, 30 ms each once armed (the
  worker is then the bottleneck; the model itself is a tiny jitted map)."""

  def __init__(self):
    self.armed = threading.Event()
    self.batches = 0

  def __call__(self, samples, size):
    if self.armed.is_set():
      self.batches += 1
      time.sleep(0.03)
    return api.stack_samples(samples, size)


def test_samples_left_at_unload_are_cancelled_not_served(tmp_path, capfd):
  collate = SlowCollate()
  spec = api.InferenceSpec(
      count=160, performance_count=160,
      load_sample=lambda i: {'x': np.arange(i, i + 4, dtype=np.int32)},
      buckets=lambda scenario: (8,),
      predict=lambda params, state, batch: {'y': batch['x'].sum(axis=1)},
      encode=lambda out, row: np.asarray(out['y'][row], '<i4').tobytes(),
      accuracy=lambda responses: {}, metric='none', collate=collate)
  qsl = serving.SampleQSL.for_spec(lg, spec)
  sut = serving.BatchingSUT(lg, spec, qsl, scenario='Offline')
  sut.warmup()
  collate.armed.set()
  s = lg.TestSettings()
  s.scenario = lg.TestScenario.Offline
  s.min_duration_ms = 1
  s.min_query_count = 160  # one query of all 160 samples: 20 batches
  s.completion_timeout_s = 0.2  # gives up after about 6 batches
  ls = lg.LogSettings()
  ls.log_output.outdir = str(tmp_path)
  try:
    lg.StartTestWithLogSettings(sut.handle, qsl.handle, s, ls,
                                'no-such-audit.config')
  finally:
    sut.destroy()  # joins the worker: everything it would do is done
    qsl.destroy()
  err = capfd.readouterr().err
  assert sut.error is None, err
  assert 0 < sut.cancelled < 160
  assert collate.batches < 20  # cancelled batches were never built
  assert 'no test running' not in err and 'KeyError' not in err
  assert err.count('they were cancelled, not served') == 1
  d, errors = logs.parse_detail(tmp_path / 'mlperf_log_detail.txt')
  assert d['result_validity'] == 'INVALID'
  assert any('completion timeout' in e for e in errors)


def test_stray_completions_are_reported_once(capfd, monkeypatch):
  monkeypatch.setattr(lg, '_STRAY_REPORTED', [False])
  for _ in range(50):
    lg.QuerySamplesComplete([lg.QuerySampleResponse(1, 0, 0)])
  err = capfd.readouterr().err
  assert err.count('called with no test running') == 1
