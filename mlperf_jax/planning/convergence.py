# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""How long a benchmark takes to converge at a batch size, from the RCPs.

The reference convergence points of the official `rcp_checker` (its JSON
files for a ruleset) give the olympic mean of `epoch_num` at convergence per
global batch size. Between two RCP batch sizes the mean is interpolated
exactly as the checker does (its pruned RCP set, linear interpolation of the
two neighbours); below the smallest the smallest applies (the checker
accepts slower convergence at a smaller batch); above the largest there is
no RCP and the largest is used, flagged as an extrapolation. Imports no JAX.
"""

from __future__ import annotations

import dataclasses
import io
import json


@dataclasses.dataclass(frozen=True)
class Convergence:
  benchmark: str
  ruleset: str
  batch_size: int
  mean_epoch_num: float   # in the benchmark's `epoch_num` unit
  how: str                # 'RCP', 'interpolated', 'smallest RCP', 'extrapolated'


def _checker(benchmark: str, ruleset: str, runs: int, rcp_path: str | None):
  from mlperf_logging.rcp_checker import rcp_checker  # pylint: disable=import-outside-toplevel
  rcp_checker.submission_runs['training'].setdefault(benchmark, runs)
  records = None
  if rcp_path:
    with open(rcp_path) as f:
      records = {k: v for k, v in json.load(f).items()
                 if v.get('Benchmark') == benchmark}
    if not records:
      raise ValueError(f'{rcp_path} has no record of {benchmark!r}')
  return rcp_checker.RCP_Checker(
      'training', ruleset, benchmark, False,
      io.StringIO(json.dumps(records)) if records else None)


def mean_to_converge(benchmark: str, batch_size: int, *, ruleset: str = '1.1.0',
                     runs: int = 10, rcp_path: str | None = None
                     ) -> Convergence:
  """The RCP mean `epoch_num` at convergence for `batch_size`.

  `rcp_path`: an RCP JSON in the checker's format to read instead of the
  ruleset's (this project's mini-scale RCPs, for a mini benchmark).

  Raises:
    ValueError: the ruleset has no RCPs for the benchmark.
  """
  try:
    checker = _checker(benchmark, ruleset, runs, rcp_path)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'no RCPs for {benchmark!r} in ruleset {ruleset} '
                     f'({type(e).__name__}: {e})') from None
  # pylint: disable=protected-access
  exact = checker._find_rcp(batch_size, 'pruned_rcps')
  if exact is None:
    exact = checker._find_rcp(batch_size, 'full_rcps')
  if exact is not None:
    mean, how = exact['RCP Mean'], 'RCP'
  else:
    low = checker._find_top_min_rcp(batch_size, 'pruned_rcps')
    high = checker._find_bottom_max_rcp(batch_size, 'pruned_rcps')
    if low is not None and high is not None:
      _, rec = checker._create_interp_rcp(batch_size, low, high)
      mean, how = rec['RCP Mean'], 'interpolated'
    elif high is not None:
      mean, how = checker._find_min_rcp('pruned_rcps')['RCP Mean'], 'smallest RCP'
    else:
      mean, how = low['RCP Mean'], 'extrapolated'
  return Convergence(benchmark=benchmark, ruleset=ruleset,
                     batch_size=batch_size, mean_epoch_num=float(mean), how=how)
