# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.make_rcps --workload resnet --runs 10`

Produces this project's reference convergence points (RCPs) for a mini-scale
benchmark the way the MLPerf rules describe them: at least 2N converged runs
(N = the runs a score needs) at one batch size, each an isolated run with
its own seed, and the convergence point of each run (the `epoch_num` of its
last evaluation, rounded to 3 decimals as the official `rcp_checker` reads
it: epochs for ResNet, training samples for BERT, 1 + fraction of an epoch
for DLRM) recorded. The runs are made with `python -m mlperf_jax.submit`
into a work directory; the record is merged into
`mlperf_jax/rules/rcps_mini.json` (the official `rcp_checker` format) and
the exact command, seeds, per-run values and the statistics the official
checker derives (olympic mean, stdev, fastest acceptable submission mean)
are written next to it, in `rcps_mini.md`. Any `train` option can be passed
through (e.g. `--set global_batch_size=64` for an RCP at another batch
size). Rerunning the same command with the same `--work-dir` keeps the
finished runs and only rebuilds the record.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time

from mlperf_jax import check
from mlperf_jax.submission import result_log
from mlperf_jax.submission import tree as st
from mlperf_jax import workloads

RULES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'submission', 'rules')
DEFAULT_JSON = os.path.join(RULES_DIR, 'rcps_mini.json')
# Logged before run_start but facts of the data, not hyperparameters.
_NOT_HPARAMS = frozenset({'train_samples', 'eval_samples'})


def record_from_logs(logs: list[result_log.ResultLog], *, name: str,
                     runs_needed: int) -> dict:
  """An `rcp_checker` record from converged runs of one batch size.

  Raises:
    ValueError: fewer than `2 * runs_needed` converged runs, or runs that
      disagree on benchmark or batch size.
  """
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


def _markdown(name: str, record: dict, command: list[str],
              logs: list[result_log.ResultLog], *, unit: str = 'epoch',
              stats: dict | None = None) -> str:
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
              'last `eval_accuracy`, as BERT logs it); the JSON keeps the '
              'official key `Epochs to converge`.', '']
  if stats:
    lines += [f'As the official `rcp_checker` computes them: RCP mean '
              f'(olympic) {stats["mean"]:.4g}, stdev {stats["stdev"]:.4g}, '
              f'fastest acceptable submission mean {stats["min"]:.4g} '
              f'({what}; max speedup '
              f'{stats["mean"] / stats["min"]:.4f}).', '']
  lines += [f'| run | seed | status | {what} | time to train (s) |',
            '|---|---|---|---|---|']
  for i, l in enumerate(logs):
    ttt = f'{l.time_to_train_s:.1f}' if l.converged else '-'
    lines.append(f'| {i} | {l.seed} | {l.status} | '
                 f'{l.epochs_to_converge} | {ttt} |')
  return '\n'.join(lines) + '\n'


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
  if '--scale' in train_args and 'reference' in train_args:
    p.error('official RCPs exist for the reference scale; make_rcps is for '
            'mini-scale benchmarks')
  mini = workloads.get(args.workload, 'mini')
  needed = mini.variant.num_runs
  runs = args.runs or 2 * needed
  if runs < 2 * needed:
    p.error(f'--runs {runs}: an RCP needs at least 2N = {2 * needed} runs')
  work = args.work_dir or tempfile.mkdtemp(prefix='mlperf_jax_rcps_')
  cmd = [sys.executable, '-m', 'mlperf_jax.submit', '--workload',
         args.workload, '--runs', str(runs), '--system', 'rcp',
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
  name = f'{record["Benchmark"]}_ref_{record["BS"]}'
  data = {}
  if os.path.exists(args.output):
    with open(args.output) as f:
      data = json.load(f)
  data[name] = record
  st.write_atomic(args.output, json.dumps(data, indent=2) + '\n')
  md = os.path.splitext(args.output)[0] + '.md'
  command = ['python', '-m', 'mlperf_jax.make_rcps', *argv]
  sections = {}
  if os.path.exists(md):
    with open(md) as f:
      text = f.read()
    for part in text.split('\n## ')[1:]:
      sections[part.split('`')[1]] = '## ' + part.rstrip('\n') + '\n'
  stats = check.rcp_stats({name: record}, record['Benchmark'], record['BS'],
                          '1.1.0', needed)
  sections[name] = _markdown(name, record, command, logs,
                             unit=mini.progress_unit, stats=stats)
  header = ('# mlperf_jax mini-scale reference convergence points\n\n'
            'Made by this project from its own runs (`python -m '
            'mlperf_jax.make_rcps`), in the format of the official '
            '`rcp_checker`; they are used by `python -m mlperf_jax.check` '
            'for mini-scale packages only.\n')
  st.write_atomic(md, header + ''.join('\n' + sections[k]
                                        for k in sorted(sections)))
  print(f'{name}: epochs to converge {record["Epochs to converge"]} -> '
        f'{args.output} ({md})')
  return 0


if __name__ == '__main__':
  sys.exit(main())
