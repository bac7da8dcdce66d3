# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The official MLPerf compliance checker on one training log.

Reference-scale logs are checked against the official rulesets (e.g. 1.1.0,
4.0.0); mini-scale logs (`submission_benchmark: mini_*`) against this
project's mini ruleset in `mlperf_jax/submission/rules/`, by the same
official checker, run as a subprocess (`python -m
mlperf_logging.compliance_checker`). Imports no JAX.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from typing import Sequence

RULES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'rules')


@dataclasses.dataclass(frozen=True)
class CheckResult:
  passed: bool
  ruleset: str
  output: str

  @property
  def failures(self) -> list[str]:
    """The checker's complaint lines (empty when it passed), without its
    closing verdict ('ERROR - FAILED'), which names no check."""
    return [l for l in self.output.splitlines()
            if ('failed' in l.lower() or 'required' in l.lower()
                or 'Failed checks' in l)
            and l.strip().split(' - ')[-1].strip() != 'FAILED']

  def explain(self, target: float | None = None) -> str:
    """Which checks failed, in words: '; '-joined complaint lines (the
    quality check says that the run did not reach its target)."""
    parts = []
    for line in self.failures:
      text = line.split(' - ', 1)[-1].strip()
      if text.startswith('Failed checks for eval_accuracy'):
        text = ('no eval_accuracy reached the quality target'
                + (f' {target}' if target is not None else '')
                + f' (the run did not converge; check: {text.split(":", 1)[1].strip()})')
      parts.append(text)
    if not parts:  # e.g. the checker crashed: its last lines say why
      tail = [l for l in self.output.splitlines()
              if not l.startswith('INFO') and l.strip()
              and l.strip().split(' - ')[-1].strip() != 'FAILED']
      parts = tail[-3:] or ['the checker gave no reason (see its output)']
    return '; '.join(dict.fromkeys(parts))


def benchmark_of(log_path: str) -> str | None:
  """The logged `submission_benchmark`, or None."""
  with open(log_path) as f:
    for line in f:
      if ':::MLLOG ' in line:
        rec = json.loads(line.split(':::MLLOG ', 1)[1])
        if rec.get('key') == 'submission_benchmark':
          return rec.get('value')
  return None


def check(log_path: str, ruleset: str = '1.1.0') -> CheckResult:
  """Runs `mlperf_logging.compliance_checker` on `log_path`.

  Mini logs are checked with the project ruleset regardless of `ruleset`
  (which then only selects the log-line parser).
  """
  log_path = os.path.abspath(log_path)
  cmd = [sys.executable, '-m', 'mlperf_logging.compliance_checker',
         '--usage', 'training', '--ruleset', ruleset]
  env = dict(os.environ)
  name = 'official'
  bench = benchmark_of(log_path)
  if bench and bench.startswith('mini_'):
    cmd += ['--config', os.path.join(RULES_DIR, 'mini_common.yaml')]
    env['MLPERF_JAX_RULES_DIR'] = RULES_DIR
    name = 'mlperf_jax mini'
  with tempfile.TemporaryDirectory() as tmp:
    cmd += ['--log_output', os.path.join(tmp, 'checker.log'), log_path]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=tmp, check=False)
  out = (proc.stdout + proc.stderr).strip()
  last = out.splitlines()[-1].strip() if out else ''
  passed = proc.returncode == 0 and last.endswith('SUCCESS')
  return CheckResult(passed=passed, ruleset=f'{name} {ruleset}', output=out)


def default_rulesets(log_path: str) -> list[str]:
  """The rulesets the logged benchmark's variant must pass (mini logs: the
  project's rules, read with the 1.1.0 parser)."""
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  found = workloads.by_benchmark(benchmark_of(log_path) or '')
  if found is None:
    return ['1.1.0']
  rulesets = [r for r in found[1].rulesets if r != 'mini']
  return rulesets or ['1.1.0']


def official_rulesets() -> list[str]:
  """The training rulesets the installed official checker knows."""
  import mlperf_logging.compliance_checker as cc  # pylint: disable=import-outside-toplevel
  root = os.path.dirname(cc.__file__)
  return sorted((n[len('training_'):] for n in os.listdir(root)
                 if n.startswith('training_') and os.path.isdir(
                     os.path.join(root, n)) and not n.endswith('_warn')),
                key=lambda v: tuple(int(x) for x in v.split('.')))


def check_log(log_path: str, rulesets: Sequence[str] | None = None) -> bool:
  """Checks `log_path` against each ruleset (default: `default_rulesets`),
  printing a verdict per ruleset and the checker's output of each failure;
  True when all passed."""
  ok = True
  for ruleset in rulesets or default_rulesets(log_path):
    r = check(log_path, ruleset)
    print(f'[{r.ruleset}] {"PASSED" if r.passed else "FAILED"}')
    if not r.passed:
      print(r.output)
    ok &= r.passed
  return ok
