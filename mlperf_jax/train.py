# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.train --workload resnet [--scale mini|reference] ...`

Exit codes: 0 the run reached its quality target (run_stop status success);
1 the run was aborted (budget exhausted or loss diverged); 2 bad input.
"""

from __future__ import annotations

import argparse
import sys

from mlperf_jax import cli_options
from mlperf_jax import compilation_cache


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m mlperf_jax.train', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  cli_options.add_arguments(parser)
  compilation_cache.enable()
  parsed = cli_options.parse(parser, argv)
  # Imported after validation so that bad input fails fast.
  from mlperf_jax import dry_run, loop, run_report  # pylint: disable=import-outside-toplevel
  from mlperf_jax.mllog import RunLog  # pylint: disable=import-outside-toplevel
  if parsed.args.dry_run:
    print(dry_run.report(parsed.workload, parsed.hp, parsed.opts))
    return 0
  paths = run_report.run_paths(parsed.args.output_dir, parsed.workload,
                               parsed.opts.seed)
  cfg = parsed.workload.config
  print(run_report.banner(parsed.workload, parsed.hp, parsed.opts, paths),
        flush=True)
  log = RunLog(paths.log)
  try:
    result = loop.run(parsed.workload, parsed.hp, parsed.opts, log,
                      on_eval=run_report.eval_printer(cfg))
  finally:
    log.close()
  run_report.write(paths, parsed.workload, parsed.hp, parsed.opts, result)
  print(run_report.summary(cfg, result, paths), flush=True)
  return 0 if result.status == 'success' else 1


if __name__ == '__main__':
  sys.exit(main())
