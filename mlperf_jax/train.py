# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.train --workload resnet [--scale mini|reference] ...`

Exit codes: 0 the run reached its quality target (run_stop status success);
1 the run was aborted (budget exhausted or loss diverged); 2 bad input
(including an unusable checkpoint, a finished run's or a busy
--checkpoint-dir, or an unreachable coordinator); 3 stopped by SIGTERM after
saving a checkpoint (continue with --resume); 130 interrupted by Ctrl-C (the
log ends with run_stop aborted).
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import os
import sys

from mlperf_jax.cli import options as cli_options
from mlperf_jax.runtime import compilation_cache
from mlperf_jax.runtime import distributed


def main(argv: list[str] | None = None) -> int:
  try:
    return _main(argv)
  except KeyboardInterrupt:  # before the run started: nothing was logged
    print('\ninterrupted before the run started; nothing was trained',
          file=sys.stderr, flush=True)
    return 130


def _main(argv: list[str] | None) -> int:
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
  lock = None if parsed.args.dry_run or not distributed.is_leader() else (
      _lock_checkpoint_dir(parser, parsed.args.checkpoint_dir))
  try:
    return _train(parser, parsed)
  finally:
    if lock is not None:
      lock.close()


def _lock_checkpoint_dir(parser, d: str | None):
  """One run per --checkpoint-dir: an exclusive lock held until exit."""
  if not d or '://' in d:
    return None
  os.makedirs(d, exist_ok=True)
  f = open(os.path.join(d, '.lock'), 'a')  # pylint: disable=consider-using-with
  try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError:
    f.close()
    parser.error(f'--checkpoint-dir {d!r} is in use by another running '
                 'train (it holds the lock on .lock); wait for it, or use '
                 'another --checkpoint-dir')
  return f


def _train(parser, parsed) -> int:
  """The run itself (after every check has passed)."""
  del parser
  from mlperf_jax.runtime import checkpoint, dry_run, loop, run_report  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import sharding as shd  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime.mllog import RunLog  # pylint: disable=import-outside-toplevel
  leader = distributed.is_leader()  # only process 0 writes and prints
  if parsed.args.dry_run:
    report = dry_run.report(parsed.workload, parsed.hp, parsed.opts,
                            abstract_devices=parsed.abstract_devices,
                            estimate_input=not parsed.args.no_input_estimate)
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
                      on_eval=run_report.eval_printer(
                          cfg, parsed.workload.progress_unit)
                      if leader else None)
  except checkpoint.CheckpointError as e:
    print(f'error: {e}', file=sys.stderr, flush=True)
    return 2
  except KeyboardInterrupt:
    stopped = loop.log_interrupted(log, 'interrupted by the user (Ctrl-C)')
    _mark_finished(opts, paths, 'aborted (Ctrl-C)' if stopped else None)
    print('\ninterrupted: the run is aborted'
          + (f' (run_stop aborted logged in {paths.log})' if stopped else
             ' before run_start') + '; start a new run to train again',
          file=sys.stderr, flush=True)
    return 130
  except Exception as e:  # pylint: disable=broad-except
    if not distributed.peer_failure(e):
      raise
    print(f'error: {distributed.peer_failure(e)}', file=sys.stderr,
          flush=True)
    return 1
  finally:
    log.close()
  if result.status != 'preempted':
    _mark_finished(opts, paths, result.status)
  if leader:
    run_report.write(paths, parsed.workload, parsed.hp, opts, result)
    print(run_report.summary(cfg, result, paths), flush=True)
  return {'success': 0, 'preempted': 3}.get(result.status, 1)


def _mark_finished(opts, paths, status: str | None) -> None:
  """Tells later commands that the run of --checkpoint-dir has ended (a
  finished run is never resumed: `cli.options.finished_run`)."""
  d = opts.checkpoint_dir
  if not d or '://' in d or status is None or not distributed.is_leader():
    return
  with open(os.path.join(d, cli_options.FINISHED_FILE), 'w') as f:
    json.dump({'status': status, 'log': os.path.abspath(paths.log)}, f)


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
  from mlperf_jax.runtime import host_malloc
  host_malloc.reexec_with_tuned_malloc()
  sys.exit(main())
