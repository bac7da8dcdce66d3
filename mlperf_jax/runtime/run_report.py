# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Where a run writes its files, and what it tells the user."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Mapping

from mlperf_jax.runtime import loop
from mlperf_jax.api import Variant, Workload


@dataclasses.dataclass(frozen=True)
class RunPaths:
  dir: str
  log: str       # MLLOG
  metrics: str   # losses and evals, JSON
  plot: str      # convergence curve (PNG, when matplotlib is installed)


def run_paths(output_dir: str, workload: Workload, seed: int) -> RunPaths:
  """A fresh directory per run; existing runs are never overwritten."""
  stamp = time.strftime('%Y%m%d-%H%M%S')
  base = os.path.join(output_dir, workload.variant.benchmark,
                      f'{stamp}-seed{seed}')
  d, i = base, 1
  while os.path.exists(d):
    i += 1
    d = f'{base}-{i}'
  os.makedirs(d)
  return RunPaths(dir=d, log=os.path.join(d, 'mllog.txt'),
                  metrics=os.path.join(d, 'metrics.json'),
                  plot=os.path.join(d, 'convergence.png'))


def banner(workload: Workload, hp: Mapping[str, Any], opts: loop.RunOptions,
           paths: RunPaths) -> str:
  cfg = workload.variant
  lines = [f'mlperf_jax: {workload.name} at {cfg.scale} scale, '
           f'{opts.division} division, seed {opts.seed}, optimizer '
           f'{hp["opt_name"]}, global batch {workload.global_batch_size(hp)}',
           f'target: {cfg.target.metric} '
           f'{">=" if cfg.target.higher_is_better else "<="} '
           f'{cfg.target.value}; MLLOG: {paths.log}']
  if cfg.scale != 'reference':
    lines.append(f'NOTE: {cfg.scale} scale is a scaled-down model and dataset '
                 'for laptops and CI; it is NOT an MLPerf result.')
  if workload.synthetic:
    lines.append('NOTE: synthetic data: smoke/throughput run, NOT a result.')
  return '\n'.join(lines)


def write(paths: RunPaths, workload: Workload, hp: Mapping[str, Any],
          opts: loop.RunOptions, result: loop.RunResult) -> None:
  data = {
      'workload': workload.name, 'scale': workload.scale,
      'benchmark': workload.variant.benchmark, 'seed': opts.seed,
      'status': result.status, 'reason': result.reason,
      'time_to_train_s': result.time_to_train_s, 'init_s': result.init_s,
      'quality': result.quality, 'steps': result.steps,
      'hparams': dict(hp), 'losses': result.losses,
      'evals': [dataclasses.asdict(e) for e in result.evals],
      # Host seconds of the train loop (input pipeline, waiting on the
      # device) and the input-bound verdict (`runtime/input_stats.py`).
      'input_stats': (None if result.input_stats is None
                      else result.input_stats.as_dict()),
  }
  with open(paths.metrics, 'w') as f:
    json.dump(data, f, indent=1, default=str)
  _plot(paths, workload, result)


def _plot(paths: RunPaths, workload: Workload, result: loop.RunResult) -> None:
  try:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  except ImportError:
    return  # plots are best-effort: a run never fails for lack of them
  fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
  a.plot(range(1, len(result.losses) + 1), result.losses)
  a.set_xlabel('step')
  a.set_ylabel('train loss')
  target = workload.variant.target
  b.plot([e.epoch_num for e in result.evals],
         [e.metrics[target.metric] for e in result.evals], 'o-')
  b.axhline(target.value, color='r', ls='--', label='target')
  b.set_xlabel(f'{progress_label(workload.progress_unit)} (epoch_num)')
  b.set_ylabel(target.metric)
  b.legend()
  fig.suptitle(f'{workload.variant.benchmark}: {result.status}')
  fig.tight_layout()
  fig.savefig(paths.plot, dpi=100)
  plt.close(fig)


def progress_label(unit: str, value: float | None = None) -> str:
  """'epoch 5' / 'epoch' for epochs; '2048 training samples' / 'training
  samples' for a sample unit (BERT's epoch_num counts samples)."""
  if unit == 'epoch':
    return 'epoch' if value is None else f'epoch {value:g}'
  name = 'training samples' if unit == 'samples' else unit
  return name if value is None else f'{value:g} {name}'


def eval_printer(cfg: Variant, unit: str = 'epoch'):
  """A `loop.run` callback printing one progress line per evaluation (its
  time counts from run_start, as time-to-train does)."""

  def on_eval(record: loop.EvalRecord) -> None:
    v = record.metrics[cfg.target.metric]
    when = ('' if record.time_s is None
            else f', {record.time_s:.1f} s since run_start')
    print(f'eval at {progress_label(unit, record.epoch_num)}: '
          f'{cfg.target.metric} = {v:.4f} (target {cfg.target.value}), step '
          f'{record.step}{when}', flush=True)
  return on_eval


def summary(cfg: Variant, result: loop.RunResult, paths: RunPaths) -> str:
  q = 'n/a' if result.quality is None else f'{result.quality:.4f}'
  lines = [
      f'run_stop status: {result.status} ({result.reason})',
      f'time to train: {result.time_to_train_s:.1f} s '
      f'({result.time_to_train_s / 60:.2f} min; init {result.init_s:.1f} s, '
      'untimed)',
      f'quality: {cfg.target.metric} = {q} (target {cfg.target.value}) after '
      f'{result.steps} steps',
  ]
  if result.input_stats is not None and result.input_stats.steps:
    lines.append(result.input_stats.line())
  lines += [
      f'MLLOG log: {paths.log}',
      f'metrics: {paths.metrics}',
  ]
  if os.path.exists(paths.plot):
    lines.append(f'convergence plot: {paths.plot}')
  if cfg.scale != 'reference':
    lines.append(f'({cfg.scale} scale: not an MLPerf result)')
  return '\n'.join(lines)
