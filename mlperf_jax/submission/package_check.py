# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Checks and scores a submission package, benchmark by benchmark.

Reference scale (official benchmark names): the official
`mlperf_logging.package_checker` (its verdict is its last "PACKAGE CHECKER
FOUND ..." line; it exits 0 either way), then the official
`result_summarizer`.

Mini scale (`mini_*` names, unknown to the official tools): the same
machinery with this project's rules: every result file through the official
compliance checker with the mini ruleset (`submission.compliance`), the run
count the variant needs, one integer seed per run and no seed twice, the
official `rcp_checker` on this project's RCPs (`submission.rcps`), the
normalization factor written to `scaling.json` as the package checker does,
and the olympic score (`submission.scoring`). Tables and plots:
`submission.report`. Imports no JAX.
"""

from __future__ import annotations

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

from mlperf_jax import workloads
from mlperf_jax.submission import compliance
from mlperf_jax.submission import rcps
from mlperf_jax.submission import report
from mlperf_jax.submission import result_log
from mlperf_jax.submission import scoring
from mlperf_jax.submission import tree as st

RCPS_MINI = rcps.DEFAULT_JSON
USAGE = rcps.USAGE


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
  """What the check found for one results/<system>/<benchmark> folder."""
  system: str
  benchmark: str
  scale: str
  runs: list[RunRow]
  runs_needed: int
  errors: list[str] = dataclasses.field(default_factory=list)
  rcp_passed: bool | None = None
  rcp_message: str = ''
  rcp: dict[str, Any] | None = None   # mean, stdev, min epochs of the RCP
  notes: list[str] = dataclasses.field(default_factory=list)
  normalization: float = 1.0
  olympic_minutes: float | None = None
  plots: list[str] = dataclasses.field(default_factory=list)
  unit: str = 'epoch'   # what epoch_num counts: the workload's progress_unit
  smoke: bool = False   # a synthetic-data smoke package (format only)

  @property
  def passed(self) -> bool:
    return not self.errors


def workload_of(benchmark: str):
  """(workload name, scale, variant) of a logged benchmark name, or Nones."""
  found = workloads.by_benchmark(benchmark)
  if found is None:
    return None, None, None
  cls, variant = found
  return cls.name, variant.scale, variant


def _progress_unit(benchmark: str) -> str:
  """What `epoch_num` counts for `benchmark` ('epoch' if no workload)."""
  found = workloads.by_benchmark(benchmark)
  return found[0].progress_unit if found else 'epoch'


def _first_batch_size(tree: st.Tree) -> int | None:
  indices = tree.result_indices()
  if not indices:
    return None
  return result_log.parse(tree.result_path(indices[0])).global_batch_size


def _rows(tree: st.Tree) -> list[RunRow]:
  rows = []
  for i in tree.result_indices():
    log = result_log.parse(tree.result_path(i))
    rows.append(RunRow(
        file=os.path.basename(log.path), seed=log.seed, status=log.status,
        time_to_train_s=log.time_to_train_s, epochs=log.epochs_to_converge,
        quality=log.evals[-1][1] if log.evals else None))
  return rows


def check_seeds(tree: st.Tree) -> list[str]:
  """Errors for runs without exactly one integer seed or reusing one."""
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


def _score(rep: BenchmarkReport, tree: st.Tree) -> None:
  factor = scoring.scaling_factor(tree.results_dir)
  if factor is not None:
    rep.normalization = factor
  rep.olympic_minutes = scoring.olympic_minutes(
      [r.time_to_train_s for r in rep.runs], rep.benchmark, rep.normalization)
  if rep.olympic_minutes is None:
    rep.errors.append('no olympic score: more non-converged runs than the '
                      'olympic mean may drop, or too few runs')


def count_errors(tree: st.Tree, needed: int) -> list[str]:
  """The result files a benchmark folder lacks or has too many of, named."""
  have = tree.result_indices()
  missing = [f'result_{i}.txt' for i in range(needed) if i not in have]
  extra = [f'result_{i}.txt' for i in have if i >= needed]
  out = []
  if missing:
    out.append(f'{tree.results_dir} lacks {", ".join(missing)} '
               f'({tree.benchmark} needs result_0..result_{needed - 1}); '
               'rerun the submit command that made the package to make them')
  if extra:
    out.append(f'{tree.results_dir} has {", ".join(extra)} beyond the '
               f'{needed} runs {tree.benchmark} needs; remove them')
  return out


def rcp_verdict(msg: str, passed: bool, rows: list[RunRow],
                rcp: dict[str, Any] | None, drop: int, unit: str,
                rcp_path: str) -> str:
  """The official checker's verdict in words. Its message names which RCP
  it used ('RCP found' whether the check passed or not); the numbers say
  why it passed or failed."""
  what = 'training samples' if unit == 'samples' else 'epochs'
  epochs = sorted(r.epochs if r.epochs is not None and r.status == 'success'
                  else math.inf for r in rows)
  not_converged = sum(1 for e in epochs if not math.isfinite(e))
  if msg == 'Insufficient convergence':
    return (f'{not_converged} of {len(rows)} runs did not converge; the RCP '
            f'check accepts at most {drop} (the olympic mean drops it)')
  if msg == 'Could not detect global_batch_size':
    return 'the result files log no common global_batch_size'
  kept = epochs[drop:len(epochs) - drop]
  mean = sum(kept) / len(kept) if kept and all(
      math.isfinite(e) for e in kept) else None
  if rcp is None or mean is None:
    return f'{msg} ({"passed" if passed else "failed"}; RCPs: {rcp_path})'
  used = f'RCP at batch size {rcp["bs"]}: mean {rcp["mean"]:.4g}, fastest ' \
         f'acceptable submission mean {rcp["min"]:.4g} {what}'
  if passed:
    how = ('slower than or as fast as the RCP mean' if mean >= rcp['mean']
           else 'faster than the RCP mean but within its max speedup, so the '
           'score is normalized')
    return (f'olympic mean of the runs {mean:.4g} {what} to converge, {how} '
            f'({used})')
  return (f'olympic mean of the runs {mean:.4g} {what} to converge is faster '
          f'than the fastest acceptable mean {rcp["min"]:.4g} ({used}): the '
          'runs converge faster than the reference allows; rerun the '
          'package with new seeds, or remake the RCP with python -m '
          'mlperf_jax.make_rcps if the training changed')


def smoke_note(tree: st.Tree) -> str | None:
  """What to expect of a synthetic-data smoke package, or None."""
  for i in tree.result_indices()[:1]:
    if any('synthetic data' in n for n in
           result_log.parse(tree.result_path(i)).notices):
      return ('synthetic-data smoke package: random inputs check the format '
              'only, so failing the quality target (and the RCP and score '
              'checks) is expected here; it is not an MLPerf result')
  return None


def check_mini(tree: st.Tree, cfg, *, rcp_path: str = RCPS_MINI,
               ruleset: str = '1.1.0') -> BenchmarkReport:
  """The mini-scale check of one benchmark folder (`cfg`: its variant)."""
  rows = _rows(tree)
  rep = BenchmarkReport(tree.system, tree.benchmark, 'mini', rows,
                        cfg.num_runs, unit=_progress_unit(tree.benchmark))
  failing = []
  for row in rows:
    r = compliance.check(tree.result_path(int(row.file[7:-4])))
    row.compliant = r.passed
    if not r.passed:
      failing.append(f'{row.file} fails the mini ruleset: '
                     f'{r.explain(cfg.target.value)}')
  # As the official package checker: the olympic mean drops the worst run,
  # so that many files may fail their checks (e.g. a run that did not
  # converge within its budget).
  allowed = scoring.drop_count(tree.benchmark)
  if len(failing) <= allowed:
    rep.notes += [f'{f} (accepted under olympic scoring: up to {allowed} '
                  'such file(s))' for f in failing]
  else:
    rep.errors += failing + [f'{len(failing)} files fail their checks; '
                             f'olympic scoring accepts at most {allowed}']
  rep.errors += count_errors(tree, cfg.num_runs)
  rep.errors += check_seeds(tree)
  records = rcps.read_records(tree.benchmark, rcp_path)
  if cfg.extra.get('no_rcps'):
    # As the official package checker, which skips the RCP check for
    # minigo (training rules: MiniGo has no RCPs): no RCP, normalization 1.
    rep.notes.append(f'{tree.benchmark} has no RCP check (as MLPerf '
                     'MiniGo)')
  elif not records:
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
    rep.rcp_passed = bool(passed)
    rep.normalization = float(norm) if passed else 1.0
    bs = _first_batch_size(tree) if rows else None
    rep.rcp = rcps.rcp_stats(records, tree.benchmark, bs, ruleset,
                             cfg.num_runs)
    rep.rcp_message = rcp_verdict(msg, bool(passed), rows, rep.rcp,
                                  scoring.drop_count(tree.benchmark),
                                  rep.unit, rcp_path)
  if rep.rcp_passed is False:
    rep.errors.append(f'RCP check failed: {rep.rcp_message}')
  _score(rep, tree)
  return rep


def check_reference(tree: st.Tree, cfg, ruleset: str) -> BenchmarkReport:
  """The reference-scale report of one benchmark folder (the official
  package checker runs over the whole package: `run_package_checker`)."""
  rep = BenchmarkReport(tree.system, tree.benchmark, 'reference',
                        _rows(tree), cfg.num_runs if cfg else 0,
                        unit=_progress_unit(tree.benchmark))
  bs = _first_batch_size(tree) if rep.runs else None
  rep.rcp = rcps.rcp_stats(None, tree.benchmark, bs, ruleset, rep.runs_needed)
  if cfg is not None:
    rep.notes += count_errors(tree, cfg.num_runs)  # the official one decides
  _score(rep, tree)
  return rep


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


def find_packages(root: str) -> list[st.Tree]:
  """The benchmark folders of the package in `root`.

  Raises:
    ValueError: `root` holds none, or a mini benchmark no workload has.
  """
  trees = st.find_trees(root) if os.path.isdir(root) else []
  if not trees:
    raise ValueError(f'{root!r} holds no results/<system>/<benchmark>/ '
                     'folder; make a package with python -m mlperf_jax.submit')
  for tree in trees:
    if tree.benchmark.startswith('mini_') and workload_of(
        tree.benchmark)[2] is None:
      raise ValueError(f'no mlperf_jax workload has the mini benchmark '
                       f'{tree.benchmark!r}')
  return trees


def check_package(root: str, trees: list[st.Tree], *, ruleset: str,
                  rcp_path: str, report_dir: str) -> bool:
  """Checks every benchmark folder of `find_packages(root)`, runs the
  official tools on reference-scale ones, prints the tables and writes them
  with the plots to `report_dir`; True when the package passed."""
  reports, ok = [], True
  reference = []
  for tree in trees:
    _, _, cfg = workload_of(tree.benchmark)
    if tree.benchmark.startswith('mini_'):
      rep = check_mini(tree, cfg, rcp_path=rcp_path)
    else:
      rep = check_reference(tree, cfg, ruleset)
      reference.append(tree)
    note = smoke_note(tree)
    if note:
      rep.notes.insert(0, note)
      rep.smoke = True
    rep.plots = report.plot(rep, tree, report_dir)
    reports.append(rep)
  if reference:
    passed, errors, _ = run_package_checker(root, ruleset)
    print(f'== official package checker ({ruleset}): '
          f'{"PASSED" if passed else "FAILED"}')
    if not passed and any(r.smoke for r in reports):
      print('  (expected for a synthetic-data smoke package: its runs cannot '
            'reach the quality target)')
    for e in errors:
      print(f'  {e}')
    print('== official result summarizer')
    print(run_result_summarizer(root, ruleset))
    ok &= passed
  for rep in reports:
    print(report.format_report(rep))
    for png in rep.plots:
      print(f'plot: {png}')
    ok &= rep.passed
  report.write_summary(reports, report_dir)
  print(f'report: {report_dir}')
  print('CHECK PASSED' if ok else 'CHECK FAILED')
  return ok
