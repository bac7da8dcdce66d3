# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Reference convergence points (RCPs): reading, statistics, making them.

The project's mini-scale RCPs live in `rules/rcps_mini.json`, in the format
of the official `mlperf_logging.rcp_checker`, with the command, seeds and
per-run values that made each record in `rules/rcps_mini.md`. A record is
made from at least 2N converged runs (N = the runs a score needs) at one
batch size; its values are the convergence points (the `epoch_num` of each
run's last evaluation, in the workload's progress unit). Statistics are the
official checker's own (olympic mean, stdev, fastest acceptable submission
mean). Imports no JAX; the official checker is imported when needed.
"""

from __future__ import annotations

import io
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence

from mlperf_jax.api import Workload
from mlperf_jax.submission import result_log
from mlperf_jax.submission import tree as st
from mlperf_jax.submission.compliance import RULES_DIR

DEFAULT_JSON = os.path.join(RULES_DIR, 'rcps_mini.json')
USAGE = 'training'
# Logged before run_start but facts of the data, not hyperparameters.
_NOT_HPARAMS = frozenset({'train_samples', 'eval_samples'})
_MD_HEADER = ('# mlperf_jax mini-scale reference convergence points\n\n'
              'Made by this project from its own runs (`python -m '
              'mlperf_jax.make_rcps`), in the format of the official '
              '`rcp_checker`; they are used by `python -m mlperf_jax.check` '
              'for mini-scale packages only.\n')


def read_records(benchmark: str, path: str) -> dict[str, Any]:
  """The records of `benchmark` in the RCP JSON `path` ({} if none)."""
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    data = json.load(f)
  return {k: v for k, v in data.items() if v.get('Benchmark') == benchmark}


def rcp_stats(records: dict[str, Any] | None, benchmark: str,
              bs: int | None, ruleset: str, runs: int
              ) -> dict[str, Any] | None:
  """The RCP at batch size `bs` (exact match) as the official checker sees it.

  Args:
    records: `rcp_checker` records (None: the official RCPs of `ruleset`).
    benchmark: the logged `submission_benchmark`.
    bs: global batch size.
    ruleset: official ruleset, e.g. '1.1.0'.
    runs: runs a submission score needs (N), for names the checker lacks.

  Returns:
    {'bs', 'mean' (olympic), 'stdev', 'min' (fastest acceptable submission
    mean)}, or None without an RCP for this benchmark and batch size.
  """
  from mlperf_logging.rcp_checker import rcp_checker  # pylint: disable=import-outside-toplevel
  rcp_checker.submission_runs[USAGE].setdefault(benchmark, runs)
  try:
    checker = rcp_checker.RCP_Checker(
        USAGE, ruleset, benchmark, False,
        io.StringIO(json.dumps(records)) if records is not None else None)
    # pylint: disable-next=protected-access
    rec = checker._find_rcp(bs, 'full_rcps')
  except Exception:  # pylint: disable=broad-except
    return None  # no data for this benchmark / batch size
  if rec is None:
    return None
  return {'bs': bs, 'mean': float(rec['RCP Mean']),
          'stdev': float(rec['RCP Stdev']), 'min': float(rec['Min Epochs'])}


def record_from_logs(logs: list[result_log.ResultLog], *, name: str,
                     runs_needed: int) -> dict:
  """An `rcp_checker` record from converged runs of one batch size.

  Raises:
    ValueError: fewer than `2 * runs_needed` converged runs, or runs that
      disagree on benchmark or batch size.
  """
  del name  # the record's key is chosen by the caller
  converged = [l for l in logs if l.converged]
  if len(converged) < 2 * runs_needed:
    raise ValueError(
        f'{len(converged)} of {len(logs)} runs converged; an RCP needs at '
        f'least {2 * runs_needed} (2N, N = {runs_needed}): run more')
  benches = {l.benchmark for l in converged}
  sizes = {l.global_batch_size for l in converged}
  if len(benches) != 1 or len(sizes) != 1:
    raise ValueError(f'runs disagree: benchmarks {benches}, batch sizes '
                     f'{sizes}')
  hparams = {k: v for k, v in converged[0].hparams.items()
             if k not in _NOT_HPARAMS}
  return {
      'Benchmark': benches.pop(),
      'Creator': 'mlperf_jax make_rcps',
      'When': time.strftime('%Y-%m-%d'),
      'Platform': f'{platform.machine()} CPU, {platform.system()}',
      'BS': sizes.pop(),
      'Hyperparams': hparams,
      'Epochs to converge': sorted(l.epochs_to_converge for l in converged),
  }


def package_pass_rate(stats: dict[str, Any], logs: list[result_log.ResultLog],
                      *, runs_needed: int, drop: int = 1, draws: int = 20000,
                      seed: int = 0) -> dict[str, Any]:
  """How often a package of `runs_needed` of these runs passes the RCP check.

  The official checker's rule (`rcp_checker`): a package passes when at
  most `drop` runs did not converge and the olympic mean of its
  convergence points (non-converged runs count as infinite, as the
  checker marks them) is at least the fastest acceptable mean
  `stats['min']`. Measured two ways: every disjoint package of
  consecutive runs, in run order ('in a row'), and `draws` packages drawn
  without replacement from all runs (a bootstrap of the run distribution).

  Returns:
    {'consecutive': (passed, packages), 'resampled': (passed, draws)}.
  """
  import numpy as np  # pylint: disable=import-outside-toplevel
  points = np.array([l.epochs_to_converge if l.converged else np.inf
                     for l in logs], float)

  def passes(sample) -> bool:
    s = np.sort(sample)
    if np.isinf(s).sum() > drop:
      return False
    return bool(np.mean(s[drop:len(s) - drop]) >= stats['min'])

  n = runs_needed
  blocks = [points[i:i + n] for i in range(0, len(points) - n + 1, n)]
  rng = np.random.default_rng(seed)
  drawn = sum(passes(points[rng.choice(len(points), n, replace=False)])
              for _ in range(draws))
  return {'consecutive': (sum(passes(b) for b in blocks), len(blocks)),
          'resampled': (int(drawn), draws)}


def record_name(record: dict) -> str:
  """The JSON key of a record: '<benchmark>_ref_<batch size>'."""
  return f'{record["Benchmark"]}_ref_{record["BS"]}'


def markdown(name: str, record: dict, command: list[str],
             logs: list[result_log.ResultLog], *, unit: str = 'epoch',
             stats: dict | None = None, pass_rate: dict | None = None
             ) -> str:
  """The .md section of one record: command, RCP statistics, every run."""
  what = ('training samples' if unit == 'samples' else 'epochs') + (
      ' to converge')
  lines = [
      f'## `{name}`', '',
      f'{len(record["Epochs to converge"])} converged runs of '
      f'`{record["Benchmark"]}` at global batch size {record["BS"]}, made on '
      f'{record["When"]} ({record["Platform"]}) with:', '',
      '```bash', shlex.join(command), '```', '']
  if unit == 'samples':
    lines += ['The convergence unit is training samples (`epoch_num` of the '
              f'last `eval_accuracy`, as `{record["Benchmark"]}` logs it); the '
              'JSON keeps the official key `Epochs to converge`.', '']
  if stats:
    lines += [f'As the official `rcp_checker` computes them: RCP mean '
              f'(olympic) {stats["mean"]:.4g}, stdev {stats["stdev"]:.4g}, '
              f'fastest acceptable submission mean {stats["min"]:.4g} '
              f'({what}; max speedup '
              f'{stats["mean"] / stats["min"]:.4f}).', '']
  if pass_rate:
    (c_ok, c_n), (r_ok, r_n) = pass_rate['consecutive'], pass_rate['resampled']
    lines += [f'Packages of these runs that pass the RCP check (the official '
              f'rule: at most {pass_rate.get("drop", 1)} non-converged run, '
              'olympic mean of the convergence points >= the fastest '
              f'acceptable mean): {c_ok} of {c_n} disjoint packages of '
              f'consecutive runs; {r_ok} of {r_n} ({100 * r_ok / r_n:.1f} %) '
              'packages drawn at random without replacement '
              '(`rcps.package_pass_rate`).', '']
  lines += [f'| run | seed | status | {what} | time to train (s) |',
            '|---|---|---|---|---|']
  for i, l in enumerate(logs):
    ttt = f'{l.time_to_train_s:.1f}' if l.converged else '-'
    lines.append(f'| {i} | {l.seed} | {l.status} | '
                 f'{l.epochs_to_converge} | {ttt} |')
  return '\n'.join(lines) + '\n'


def write_record(output: str, name: str, record: dict, section: str) -> str:
  """Merges `record` into the JSON `output` and its `section` into the .md
  next to it (sections sorted by name); returns the .md path."""
  data = {}
  if os.path.exists(output):
    with open(output) as f:
      data = json.load(f)
  data[name] = record
  st.write_atomic(output, json.dumps(data, indent=2) + '\n')
  md = os.path.splitext(output)[0] + '.md'
  sections = {}
  if os.path.exists(md):
    with open(md) as f:
      text = f.read()
    for part in text.split('\n## ')[1:]:
      sections[part.split('`')[1]] = '## ' + part.rstrip('\n') + '\n'
  sections[name] = section
  st.write_atomic(md, _MD_HEADER + ''.join('\n' + sections[k]
                                            for k in sorted(sections)))
  return md


def make(workload: Workload, *, runs: int, output: str,
         work_dir: str | None, train_args: Sequence[str],
         argv: Sequence[str]) -> int:
  """Makes `runs` runs of `workload` with `python -m mlperf_jax.submit`,
  builds the record and writes it (see `write_record`).

  Args:
    workload: the (mini-scale) workload; its variant gives N.
    runs: runs to make (>= 2N).
    output: the RCP JSON to update.
    work_dir: where the runs go (None: a fresh temporary directory).
    train_args: options passed through to `train`.
    argv: the `make_rcps` command line, recorded in the .md.

  Returns:
    The exit code: 0, 1 too few runs converged, else submit's exit code.
  """
  needed = workload.variant.num_runs
  work = work_dir or tempfile.mkdtemp(prefix='mlperf_jax_rcps_')
  cmd = [sys.executable, '-m', 'mlperf_jax.submit', '--workload',
         workload.name, '--runs', str(runs), '--system', 'rcp',
         '--output-dir', work, *train_args]
  rc = subprocess.call(cmd)
  if rc != 0:
    print(f'make_rcps: submit failed (exit code {rc}); runs in {work}',
          file=sys.stderr)
    return rc
  tree = st.find_trees(work)[0]
  logs = [result_log.parse(tree.result_path(i))
          for i in tree.result_indices()]
  try:
    record = record_from_logs(logs, name='', runs_needed=needed)
  except ValueError as e:
    print(f'make_rcps: {e}', file=sys.stderr)
    return 1
  name = record_name(record)
  command = ['python', '-m', 'mlperf_jax.make_rcps', *argv]
  stats = rcp_stats({name: record}, record['Benchmark'], record['BS'],
                    '1.1.0', needed)
  rate = None
  if stats:
    rate = package_pass_rate(stats, logs, runs_needed=needed,
                             drop=workload.variant.olympic_drop)
    rate['drop'] = workload.variant.olympic_drop
  md = write_record(output, name, record, markdown(
      name, record, command, logs, unit=workload.progress_unit, stats=stats,
      pass_rate=rate))
  print(f'{name}: epochs to converge {record["Epochs to converge"]} -> '
        f'{output} ({md})')
  return 0
