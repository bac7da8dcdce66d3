# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.submit --workload W --system NAME --output-dir DIR`

Runs a benchmark N times (default: the number of runs its score needs, the
variant's `num_runs`), each run a separate `python -m mlperf_jax.train`
process with its own seed drawn from os.urandom (logged via MLLOG by the
run), and writes the MLPerf submission tree into DIR: systems/NAME.json,
results/NAME/BENCHMARK/result_<i>.txt and
benchmarks/BENCHMARK/implementations/mlperf_jax/. Every `train` option is
passed through (e.g. `--scale reference --synthetic-data --max-steps 1 --set
global_batch_size=8` gives a format-only smoke package, marked as such).

A run that is killed leaves no result file; completed ones are kept, and
running the same command again continues with the missing runs. A run that
ends without reaching its target (run_stop aborted) is a valid, non-converged
result. Check the package with `python -m mlperf_jax.check DIR`.

Exit codes: 0 all N result files exist; 1 a run crashed or was interrupted
(rerun to continue); 2 bad input.
"""

from __future__ import annotations

import argparse
import sys

from mlperf_jax.cli import checks
from mlperf_jax.cli import options as cli_options
from mlperf_jax.submission import package


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog='python -m mlperf_jax.submit', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  cli_options.add_arguments(p)
  p.set_defaults(output_dir=None)
  for action in p._actions:  # pylint: disable=protected-access
    if action.dest == 'output_dir':
      action.help = 'the submission directory (required)'
    elif action.dest in ('seed', 'dry_run', 'no_input_estimate'):
      action.help = argparse.SUPPRESS  # train options submit rejects
  p.add_argument('--system', required=False, metavar='NAME',
                 help='system description id: systems/NAME.json and '
                 'results/NAME/ (required; a plain name)')
  p.add_argument('--runs', type=int, default=None, metavar='N',
                 help='number of runs (default: what the benchmark\'s score '
                 'needs, the num_runs of its variant)')
  p.add_argument('--seeds', default=None, metavar='S0,S1,...',
                 help='explicit seeds, one per run, to reproduce a package '
                 '(default: drawn from os.urandom, distinct)')
  return p


def main(argv: list[str] | None = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  p = _parser()
  parsed = cli_options.parse(p, argv)
  args, workload = parsed.args, parsed.workload
  problems = []
  if not args.output_dir:
    problems.append('--output-dir DIR is required: the submission directory')
  if not args.system:
    problems.append('--system NAME is required: the system description id')
  problems += [q for q in (
      checks.name_problem('--system', args.system),
      checks.writable_dir_problem('--output-dir', args.output_dir)) if q]
  if args.seed is not None:
    problems.append('--seed gives one seed; submit draws a distinct seed per '
                    'run (use --seeds S0,S1,... to reproduce a package)')
  if args.dry_run:
    problems.append('--dry-run is a train option; run python -m '
                    'mlperf_jax.train')
  if problems:
    cli_options.fail(p, problems)
  try:
    plan = package.plan(workload, output_dir=args.output_dir,
                        system=args.system, runs=args.runs, seeds=args.seeds,
                        argv=argv)
  except ValueError as e:
    p.error(str(e))
  return package.make(plan, workload, submitter=args.submission_org,
                      division=args.division)


if __name__ == '__main__':
  from mlperf_jax.runtime import host_malloc
  host_malloc.reexec_with_tuned_malloc()
  sys.exit(main())
