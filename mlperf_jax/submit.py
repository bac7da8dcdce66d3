# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.submit --workload W --system NAME --output-dir DIR`

Runs a benchmark N times (default: the number of runs its score needs, e.g.
5 for ResNet), each run a separate `python -m mlperf_jax.train` process with
its own seed drawn from os.urandom (logged via MLLOG by the run), and writes
the MLPerf submission tree into DIR: systems/NAME.json,
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
import glob
import os
import subprocess
import sys
import time

from mlperf_jax.cli import options as cli_options
from mlperf_jax.submission import result_log
from mlperf_jax.submission import tree as st
from mlperf_jax.submission import system_desc

# Options of submit itself: (flag, takes a value). The rest goes to train.
_SUBMIT_OPTIONS = {'--runs': True, '--system': True, '--seeds': True,
                   '--output-dir': True}


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog='python -m mlperf_jax.submit', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  cli_options.add_arguments(p)
  p.set_defaults(output_dir=None)
  p.add_argument('--system', required=False, metavar='NAME',
                 help='system description id: systems/NAME.json and '
                 'results/NAME/ (required)')
  p.add_argument('--runs', type=int, default=None, metavar='N',
                 help='number of runs (default: what the benchmark\'s score '
                 'needs, e.g. 5 for ResNet, 10 for BERT, 40 for 3D U-Net)')
  p.add_argument('--seeds', default=None, metavar='S0,S1,...',
                 help='explicit seeds, one per run, to reproduce a package '
                 '(default: drawn from os.urandom, distinct)')
  return p


def train_arguments(argv: list[str], system: str) -> list[str]:
  """The train options of a submit command line (submit's own removed)."""
  out, skip = [], False
  for i, tok in enumerate(argv):
    if skip:
      skip = False
      continue
    flag = tok.split('=', 1)[0]
    if flag in _SUBMIT_OPTIONS:
      skip = _SUBMIT_OPTIONS[flag] and '=' not in tok and i + 1 < len(argv)
      continue
    out.append(tok)
  if not any(t.split('=', 1)[0] == '--submission-platform' for t in out):
    out += ['--submission-platform', system]
  if '--quiet' not in out:
    out.append('--quiet')
  return out


def _draw_seed(used: set[int]) -> int:
  while True:
    seed = int.from_bytes(os.urandom(4), 'little') & 0x7FFFFFFF
    if seed not in used:
      return seed


def _notice(workload) -> str | None:
  parts = []
  if workload.scale != 'reference':
    parts.append(f'{workload.scale}-scale package: a scaled-down model and '
                 'dataset')
  if workload.synthetic:
    parts.append('synthetic-data smoke package: random inputs, checks the '
                 'format only')
  if not parts:
    return None
  return '; '.join(parts) + '. NOT an MLPerf result.'


def _run_one(tree: st.Tree, index: int, seed: int, train_args: list[str]
             ) -> tuple[int, result_log.ResultLog | None, str]:
  """Runs train once; returns (exit code, parsed log or None, attempt dir)."""
  attempt = tree.new_attempt_dir(index)
  cmd = [sys.executable, '-m', 'mlperf_jax.train', *train_args,
         '--seed', str(seed), '--output-dir', attempt]
  with open(os.path.join(attempt, 'stdout.txt'), 'w') as out:
    out.write(' '.join(cmd) + '\n')
    out.flush()
    # Same process group as submit: killing the group stops both.
    rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT)
  logs = glob.glob(os.path.join(attempt, '**', 'mllog.txt'), recursive=True)
  log = result_log.parse(logs[0]) if len(logs) == 1 else None
  return rc, log, attempt


def _tail(path: str, n: int = 15) -> str:
  with open(path, errors='replace') as f:
    return ''.join(f.readlines()[-n:])


def main(argv: list[str] | None = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  p = _parser()
  parsed = cli_options.parse(p, argv)
  args, workload = parsed.args, parsed.workload
  if not args.output_dir:
    p.error('--output-dir DIR is required: the submission directory')
  if not args.system:
    p.error('--system NAME is required: the system description id')
  if args.seed is not None:
    p.error('--seed gives one seed; submit draws a distinct seed per run '
            '(use --seeds S0,S1,... to reproduce a package)')
  if args.dry_run:
    p.error('--dry-run is a train option; run python -m mlperf_jax.train')
  n = args.runs if args.runs is not None else workload.variant.num_runs
  if n < 1:
    p.error('--runs must be >= 1')
  seeds = None
  if args.seeds:
    try:
      seeds = [int(s) for s in args.seeds.split(',') if s.strip()]
    except ValueError:
      p.error(f'--seeds {args.seeds!r}: expected integers S0,S1,...')
    if len(seeds) != n or len(set(seeds)) != n:
      p.error(f'--seeds needs {n} distinct integers (one per run), got '
              f'{args.seeds!r}')

  tree = st.Tree(args.output_dir, args.system, workload.variant.benchmark)
  train_args = train_arguments(argv, args.system)
  manifest = st.read_manifest(tree)
  if manifest and (manifest['train_args'] != train_args or
                   manifest['runs'] != n):
    p.error(f'{tree.runs_dir} holds runs made with other options '
            f'({" ".join(manifest["train_args"])}, {manifest["runs"]} runs); '
            'rerun that command to continue it, or use another --output-dir')
  done = tree.result_indices()
  if any(i >= n for i in done):
    p.error(f'{tree.results_dir} already holds {len(done)} result files, '
            f'more than --runs {n}')
  os.makedirs(tree.results_dir, exist_ok=True)
  st.remove_stale_temporaries(tree)
  notice = _notice(workload)
  manifest = manifest or {'workload': workload.name, 'scale': workload.scale,
                          'synthetic': workload.synthetic,
                          'benchmark': tree.benchmark, 'runs': n,
                          'train_args': train_args, 'notice': notice,
                          'attempts': []}
  st.write_manifest(tree, manifest)
  system_desc.write(tree.system_json, system_desc.describe(
      args.system, submitter=args.submission_org, division=args.division,
      notes=notice or ''))
  st.write_implementation(
      tree, workload=workload.name, train_args=train_args,
      submit_command=['python', '-m', 'mlperf_jax.submit', *argv],
      notice=notice)

  used = {s for i in done for s in result_log.parse(tree.result_path(i)).seeds}
  used |= {a['seed'] for a in manifest['attempts']}
  print(f'mlperf_jax submit: {tree.benchmark}, {n} runs, system '
        f'{args.system}, into {os.path.abspath(args.output_dir)}'
        + (f'\nNOTE: {notice}' if notice else ''), flush=True)
  if done:
    print(f'keeping {len(done)} completed result files: '
          f'{", ".join(f"result_{i}.txt" for i in done)}', flush=True)
  for i in range(n):
    if i in done:
      continue
    seed = seeds[i] if seeds else _draw_seed(used)
    used.add(seed)
    t0 = time.time()
    try:
      attempt = {'index': i, 'seed': seed, 'state': 'running',
                 'started': time.strftime('%Y-%m-%dT%H:%M:%S')}
      manifest['attempts'].append(attempt)
      st.write_manifest(tree, manifest)
      rc, log, attempt_dir = _run_one(tree, i, seed, train_args)
    except KeyboardInterrupt:
      print(f'\ninterrupted during run {i + 1}/{n}; completed result files are '
            'kept, rerun the same command to continue', flush=True)
      return 1
    attempt['dir'] = attempt_dir
    if log is None or not log.complete or rc not in (0, 1):
      attempt['state'] = f'crashed (exit code {rc})'
      st.write_manifest(tree, manifest)
      print(f'run {i + 1}/{n} (seed {seed}) did not finish (exit code {rc}); '
            f'its output, {attempt_dir}/stdout.txt, ends with:\n'
            f'{_tail(os.path.join(attempt_dir, "stdout.txt"))}\n'
            'completed result files are kept; rerun the same command to '
            'continue', file=sys.stderr, flush=True)
      return 2 if rc == 2 else 1
    with open(log.path) as f:
      st.write_atomic(tree.result_path(i), f.read())
    attempt['state'] = log.status
    st.write_manifest(tree, manifest)
    ttt = (f'{log.time_to_train_s:.1f} s' if log.converged
           else 'not converged')
    print(f'run {i + 1}/{n}: seed {seed}, {log.status}, time to train {ttt} '
          f'({time.time() - t0:.0f} s wall) -> {tree.result_path(i)}',
          flush=True)
  print(f'{n} result files in {tree.results_dir}\n'
        f'check: python -m mlperf_jax.check {args.output_dir}', flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
