# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.check DIR [--ruleset 1.1.0]`: check, score a package.

Reference scale (official benchmark names): the official
`mlperf_logging.package_checker` (its verdict is its last "PACKAGE CHECKER
FOUND ..." line; it exits 0 either way), then the official
`result_summarizer`.

Mini scale (`mini_*` names, unknown to the official tools): the same
machinery with this project's rules: every result file through the official
compliance checker with the mini ruleset (`mlperf_jax.compliance`), the
exact run count, one integer seed per run and no seed twice, the official
`rcp_checker` on this project's RCPs (`mlperf_jax/rules/rcps_mini.json`),
the normalization factor written to `scaling.json` as the package checker
does, and the olympic mean of the times to train.

Both print a table per benchmark (seed, time to train, epochs to converge
-- training samples for BERT, as its `epoch_num` counts --, status per run;
olympic score; RCP verdict and normalization) and write it, with PNG plots
(quality vs epochs of every run with the RCP mean and band; the
time-to-train distribution), to DIR/report/.

Exit codes: 0 the package passed; 1 it did not; 2 bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import io
import json
import math
import os
import subprocess
import sys
import tempfile
from typing import Any

from mlperf_jax import compliance
from mlperf_jax.submission import result_log
from mlperf_jax.submission import tree as st
from mlperf_jax import workloads

RCPS_MINI = os.path.join(compliance.RULES_DIR, 'rcps_mini.json')
USAGE = 'training'


@dataclasses.dataclass
class RunRow:
  file: str
  seed: int | None
  status: str | None
  time_to_train_s: float
  epochs: float | None
  quality: Any
  compliant: bool | None = None


@dataclasses.dataclass
class BenchmarkReport:
  """What `check` found for one results/<system>/<benchmark> folder."""
  system: str
  benchmark: str
  scale: str
  runs: list[RunRow]
  runs_needed: int
  errors: list[str] = dataclasses.field(default_factory=list)
  rcp_passed: bool | None = None
  rcp_message: str = ''
  rcp: dict[str, Any] | None = None   # mean, stdev, min epochs of the RCP
  normalization: float = 1.0
  olympic_minutes: float | None = None
  plots: list[str] = dataclasses.field(default_factory=list)
  unit: str = 'epoch'   # what epoch_num counts: 'epoch' or 'samples' (BERT)

  @property
  def passed(self) -> bool:
    return not self.errors


def olympic_mean(scores: list[float], drop: int = 1) -> float | None:
  """Mean after dropping the `drop` fastest and slowest scores.

  Non-converged runs count as infinite, so they are dropped as the slowest;
  more than `drop` of them make the result invalid (None).
  """
  s = sorted(scores)
  if sum(1 for x in s if not math.isfinite(x)) > drop or len(s) <= 2 * drop:
    return None
  kept = s[drop:len(s) - drop]
  return sum(kept) / len(kept)


def _drop_count(benchmark: str) -> int:
  """Runs the olympic mean drops at each end (the variant says)."""
  found = workloads.by_benchmark(benchmark)
  return found[1].olympic_drop if found else 1


def _workload_of(benchmark: str):
  """(workload name, scale, variant) of a logged benchmark name, or Nones."""
  found = workloads.by_benchmark(benchmark)
  if found is None:
    return None, None, None
  cls, variant = found
  return cls.name, variant.scale, variant


def _progress_unit(benchmark: str) -> str:
  """What `epoch_num` counts for `benchmark`: 'epoch' or 'samples'."""
  found = workloads.by_benchmark(benchmark)
  return found[0].progress_unit if found else 'epoch'


def _rows(tree: st.Tree) -> list[RunRow]:
  rows = []
  for i in tree.result_indices():
    log = result_log.parse(tree.result_path(i))
    rows.append(RunRow(
        file=os.path.basename(log.path), seed=log.seed, status=log.status,
        time_to_train_s=log.time_to_train_s, epochs=log.epochs_to_converge,
        quality=log.evals[-1][1] if log.evals else None))
  return rows


def _check_seeds(tree: st.Tree) -> list[str]:
  errors, seen = [], {}
  for i in tree.result_indices():
    log = result_log.parse(tree.result_path(i))
    name = os.path.basename(log.path)
    if len(log.seeds) != 1 or not isinstance(log.seeds[0], int):
      errors.append(f'{name} logs seeds {log.seeds}; every run must log '
                    'exactly one integer seed')
      continue
    if log.seeds[0] in seen:
      errors.append(f'{name} logs seed {log.seeds[0]}, already used by '
                    f'{seen[log.seeds[0]]}; every run needs its own seed')
    seen[log.seeds[0]] = name
  return errors


def _rcp_records(benchmark: str, path: str) -> dict[str, Any]:
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


def check_mini(tree: st.Tree, cfg, *, rcp_path: str = RCPS_MINI,
               ruleset: str = '1.1.0') -> BenchmarkReport:
  """The mini-scale package check of one benchmark folder."""
  rows = _rows(tree)
  rep = BenchmarkReport(tree.system, tree.benchmark, 'mini', rows,
                        cfg.num_runs, unit=_progress_unit(tree.benchmark))
  for row in rows:
    r = compliance.check(tree.result_path(int(row.file[7:-4])))
    row.compliant = r.passed
    if not r.passed:
      rep.errors.append(f'{row.file} fails the mini ruleset: '
                        + '; '.join(r.failures[-3:] or [r.output[-300:]]))
  if len(rows) != cfg.num_runs:
    rep.errors.append(f'{len(rows)} result files, {tree.benchmark} needs '
                      f'exactly {cfg.num_runs}')
  rep.errors += _check_seeds(tree)
  records = _rcp_records(tree.benchmark, rcp_path)
  if not records:
    rep.rcp_passed = False
    rep.rcp_message = (f'no RCP for {tree.benchmark} in {rcp_path}; make one '
                       'with python -m mlperf_jax.make_rcps')
  else:
    from mlperf_logging.rcp_checker import rcp_checker  # pylint: disable=import-outside-toplevel
    # The official checker only knows official names and run counts.
    rcp_checker.submission_runs[USAGE].setdefault(tree.benchmark,
                                                  cfg.num_runs)
    passed, msg, norm = rcp_checker.check_directory(
        tree.results_dir, USAGE, ruleset, verbose=False,
        bert_train_samples=False,
        rcp_file=io.StringIO(json.dumps(records)), rcp_pass='full_rcps',
        rcp_bypass=False, set_scaling=True)
    rep.rcp_passed, rep.rcp_message = bool(passed), msg
    rep.normalization = float(norm) if passed else 1.0
    bs = result_log.parse(tree.result_path(tree.result_indices()[0])
                          ).global_batch_size if rows else None
    rep.rcp = rcp_stats(records, tree.benchmark, bs, ruleset, cfg.num_runs)
  if not rep.rcp_passed:
    rep.errors.append(f'RCP check failed: {rep.rcp_message}')
  _score(rep, tree)
  return rep


def _score(rep: BenchmarkReport, tree: st.Tree) -> None:
  scaling = os.path.join(tree.results_dir, 'scaling.json')
  if os.path.exists(scaling):
    with open(scaling) as f:
      rep.normalization = float(json.load(f)['scaling_factor'])
  mean = olympic_mean([r.time_to_train_s / 60 for r in rep.runs],
                      _drop_count(rep.benchmark))
  rep.olympic_minutes = None if mean is None else mean * rep.normalization
  if mean is None:
    rep.errors.append('no olympic score: more non-converged runs than the '
                      'olympic mean may drop, or too few runs')


def run_package_checker(root: str, ruleset: str
                        ) -> tuple[bool, list[str], str]:
  """The official package checker; (passed, ERROR lines, full output)."""
  with tempfile.TemporaryDirectory() as tmp:
    proc = subprocess.run(
        [sys.executable, '-m', 'mlperf_logging.package_checker',
         os.path.abspath(root), USAGE, ruleset, '--log_output',
         os.path.join(tmp, 'package_checker.log')],
        capture_output=True, text=True, cwd=tmp, check=False)
  out = proc.stdout + proc.stderr
  verdicts = [l for l in out.splitlines() if 'PACKAGE CHECKER FOUND' in l]
  passed = bool(verdicts) and 'NO ERRORS' in verdicts[-1]
  errors = [l for l in out.splitlines() if l.startswith('ERROR')]
  if not verdicts:
    errors.append('the package checker stopped without a verdict (crash); '
                  'its output ends with: ' + out.strip()[-500:])
  return passed, errors, out


def run_result_summarizer(root: str, ruleset: str) -> str:
  """The official result summarizer's output (it needs pandas)."""
  if importlib.util.find_spec('pandas') is None:
    return ('skipped: the official result summarizer needs pandas '
            '(pip install pandas)')
  with tempfile.TemporaryDirectory() as tmp:
    proc = subprocess.run(
        [sys.executable, '-m', 'mlperf_logging.result_summarizer',
         os.path.abspath(root), USAGE, ruleset, '--csv',
         os.path.join(tmp, 'summary.csv')],
        capture_output=True, text=True, cwd=tmp, check=False)
  return (proc.stdout + proc.stderr).strip()


def check_reference(tree: st.Tree, cfg, ruleset: str) -> BenchmarkReport:
  rep = BenchmarkReport(tree.system, tree.benchmark, 'reference',
                        _rows(tree), cfg.num_runs if cfg else 0,
                        unit=_progress_unit(tree.benchmark))
  bs = (result_log.parse(tree.result_path(tree.result_indices()[0])
                         ).global_batch_size if rep.runs else None)
  rep.rcp = rcp_stats(None, tree.benchmark, bs, ruleset, rep.runs_needed)
  _score(rep, tree)
  return rep


# ---- report --------------------------------------------------------------


def format_report(rep: BenchmarkReport) -> str:
  unit = 'samples' if rep.unit == 'samples' else 'epochs'
  lines = [f'== {rep.system} / {rep.benchmark} ({rep.scale} scale, '
           f'{len(rep.runs)} of {rep.runs_needed} runs)',
           f'{"file":<14} {"seed":>11} {"status":<8} {"time to train":>14} '
           f'{unit:>7} {"quality":>8} {"compliance":>10}']
  for r in rep.runs:
    ttt = f'{r.time_to_train_s:.1f} s' if math.isfinite(
        r.time_to_train_s) else 'inf'
    q = f'{r.quality:.4f}' if isinstance(r.quality, (int, float)) else str(
        r.quality)
    c = {True: 'ok', False: 'FAILED', None: '-'}[r.compliant]
    lines.append(f'{r.file:<14} {str(r.seed):>11} {str(r.status):<8} '
                 f'{ttt:>14} {str(r.epochs):>7} {q:>8} {c:>10}')
  if rep.olympic_minutes is not None:
    lines.append(f'olympic score: {rep.olympic_minutes:.4f} min '
                 f'({rep.olympic_minutes * 60:.2f} s; normalization '
                 f'{rep.normalization:.4f} included)')
  else:
    lines.append('olympic score: none')
  if rep.rcp_passed is not None:
    lines.append(f'RCP check: {"PASSED" if rep.rcp_passed else "FAILED"} '
                 f'({rep.rcp_message}); normalization factor '
                 f'{rep.normalization:.4f}')
  if rep.rcp:
    lines.append(f'RCP at batch {rep.rcp["bs"]}: mean {rep.rcp["mean"]:.3f} '
                 f'{unit}, stdev {rep.rcp["stdev"]:.3f}, fastest acceptable '
                 f'submission mean {rep.rcp["min"]:.3f}')
  for e in rep.errors:
    lines.append(f'ERROR: {e}')
  if rep.scale == 'mini':
    lines.append('(mini scale: checked with mlperf_jax rules and RCPs; not '
                 'an MLPerf result)')
  return '\n'.join(lines)


def plot(rep: BenchmarkReport, tree: st.Tree, out_dir: str) -> list[str]:
  """Quality-vs-epochs and time-to-train PNGs; [] without matplotlib."""
  try:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  except ImportError:
    return []
  os.makedirs(out_dir, exist_ok=True)
  stem = os.path.join(out_dir, f'{rep.system}_{rep.benchmark}')
  _, _, cfg = _workload_of(rep.benchmark)
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for i in tree.result_indices():
    log = result_log.parse(tree.result_path(i))
    pts = [(e, v) for e, v in log.evals if isinstance(v, (int, float))]
    if pts:
      ax.plot(*zip(*pts), marker='.', lw=1, alpha=0.8,
              label=f'result_{i} (seed {log.seed})')
  if cfg:
    ax.axhline(cfg.target.value, color='k', ls='--', lw=1,
               label=f'target {cfg.target.value}')
  if rep.rcp:
    m, s = rep.rcp['mean'], rep.rcp['stdev']
    ax.axvspan(m - s, m + s, color='tab:green', alpha=0.15,
               label='RCP mean ± stdev')
    ax.axvline(m, color='tab:green', lw=2, label=f'RCP mean {m:.2f}')
    ax.axvline(rep.rcp['min'], color='tab:red', ls=':', lw=1.5,
               label=f'fastest acceptable mean {rep.rcp["min"]:.2f}')
  unit = 'training samples' if rep.unit == 'samples' else 'epoch'
  ax.set_xlabel(f'{unit} (epoch_num)')
  ax.set_ylabel('eval_accuracy')
  ax.set_title(f'{rep.benchmark}: quality vs {unit}, {len(rep.runs)} runs')
  ax.legend(fontsize=7)
  fig.tight_layout()
  quality_png = stem + '_quality.png'
  fig.savefig(quality_png, dpi=100)
  plt.close(fig)

  fig, ax = plt.subplots(figsize=(7, 3.5))
  times = [r.time_to_train_s for r in rep.runs]
  finite = sorted(t for t in times if math.isfinite(t))
  drop = _drop_count(rep.benchmark)
  dropped = set(finite[:drop]) | set(finite[-drop:]) if finite else set()
  for k, (r, t) in enumerate(zip(rep.runs, times)):
    if math.isfinite(t):
      ax.barh(k, t, color='tab:gray' if t in dropped else 'tab:blue')
    else:
      ax.barh(k, 0, color='tab:red')
      ax.text(0, k, ' not converged', va='center', color='tab:red')
  ax.set_yticks(range(len(rep.runs)), [r.file for r in rep.runs])
  if rep.olympic_minutes is not None:
    ax.axvline(rep.olympic_minutes * 60 / rep.normalization, color='k',
               ls='--', label='olympic mean (gray: dropped)')
    ax.legend(fontsize=7)
  ax.set_xlabel('time to train (s)')
  ax.set_title(f'{rep.benchmark}: time-to-train distribution')
  fig.tight_layout()
  ttt_png = stem + '_time_to_train.png'
  fig.savefig(ttt_png, dpi=100)
  plt.close(fig)
  return [quality_png, ttt_png]


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(
      prog='python -m mlperf_jax.check', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('dir', help='submission directory (holds results/, '
                 'systems/)')
  p.add_argument('--ruleset', default='1.1.0',
                 help='official ruleset for reference-scale packages')
  p.add_argument('--rcps', default=RCPS_MINI,
                 help='RCP JSON for mini-scale packages')
  p.add_argument('--report-dir', default=None,
                 help='where the table and plots go (default: DIR/report)')
  args = p.parse_args(argv)
  trees = st.find_trees(args.dir) if os.path.isdir(args.dir) else []
  if not trees:
    p.error(f'{args.dir!r} holds no results/<system>/<benchmark>/ folder; '
            'make a package with python -m mlperf_jax.submit')
  report_dir = args.report_dir or os.path.join(args.dir, 'report')
  reports, ok = [], True
  reference = []
  for tree in trees:
    _, scale, cfg = _workload_of(tree.benchmark)
    if tree.benchmark.startswith('mini_'):
      if cfg is None:
        p.error(f'no mlperf_jax workload has the mini benchmark '
                f'{tree.benchmark!r}')
      rep = check_mini(tree, cfg, rcp_path=args.rcps)
    else:
      rep = check_reference(tree, cfg, args.ruleset)
      reference.append(tree)
    rep.plots = plot(rep, tree, report_dir)
    reports.append(rep)
  if reference:
    passed, errors, _ = run_package_checker(args.dir, args.ruleset)
    print(f'== official package checker ({args.ruleset}): '
          f'{"PASSED" if passed else "FAILED"}')
    for e in errors:
      print(f'  {e}')
    print('== official result summarizer')
    print(run_result_summarizer(args.dir, args.ruleset))
    ok &= passed
  for rep in reports:
    print(format_report(rep))
    for png in rep.plots:
      print(f'plot: {png}')
    ok &= rep.passed
  os.makedirs(report_dir, exist_ok=True)
  with open(os.path.join(report_dir, 'summary.txt'), 'w') as f:
    f.write('\n\n'.join(format_report(r) for r in reports) + '\n')
  with open(os.path.join(report_dir, 'summary.json'), 'w') as f:
    json.dump([dataclasses.asdict(r) for r in reports], f, indent=1,
              default=str)
  print(f'report: {report_dir}')
  print('CHECK PASSED' if ok else 'CHECK FAILED')
  return 0 if ok else 1


if __name__ == '__main__':
  sys.exit(main())
