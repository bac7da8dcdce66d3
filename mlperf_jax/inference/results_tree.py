# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The MLPerf Inference results tree and a check of its layout.

A submission's results live in
`results/<system>/<benchmark>/<scenario>/performance/run_1/` and
`.../<scenario>/accuracy/` (`mlcommons/inference`
`tools/submission/submission_checker`; `directory_structure_samples/`).
What the checker requires there (`constants.py` `REQUIRED_PERF_FILES`,
`REQUIRED_ACC_FILES`) and reads from `mlperf_log_detail.txt` (its
`parsers/loadgen_parser.py`: `:::MLLOG` JSON lines, the first occurrence of
a key wins; `effective_scenario`, the scenario's result key,
`result_validity`) is what `check` verifies; the checker's other checks
(system descriptions, compliance audits, measurements) are not done here.
"""

from __future__ import annotations

import json
import os

REQUIRED_PERF_FILES = ('mlperf_log_summary.txt', 'mlperf_log_detail.txt')
REQUIRED_ACC_FILES = ('mlperf_log_summary.txt', 'mlperf_log_detail.txt',
                      'accuracy.txt', 'mlperf_log_accuracy.json')
# The detail-log key holding each scenario's performance metric.
SCENARIO_RESULT_KEY = {
    'Offline': 'result_samples_per_second',
    'Server': 'result_completed_samples_per_sec',
    'SingleStream': 'result_90.00_percentile_latency_ns',
    'MultiStream': 'result_99.00_percentile_per_query_latency_ns',
}
_MARKER = ':::MLLOG'


def result_dir(root: str, system: str, benchmark: str, scenario: str,
               mode: str) -> str:
  """Where a run's LoadGen logs go: `performance/run_1` or `accuracy`."""
  leaf = (('performance', 'run_1') if mode == 'performance'
          else ('accuracy',))
  return os.path.join(root, 'results', system, benchmark, scenario, *leaf)


def read_detail(path: str) -> dict:
  """Key -> value of a detail log (first occurrence of each key)."""
  out: dict = {}
  with open(path) as f:
    lines = f.read().splitlines()
  if not lines or not lines[0].startswith(_MARKER):
    raise ValueError(f'{path}: the first line has no {_MARKER} marker')
  for line in lines:
    if line.startswith(_MARKER):
      entry = json.loads(line[len(_MARKER):])
      out.setdefault(entry['key'], entry['value'])
  return out


def _check_run(path: str, scenario: str, mode: str) -> list[str]:
  required = REQUIRED_PERF_FILES if mode == 'performance' else (
      REQUIRED_ACC_FILES)
  problems = [f'{path}: missing {f}' for f in required
              if not os.path.isfile(os.path.join(path, f))]
  detail = os.path.join(path, 'mlperf_log_detail.txt')
  if not os.path.isfile(detail):
    return problems
  try:
    log = read_detail(detail)
  except (OSError, ValueError, KeyError) as e:
    return problems + [f'{detail}: unreadable ({e})']
  if log.get('effective_scenario') != scenario:
    problems.append(f'{detail}: effective_scenario is '
                    f'{log.get("effective_scenario")!r}, not {scenario!r}')
  want_mode = 'PerformanceOnly' if mode == 'performance' else 'AccuracyOnly'
  if log.get('effective_test_mode') != want_mode:
    problems.append(f'{detail}: effective_test_mode is '
                    f'{log.get("effective_test_mode")!r}, not {want_mode!r}')
  if mode == 'performance':
    key = SCENARIO_RESULT_KEY.get(scenario)
    if key not in log:
      problems.append(f'{detail}: no {key}')
    if log.get('result_validity') != 'VALID':
      problems.append(f'{detail}: result_validity is '
                      f'{log.get("result_validity")!r}')
  else:
    acc = os.path.join(path, 'accuracy.txt')
    if os.path.isfile(acc) and not open(acc).read().strip():
      problems.append(f'{acc}: empty')
  return problems


def check(root: str) -> list[str]:
  """Every layout problem of `root/results` (empty: the layout is right)."""
  top = os.path.join(root, 'results')
  if not os.path.isdir(top):
    return [f'{root}: no results/ directory']
  problems = []
  runs = 0
  for system in sorted(os.listdir(top)):
    for bench in sorted(os.listdir(os.path.join(top, system))):
      bench_dir = os.path.join(top, system, bench)
      for scenario in sorted(os.listdir(bench_dir)):
        base = os.path.join(bench_dir, scenario)
        if scenario not in SCENARIO_RESULT_KEY:
          problems.append(f'{base}: {scenario!r} is not a scenario')
          continue
        runs += 1
        problems += _check_run(os.path.join(base, 'performance', 'run_1'),
                               scenario, 'performance')
        problems += _check_run(os.path.join(base, 'accuracy'), scenario,
                               'accuracy')
  if not runs and not problems:
    problems.append(f'{top}: no <system>/<benchmark>/<scenario> results')
  return problems


# Files of a compliance audit's directory (`compliance/<system>/<benchmark>/
# <scenario>/<TEST>/`, as `compliance/nvidia/*/run_verification.py` leaves
# it) besides performance/run_1's summary and detail.
COMPLIANCE_FILES = {
    'TEST01': ('verify_accuracy.txt', 'verify_performance.txt',
               os.path.join('accuracy', 'mlperf_log_accuracy.json')),
    'TEST04-A': (),
    'TEST04-B': ('verify_performance.txt',),
    'TEST05': ('verify_performance.txt',),
}


def check_compliance(root: str) -> list[str]:
  """Layout problems of `root/compliance` (none if it is absent): each
  audit's logs, its verification files, and a verdict line in each."""
  top = os.path.join(root, 'compliance')
  if not os.path.isdir(top):
    return []
  problems = []
  for system in sorted(os.listdir(top)):
    for bench in sorted(os.listdir(os.path.join(top, system))):
      for scenario in sorted(os.listdir(os.path.join(top, system, bench))):
        base = os.path.join(top, system, bench, scenario)
        for test in sorted(os.listdir(base)):
          d = os.path.join(base, test)
          if test not in COMPLIANCE_FILES:
            if os.path.isdir(d):
              problems.append(f'{d}: {test!r} is not a v1.x audit')
            continue
          run = os.path.join(d, 'performance', 'run_1')
          problems += [f'{run}: missing {f}' for f in REQUIRED_PERF_FILES
                       if not os.path.isfile(os.path.join(run, f))]
          for f in COMPLIANCE_FILES[test]:
            path = os.path.join(d, f)
            if not os.path.isfile(path):
              problems.append(f'{d}: missing {f}')
            elif f.startswith('verify_') and 'TEST ' not in open(path).read():
              problems.append(f'{path}: no TEST PASS / TEST FAIL verdict')
  return problems
