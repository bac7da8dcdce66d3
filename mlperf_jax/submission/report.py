# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The package check's report: a table per benchmark, PNG plots, summaries.

The table lists seed, time to train, convergence point (in the workload's
progress unit), status and compliance per run, then the olympic score and
the RCP verdict. The plots are quality vs `epoch_num` of every run with the
RCP mean and band, and the time-to-train distribution (olympic-dropped runs
in gray); they need matplotlib. Imports no JAX.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import TYPE_CHECKING

from mlperf_jax import workloads
from mlperf_jax.submission import result_log
from mlperf_jax.submission import scoring
from mlperf_jax.submission import tree as st

if TYPE_CHECKING:
  from mlperf_jax.submission.package_check import BenchmarkReport


def format_report(rep: BenchmarkReport) -> str:
  """The text table of one benchmark's report."""
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
  for n in rep.notes:
    lines.append(f'NOTE: {n}')
  for e in rep.errors:
    lines.append(f'ERROR: {e}')
  if rep.scale == 'mini':
    lines.append('(mini scale: checked with mlperf_jax rules and RCPs; not '
                 'an MLPerf result)')
  return '\n'.join(lines)


def _target(benchmark: str):
  found = workloads.by_benchmark(benchmark)
  return found[1].target if found else None


def _plot_quality(plt, rep: BenchmarkReport, tree: st.Tree, path: str):
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for i in tree.result_indices():
    log = result_log.parse(tree.result_path(i))
    pts = [(e, v) for e, v in log.evals if isinstance(v, (int, float))]
    if pts:
      ax.plot(*zip(*pts), marker='.', lw=1, alpha=0.8,
              label=f'result_{i} (seed {log.seed})')
  target = _target(rep.benchmark)
  if target:
    ax.axhline(target.value, color='k', ls='--', lw=1,
               label=f'target {target.value}')
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
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _plot_time_to_train(plt, rep: BenchmarkReport, path: str):
  fig, ax = plt.subplots(figsize=(7, 3.5))
  times = [r.time_to_train_s for r in rep.runs]
  finite = sorted(t for t in times if math.isfinite(t))
  drop = scoring.drop_count(rep.benchmark)
  dropped = set(finite[:drop]) | set(finite[-drop:]) if finite else set()
  for k, (_, t) in enumerate(zip(rep.runs, times)):
    if math.isfinite(t):
      ax.barh(k, t, color='tab:gray' if t in dropped else 'tab:blue')
    else:
      ax.barh(k, 0, color='tab:red')
      ax.text(0, k, ' not converged', va='center', color='tab:red')
  ax.set_yticks(range(len(rep.runs)), [r.file for r in rep.runs])
  if rep.olympic_minutes is not None:
    raw = rep.olympic_minutes * 60 / rep.normalization
    ax.axvline(raw, color='k', ls='--',
               label=f'olympic mean {raw:.1f} s (gray: dropped)')
    if rep.normalization != 1.0:
      ax.axvline(rep.olympic_minutes * 60, color='tab:orange', lw=2,
                 label=f'score {rep.olympic_minutes * 60:.1f} s = olympic '
                 f'mean x RCP normalization {rep.normalization:.3f}')
    ax.legend(fontsize=7)
  ax.set_xlabel('time to train (s)')
  ax.set_title(f'{rep.benchmark}: time-to-train distribution')
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


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
  quality_png = stem + '_quality.png'
  ttt_png = stem + '_time_to_train.png'
  _plot_time_to_train(plt, rep, ttt_png)
  if rep.smoke:  # random inputs: quality vs progress means nothing
    return [ttt_png]
  _plot_quality(plt, rep, tree, quality_png)
  return [quality_png, ttt_png]


def write_summary(reports: list[BenchmarkReport], report_dir: str) -> None:
  """summary.txt (the tables) and summary.json (the reports) in
  `report_dir`."""
  os.makedirs(report_dir, exist_ok=True)
  with open(os.path.join(report_dir, 'summary.txt'), 'w') as f:
    f.write('\n\n'.join(format_report(r) for r in reports) + '\n')
  with open(os.path.join(report_dir, 'summary.json'), 'w') as f:
    json.dump([dataclasses.asdict(r) for r in reports], f, indent=1,
              default=str)
