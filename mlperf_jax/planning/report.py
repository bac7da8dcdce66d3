# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The text of a prediction, a scaling sweep, and its plot."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from mlperf_jax.planning import predict as pr
from mlperf_jax.planning import systems


def _gib(n: float) -> str:
  return f'{n / 2**30:.2f} GiB'


def _ms(s: float) -> str:
  return f'{s * 1e3:.2f} ms'


def text(p: pr.Prediction) -> str:
  c, chip = p.cost, p.system.chip
  mesh = ', '.join(f'{k}={v}' for k, v in p.mesh.items())
  cm = ', '.join(f'{k}={v}' for k, v in c.compile_mesh.items())
  kinds: dict[str, float] = {}
  for x in c.collectives:
    if x.axes:
      kinds[x.kind] = kinds.get(x.kind, 0) + x.bytes
  lines = [
      f'system: {p.system.name} ({p.system.chips} x {chip.name}, '
      f'{p.system.nodes} node(s)); mesh {mesh}; global batch '
      f'{p.global_batch_size} ({c.per_device_batch} per batch shard)',
      f'parameters: {c.param_count:,}; compiled on {cm} fake CPU devices '
      '(per-device work equals the target\'s)',
      f'per-device memory: train state {_gib(c.state_bytes)} + ' + (
          f'step temporaries {_gib(c.temp_bytes)} (XLA:CPU buffer assignment)'
          if c.temp_bytes is not None else
          'step temporaries (not computed: pass --compile)') +
      f' vs HBM {_gib(chip.hbm_bytes)}: ' + (
          'fits' if p.fits else 'DOES NOT FIT'),
      f'per-device step: {c.flops:.4g} FLOPs (' + (
          f'{c.bytes_accessed:.4g} bytes by XLA:CPU fusion, not used for '
          'time; collectives from the partitioned HLO' if c.compiled else
          'cost analysis of the lowered step; gradient all-reduce from the '
          'parameters, data-parallel layout') + '); '
      'collectives: ' + (', '.join(f'{k} {_gib(v)}' for k, v in
                                    sorted(kinds.items())) or 'none'),
      f'step time: compute {_ms(p.compute_s)} (roofline / efficiency '
      f'{p.efficiency:.2f}), gradient reduction {_ms(p.data_comm_s)} '
      f'(overlapped), other collectives {_ms(p.other_comm_s)} -> '
      f'{_ms(p.step_s)}, {p.bound}-bound; '
      f'{p.global_batch_size / p.step_s:,.0f} samples/s',
      (f'convergence: {p.conv.mean_epoch_num:.4g} generations '
       f'({p.conv.how.format(round="v" + p.conv.ruleset[:3])}) -> self-play '
       f'{p.selfplay_s / 60:.1f} min, {p.steps:,} train steps, {p.evals} '
       f'evaluations ({p.eval_s / 60:.1f} min)' if pr.is_selfplay_conv(p.conv)
       else
       f'convergence: RCP ({p.conv.ruleset}, {p.conv.how}) mean epoch_num '
       f'{p.conv.mean_epoch_num:.4g} at batch {p.global_batch_size} -> '
       f'{p.steps:,} steps, {p.evals} evaluations ({p.eval_s:.1f} s)'),
      f'predicted time-to-train: {p.time_to_train_s / 60:.2f} min',
  ]
  return '\n'.join(lines)


@dataclasses.dataclass(frozen=True)
class SweepRow:
  chips: int
  prediction: pr.Prediction
  efficiency: float   # chip-minutes of the first row / chip-minutes here


def sweep(workload, hp: Mapping[str, Any], system: systems.System,
          chip_counts: Sequence[int], *, mesh: str | None, ruleset: str,
          efficiency: float | None, compile: bool = False,  # pylint: disable=redefined-builtin
          ) -> list[SweepRow]:
  """Weak scaling: the per-chip batch of `hp` kept, the global batch grows
  with the chips, the epochs to converge follow the RCPs. The step is
  compiled once (the per-device work is the same at every size)."""
  key = pr.batch_key(workload)
  per_chip = int(hp[key]) / system.chips
  cost = None
  rows = []
  for n in chip_counts:
    s = systems.with_chips(system, n)
    h = dict(hp)
    h[key] = int(round(per_chip * n))
    if cost is None:
      cost = pr.step_cost(workload, h, pr.target_mesh(mesh, n), h[key],
                          compile=compile)
    p = pr.predict(workload, h, s, mesh=mesh, ruleset=ruleset,
                   efficiency=efficiency, cost=cost)
    rows.append(p)
  first = rows[0]
  ref = first.time_to_train_s * first.system.chips
  return [SweepRow(chips=p.system.chips, prediction=p,
                   efficiency=ref / (p.time_to_train_s * p.system.chips))
          for p in rows]


def sweep_text(rows: Sequence[SweepRow]) -> str:
  lines = ['chips  global batch  step (ms)  epoch_num  steps  '
           'time-to-train (min)  scaling efficiency']
  for r in rows:
    p = r.prediction
    lines.append(f'{r.chips:>5}  {p.global_batch_size:>12}  '
                 f'{p.step_s * 1e3:>9.2f}  {p.conv.mean_epoch_num:>9.4g}  '
                 f'{p.steps:>5}  {p.time_to_train_s / 60:>19.3f}  '
                 f'{r.efficiency:>18.2f}')
  return '\n'.join(lines)


def sweep_plot(rows: Sequence[SweepRow], path: str, title: str) -> None:
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  chips = [r.chips for r in rows]
  fig, ax = plt.subplots(1, 2, figsize=(10, 4))
  ax[0].loglog(chips, [r.prediction.time_to_train_s / 60 for r in rows], 'o-')
  ax[0].set_xlabel('chips')
  ax[0].set_ylabel('predicted time-to-train (min)')
  ax[1].semilogx(chips, [r.efficiency for r in rows], 'o-')
  ax[1].set_xlabel('chips')
  ax[1].set_ylabel('scaling efficiency (chip-minutes)')
  ax[1].set_ylim(0, 1.05)
  fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
