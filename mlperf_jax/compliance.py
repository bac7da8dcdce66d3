# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Runs the official MLPerf compliance checker on a training log.

Reference-scale logs are checked against the official rulesets (e.g. 1.1.0,
4.0.0); mini-scale logs (`submission_benchmark: mini_*`) against this
project's mini ruleset in `mlperf_jax/submission/rules/`, by the same
official checker.

  python -m mlperf_jax.compliance LOG [--ruleset 1.1.0]

Exit codes: 0 the log passed every ruleset; 1 it did not; 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys

from mlperf_jax.cli import checks

# The library (mlperf_jax.submission.compliance), also importable from here.
from mlperf_jax.submission.compliance import (  # pylint: disable=unused-import
    RULES_DIR, CheckResult, benchmark_of, check, check_log, default_rulesets,
    official_rulesets)


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(prog='python -m mlperf_jax.compliance',
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('log')
  p.add_argument('--ruleset', action='append',
                 help='official ruleset(s), e.g. 1.1.0 (repeatable; default: '
                 "the rulesets of the logged benchmark's variant)")
  args = p.parse_args(argv)
  problems = []
  if not os.path.isfile(args.log):
    problems.append(f'no such log file: {args.log}')
  known = official_rulesets()
  problems += [f'--ruleset {r}: the official checker has no training ruleset '
               f'{r}; valid: {", ".join(known)}'
               for r in args.ruleset or () if r not in known]
  if problems:
    checks.fail(p, problems)
  return 0 if check_log(args.log, args.ruleset) else 1


if __name__ == '__main__':
  from mlperf_jax.runtime import host_malloc
  host_malloc.reexec_with_tuned_malloc()
  sys.exit(main())
