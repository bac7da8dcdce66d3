# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.train --workload resnet [--scale mini|reference] ...`

Exit codes: 0 the run reached its quality target (run_stop status success);
1 the run was aborted (budget exhausted or loss diverged); 2 bad input
(including an unusable checkpoint or an unreachable coordinator); 3 stopped
by SIGTERM after saving a checkpoint (continue with --resume).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from mlperf_jax.cli import options as cli_options
from mlperf_jax.runtime import compilation_cache
from mlperf_jax.runtime import distributed


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m mlperf_jax.train', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  cli_options.add_arguments(parser)
  # Validation imports no JAX: bad input fails in well under a second.
  parsed = cli_options.parse(parser, argv)
  cli_options.plan_devices(parsed)  # --dry-run: abstract devices
  distributed.setup(parser, argv)  # before anything touches a JAX backend
  compilation_cache.enable()
  cli_options.check_devices(parser, parsed)
  from mlperf_jax.runtime import checkpoint, dry_run, loop, run_report  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import sharding as shd  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime.mllog import RunLog  # pylint: disable=import-outside-toplevel
  leader = distributed.is_leader()  # only process 0 writes and prints
  if parsed.args.dry_run:
    report = dry_run.report(parsed.workload, parsed.hp, parsed.opts,
                            abstract_devices=parsed.abstract_devices)
    topo = distributed.topology_report(shd.make_mesh(parsed.opts.mesh),
                                       parsed.workload.global_batch_size(
                                           parsed.hp))
    if leader:
      print(f'{report}\n{topo}')
    return 0
  paths = _paths(parsed, run_report, leader)
  opts = dataclasses.replace(parsed.opts, final_params_dir=os.path.join(
      paths.dir, 'final_params'))
  cfg = parsed.workload.variant
  if leader:
    print(run_report.banner(parsed.workload, parsed.hp, opts, paths),
          flush=True)
  log = RunLog(paths.log)
  try:
    result = loop.run(parsed.workload, parsed.hp, opts, log,
                      on_eval=run_report.eval_printer(cfg) if leader else None)
  except checkpoint.CheckpointError as e:
    print(f'error: {e}', file=sys.stderr, flush=True)
    return 2
  except Exception as e:  # pylint: disable=broad-except
    if not distributed.peer_failure(e):
      raise
    print(f'error: {distributed.peer_failure(e)}', file=sys.stderr,
          flush=True)
    return 1
  finally:
    log.close()
  if leader:
    run_report.write(paths, parsed.workload, parsed.hp, opts, result)
    print(run_report.summary(cfg, result, paths), flush=True)
  return {'success': 0, 'preempted': 3}.get(result.status, 1)


def _paths(parsed, run_report, leader: bool):
  """The run directory: fresh, or the resumed run's; process 0's on all."""
  if parsed.resume_meta and parsed.resume_meta.get('log_path'):
    d = os.path.dirname(parsed.resume_meta['log_path'])
  elif leader:
    d = run_report.run_paths(parsed.args.output_dir, parsed.workload,
                             parsed.opts.seed).dir
  else:
    d = None
  d = distributed.broadcast_str(d)
  return run_report.RunPaths(dir=d, log=os.path.join(d, 'mllog.txt'),
                             metrics=os.path.join(d, 'metrics.json'),
                             plot=os.path.join(d, 'convergence.png'))


if __name__ == '__main__':
  sys.exit(main())
