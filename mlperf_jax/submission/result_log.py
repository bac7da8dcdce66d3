# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""What one MLLOG result file says: seed, batch size, evals, status, time.

Read the way the official tools read it: only `:::MLLOG ` lines, JSON after
the token; time-to-train is `run_stop - run_start` (result summarizer) and
the convergence point is the `epoch_num` of the last `eval_accuracy` before
a successful `run_stop` (RCP checker).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

TOKEN = ':::MLLOG '


@dataclasses.dataclass
class ResultLog:
  """The facts of one run's log.

  Attributes:
    path: the file.
    benchmark: `submission_benchmark`.
    division: `submission_division`.
    seeds: every `seed` value logged.
    global_batch_size: `global_batch_size` (or MiniGo's `train_batch_size`).
    status: `run_stop` status ('success' | 'aborted'), None without run_stop.
    run_start_ms, run_stop_ms: timestamps, None when missing.
    evals: (epoch_num, value) of every `eval_accuracy`, in log order.
    notices: `mlperf_jax_notice` texts (mini scale, synthetic data).
    hparams: every other POINT_IN_TIME key logged once before run_start.
  """
  path: str
  benchmark: str | None = None
  division: str | None = None
  seeds: list[int] = dataclasses.field(default_factory=list)
  global_batch_size: int | None = None
  status: str | None = None
  run_start_ms: int | None = None
  run_stop_ms: int | None = None
  evals: list[tuple[float, Any]] = dataclasses.field(default_factory=list)
  notices: list[str] = dataclasses.field(default_factory=list)
  hparams: dict[str, Any] = dataclasses.field(default_factory=dict)

  @property
  def complete(self) -> bool:
    """True when the run ended (run_stop logged, success or aborted)."""
    return self.status is not None and self.run_start_ms is not None

  @property
  def converged(self) -> bool:
    return self.status == 'success'

  @property
  def time_to_train_s(self) -> float:
    """Seconds from run_start to run_stop (inf if the run did not converge)."""
    if not self.converged or self.run_stop_ms is None:
      return math.inf
    return (self.run_stop_ms - self.run_start_ms) / 1e3

  @property
  def epochs_to_converge(self) -> float | None:
    """`epoch_num` of the last eval before a successful run_stop."""
    if not self.converged or not self.evals:
      return None
    return round(float(self.evals[-1][0]), 3)

  @property
  def seed(self) -> int | None:
    return self.seeds[0] if len(self.seeds) == 1 else None


_SKIP = {'seed', 'submission_benchmark', 'submission_division',
         'submission_org', 'submission_platform', 'submission_status',
         'cache_clear', 'weights_initialization', 'mlperf_jax_notice'}


def parse(path: str) -> ResultLog:
  """Parses `path`; lines that are not MLLOG are ignored."""
  out = ResultLog(path=path)
  started = False
  with open(path, encoding='utf-8', errors='replace') as f:
    for line in f:
      if TOKEN not in line:
        continue
      try:
        rec = json.loads(line.split(TOKEN, 1)[1])
      except json.JSONDecodeError:
        continue  # a line cut short by a killed process
      key, value = rec.get('key'), rec.get('value')
      meta = rec.get('metadata') or {}
      if key == 'submission_benchmark':
        out.benchmark = value
      elif key == 'submission_division':
        out.division = value
      elif key == 'seed':
        out.seeds.append(value)
      elif key == 'mlperf_jax_notice':
        out.notices.append(str(value))
      elif key in ('global_batch_size', 'train_batch_size'):
        out.global_batch_size = value
      elif key == 'run_start':
        out.run_start_ms = rec.get('time_ms')
        started = True
      elif key == 'run_stop':
        out.run_stop_ms = rec.get('time_ms')
        out.status = meta.get('status')
      elif key == 'eval_accuracy':
        out.evals.append((meta.get('epoch_num'), value))
      if (not started and key not in _SKIP and key is not None
          and rec.get('event_type') == 'POINT_IN_TIME'):
        out.hparams[key] = value
  return out
