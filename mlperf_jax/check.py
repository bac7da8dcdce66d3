# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.check DIR [--ruleset 1.1.0]`: check, score a package.

Reference-scale packages go through the official package checker and
result summarizer; mini packages through the same machinery with this
project's rules (see `mlperf_jax.submission.package_check`).

Both print a table per benchmark (seed, time to train, convergence point
-- in the workload's progress unit: epochs, or training samples where
`epoch_num` counts those --, status per run; olympic score; RCP verdict and
normalization) and write it, with PNG plots (quality vs epochs of every run
with the RCP mean and band; the time-to-train distribution), to DIR/report/.

Exit codes: 0 the package passed; 1 it did not; 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys

from mlperf_jax.cli import checks
from mlperf_jax.submission import package_check


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(
      prog='python -m mlperf_jax.check', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('dir', help='submission directory (holds results/, '
                 'systems/)')
  p.add_argument('--ruleset', default='1.1.0',
                 help='official ruleset for reference-scale packages')
  p.add_argument('--rcps', default=package_check.RCPS_MINI,
                 help='RCP JSON for mini-scale packages')
  p.add_argument('--report-dir', default=None,
                 help='where the table and plots go (default: DIR/report)')
  args = p.parse_args(argv)
  problems, trees = [], []
  try:
    trees = package_check.find_packages(args.dir)
  except ValueError as e:
    problems.append(str(e))
  if not os.path.isfile(args.rcps):
    problems.append(f'--rcps {args.rcps!r} is not a file (an RCP JSON in the '
                    'official rcp_checker format)')
  from mlperf_jax.submission import compliance  # pylint: disable=import-outside-toplevel
  if args.ruleset not in compliance.official_rulesets():
    problems.append(f'--ruleset {args.ruleset}: the official checker has no '
                    'training ruleset of that name; valid: '
                    f'{", ".join(compliance.official_rulesets())}')
  if problems:
    checks.fail(p, problems)
  ok = package_check.check_package(
      args.dir, trees, ruleset=args.ruleset, rcp_path=args.rcps,
      report_dir=args.report_dir or os.path.join(args.dir, 'report'))
  return 0 if ok else 1


if __name__ == '__main__':
  sys.exit(main())
