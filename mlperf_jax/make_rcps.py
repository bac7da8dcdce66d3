# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.make_rcps --workload NAME --runs 10`

Produces this project's reference convergence points (RCPs) for a mini-scale
benchmark the way the MLPerf rules describe them: at least 2N converged runs
(N = the runs a score needs) at one batch size, each an isolated run with
its own seed, and the convergence point of each run (the `epoch_num` of its
last evaluation, rounded to 3 decimals as the official `rcp_checker` reads
it, in the workload's progress unit: epochs, training samples, or 1 + a
fraction of an epoch, as the workload logs `epoch_num`) recorded. The runs
are made with `python -m mlperf_jax.submit` into a work directory; the
record is merged into `mlperf_jax/submission/rules/rcps_mini.json` (the
official `rcp_checker` format) and the exact command, seeds, per-run values
and the statistics the official checker derives (olympic mean, stdev,
fastest acceptable submission mean) are written next to it, in
`rcps_mini.md`. Any `train` option can be passed through (e.g. `--set
global_batch_size=64` for an RCP at another batch size). Rerunning the same
command with the same `--work-dir` keeps the finished runs and only rebuilds
the record.

Exit codes: 0 the record was written; 1 too few runs converged; 2 bad input;
else the exit code of the failed `submit`.
"""

from __future__ import annotations

import argparse
import sys

from mlperf_jax import workloads
from mlperf_jax.submission import rcps

DEFAULT_JSON = rcps.DEFAULT_JSON


def _reference_scale(train_args: list[str]) -> bool:
  return ('--scale' in train_args and 'reference' in train_args) or (
      '--scale=reference' in train_args)


def main(argv: list[str] | None = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  p = argparse.ArgumentParser(
      prog='python -m mlperf_jax.make_rcps', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--workload', required=True)
  p.add_argument('--runs', type=int, default=None,
                 help='runs to make (default: 2N, N = runs a score needs)')
  p.add_argument('--output', default=DEFAULT_JSON,
                 help=f'RCP JSON to update (default: {DEFAULT_JSON}); the '
                 'command is recorded in the .md file next to it')
  p.add_argument('--work-dir', default=None,
                 help='where the runs go (default: a temporary directory)')
  args, train_args = p.parse_known_args(argv)
  if args.workload not in workloads.names():
    p.error(f'unknown workload {args.workload!r}; valid: '
            f'{", ".join(workloads.names())}')
  if _reference_scale(train_args):
    p.error('official RCPs exist for the reference scale; make_rcps is for '
            'mini-scale benchmarks')
  mini = workloads.get(args.workload, 'mini')
  needed = mini.variant.num_runs
  runs = args.runs or 2 * needed
  if runs < 2 * needed:
    p.error(f'--runs {runs}: an RCP needs at least 2N = {2 * needed} runs')
  return rcps.make(mini, runs=runs, output=args.output,
                   work_dir=args.work_dir, train_args=train_args, argv=argv)


if __name__ == '__main__':
  from mlperf_jax.runtime import host_malloc
  host_malloc.reexec_with_tuned_malloc()
  sys.exit(main())
