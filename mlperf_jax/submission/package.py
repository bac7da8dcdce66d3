# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Making a submission package: N training runs into the submission tree.

Each run is a separate `python -m mlperf_jax.train` process with its own
seed (drawn from os.urandom unless given), in an attempt directory of its
own; a run that ends (run_stop logged) has its log copied, atomically, to
`results/<system>/<benchmark>/result_<i>.txt`. The options and attempts are
kept in a manifest, so that the same command continues an interrupted
package with the missing runs, and the same command with a larger `--runs`
(seeds drawn) extends it. Layout of the tree: `submission.tree`.
Imports no JAX (the system description reads the devices when written).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import signal
import subprocess
import sys
import time
from typing import Any, Sequence

from mlperf_jax.api import Workload
from mlperf_jax.cli.checks import SEED_MAX
from mlperf_jax.submission import result_log
from mlperf_jax.submission import system_desc
from mlperf_jax.submission import tree as st

# Options of submit itself: (flag, takes a value). The rest goes to train.
SUBMIT_OPTIONS = {'--runs': True, '--system': True, '--seeds': True,
                  '--output-dir': True}


def train_arguments(argv: Sequence[str], system: str) -> list[str]:
  """The train options of a submit command line (submit's own removed)."""
  out, skip = [], False
  for i, tok in enumerate(argv):
    if skip:
      skip = False
      continue
    flag = tok.split('=', 1)[0]
    if flag in SUBMIT_OPTIONS:
      skip = SUBMIT_OPTIONS[flag] and '=' not in tok and i + 1 < len(argv)
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


def notice(workload: Workload) -> str | None:
  """Why a package of `workload` is not an MLPerf result, or None."""
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


@dataclasses.dataclass
class Plan:
  """A validated package to make or continue."""
  tree: st.Tree
  runs: int
  seeds: list[int] | None          # given seeds, one per run
  train_args: list[str]
  argv: list[str]                  # the submit command line
  manifest: dict[str, Any] | None  # of the runs made so far
  done: list[int]                  # indices of the existing result files


def plan(workload: Workload, *, output_dir: str, system: str,
         runs: int | None, seeds: str | None, argv: Sequence[str]) -> Plan:
  """Validates a package request against the tree in `output_dir`.

  Args:
    workload: the workload to run.
    output_dir, system: the submission directory and system id.
    runs: number of runs (None: the variant's `num_runs`).
    seeds: '--seeds' text 'S0,S1,...' or None (seeds drawn per run).
    argv: the submit command line (its train options are passed through).

  Raises:
    ValueError: a message for the user (bad counts or seeds, a tree made
      with other options or holding more results than `runs`).
  """
  n = runs if runs is not None else workload.variant.num_runs
  if n < 1:
    raise ValueError('--runs must be >= 1')
  parsed_seeds = None
  if seeds:
    try:
      parsed_seeds = [int(s) for s in seeds.split(',') if s.strip()]
    except ValueError:
      raise ValueError(f'--seeds {seeds!r}: expected integers '
                       'S0,S1,...') from None
    if len(parsed_seeds) != n or len(set(parsed_seeds)) != n:
      raise ValueError(f'--seeds needs {n} distinct integers (one per run), '
                       f'got {seeds!r}')
    bad = [s for s in parsed_seeds if not 0 <= s <= SEED_MAX]
    if bad:
      raise ValueError(f'--seeds {bad}: a seed is an integer in '
                       f'0..{SEED_MAX}')
  tree = st.Tree(output_dir, system, workload.variant.benchmark)
  train_args = train_arguments(argv, system)
  manifest = st.read_manifest(tree)
  # More runs than before with the same options and drawn seeds extends
  # the package (e.g. an RCP that needs 2N converged runs); anything else
  # must be the command that made it.
  extends = bool(manifest) and (manifest['train_args'] == train_args and
                                manifest['runs'] < n and not parsed_seeds)
  if manifest and (manifest['train_args'] != train_args or
                   manifest['runs'] != n) and not extends:
    raise ValueError(
        f'{tree.runs_dir} holds runs made with other options '
        f'({" ".join(manifest["train_args"])}, {manifest["runs"]} runs); '
        'rerun that command to continue it, or use another --output-dir')
  done = tree.result_indices()
  if any(i >= n for i in done):
    raise ValueError(f'{tree.results_dir} already holds {len(done)} result '
                     f'files, more than --runs {n}')
  if extends:
    manifest = {**manifest, 'runs': n}
  return Plan(tree=tree, runs=n, seeds=parsed_seeds, train_args=train_args,
              argv=list(argv), manifest=manifest, done=done)


def _run_one(tree: st.Tree, index: int, seed: int, train_args: list[str]
             ) -> tuple[int, result_log.ResultLog | None, str]:
  """Runs train once; returns (exit code, parsed log or None, attempt dir)."""
  attempt = tree.new_attempt_dir(index)
  cmd = [sys.executable, '-m', 'mlperf_jax.train', *train_args,
         '--seed', str(seed), '--output-dir', attempt]
  with open(os.path.join(attempt, 'stdout.txt'), 'w') as out:
    out.write(' '.join(cmd) + '\n')
    out.flush()
    # Same process group as submit: killing the group stops both; a signal
    # to submit alone (SIGTERM, SIGHUP, Ctrl-C) is passed on to the run.
    rc = _call_forwarding_signals(cmd, out)
  logs = glob.glob(os.path.join(attempt, '**', 'mllog.txt'), recursive=True)
  log = result_log.parse(logs[0]) if len(logs) == 1 else None
  return rc, log, attempt


def missing_results(p: Plan, manifest: dict[str, Any]) -> list[int]:
  """Indices whose run finished (its result file was written) but whose
  result file is gone."""
  finished = {a['index'] for a in manifest.get('attempts', [])
              if a.get('state') in ('success', 'aborted')}
  return sorted(i for i in finished if i not in p.done and i < p.runs)


def _call_forwarding_signals(cmd: list[str], out) -> int:
  """Runs `cmd` to its end; if submit is told to stop, the child is
  stopped too (SIGTERM, then SIGKILL after 30 s) and the signal re-raised
  as KeyboardInterrupt / SystemExit here."""
  child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
  caught: list[int] = []

  def on_signal(signum, frame):
    del frame
    caught.append(signum)
    if child.poll() is None:
      child.send_signal(signal.SIGINT if signum == signal.SIGINT
                        else signal.SIGTERM)

  previous = {sig: signal.signal(sig, on_signal)
              for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
  try:
    while True:
      try:
        rc = child.wait(timeout=30 if caught else None)
        break
      except subprocess.TimeoutExpired:
        child.kill()
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  if caught:
    if caught[0] == signal.SIGINT:
      raise KeyboardInterrupt
    raise SystemExit(128 + caught[0])
  return rc


def _tail(path: str, n: int = 15) -> str:
  with open(path, errors='replace') as f:
    return ''.join(f.readlines()[-n:])


def _prepare(p: Plan, workload: Workload, *, submitter: str,
             division: str) -> tuple[dict[str, Any], str | None]:
  """Writes the manifest, system description and implementation folder;
  returns (manifest, notice)."""
  tree = p.tree
  os.makedirs(tree.results_dir, exist_ok=True)
  st.remove_stale_temporaries(tree)
  note = notice(workload)
  manifest = p.manifest or {
      'workload': workload.name, 'scale': workload.scale,
      'synthetic': workload.synthetic, 'benchmark': tree.benchmark,
      'runs': p.runs, 'train_args': p.train_args, 'notice': note,
      'attempts': []}
  st.write_manifest(tree, manifest)
  system_desc.write(tree.system_json, system_desc.describe(
      tree.system, submitter=submitter, division=division, notes=note or ''))
  st.write_implementation(
      tree, workload=workload.name, train_args=p.train_args,
      submit_command=['python', '-m', 'mlperf_jax.submit', *p.argv],
      notice=note)
  return manifest, note


def make(p: Plan, workload: Workload, *, submitter: str,
         division: str) -> int:
  """Makes the missing runs of the package `p`.

  Returns:
    The exit code: 0 all result files exist; 1 a run crashed or was
    interrupted (rerun to continue); 2 a run rejected its input.
  """
  tree, n = p.tree, p.runs
  manifest, note = _prepare(p, workload, submitter=submitter,
                            division=division)
  used = {s for i in p.done
          for s in result_log.parse(tree.result_path(i)).seeds}
  used |= {a['seed'] for a in manifest['attempts']}
  print(f'mlperf_jax submit: {tree.benchmark}, {n} runs, system '
        f'{tree.system}, into {os.path.abspath(tree.root)}'
        + (f'\nNOTE: {note}' if note else ''), flush=True)
  if p.done:
    print(f'keeping {len(p.done)} completed result files: '
          f'{", ".join(f"result_{i}.txt" for i in p.done)}', flush=True)
  for i in missing_results(p, manifest):
    print(f'NOTE: result_{i}.txt of a finished run is missing (deleted?); '
          f'run {i + 1} is made again'
          + (f' with its --seeds value {p.seeds[i]}' if p.seeds else
             ' with a new seed (a drawn seed is never reused)'), flush=True)
  for i in range(n):
    if i in p.done:
      continue
    seed = p.seeds[i] if p.seeds else _draw_seed(used)
    used.add(seed)
    t0 = time.time()
    attempt = {'index': i, 'seed': seed, 'state': 'running',
               'started': time.strftime('%Y-%m-%dT%H:%M:%S')}
    try:
      manifest['attempts'].append(attempt)
      st.write_manifest(tree, manifest)
      rc, log, attempt_dir = _run_one(tree, i, seed, p.train_args)
    except (KeyboardInterrupt, SystemExit) as e:
      attempt['state'] = 'interrupted'
      st.write_manifest(tree, manifest)
      print(f'\ninterrupted during run {i + 1}/{n} (its train was stopped '
            'too); completed result files are kept, rerun the same command '
            'to continue', flush=True)
      return 130 if isinstance(e, KeyboardInterrupt) else 1
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
        f'check: python -m mlperf_jax.check {tree.root}', flush=True)
  return 0
