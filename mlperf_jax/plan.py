# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.plan --workload bert --system tpu-v4-64`

Predicts per-device memory, step time (compute, memory and communication
roofline) and time-to-train of a workload's reference configuration on a
named system, without any accelerator: the train step is lowered abstractly
on fake CPU devices (compiled too for model-parallel layouts or with
`--compile`) and nothing is allocated; measured costs are cached in
`~/.cache/mlperf_jax/plan/` (`$MLPERF_JAX_PLAN_CACHE`). The method and its
assumptions are in `mlperf_jax/planning/predict.py`; systems in
`mlperf_jax/planning/systems.py`. `--sweep 8,64,512` prints the weak-scaling
curve (per-chip batch fixed) and `--plot` draws it.

Exit codes: 0 done; 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys

from mlperf_jax import workloads
from mlperf_jax.hparams import registry
from mlperf_jax.planning import predict as pr
from mlperf_jax.planning import report
from mlperf_jax.planning import systems


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(
      prog='python -m mlperf_jax.plan', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--workload', required=True, help=', '.join(workloads.names()))
  p.add_argument('--system', required=True, help=systems.names_help())
  p.add_argument('--mesh', default=None, help="e.g. 'data=-1,tensor=4'")
  p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                 help='hyperparameter by MLLOG key, e.g. global_batch_size=')
  p.add_argument('--division', choices=('closed', 'open'), default='closed')
  p.add_argument('--ruleset', default='1.1.0', help='RCPs of this ruleset')
  p.add_argument('--efficiency', type=float, default=None,
                 help='fraction of the roofline reached (default: calibrated '
                 'per benchmark, see planning/predict.py)')
  p.add_argument('--compile', action='store_true',
                 help='compile the step even for a data-parallel layout '
                 '(XLA step temporaries and collectives from the partitioned '
                 'HLO; tens of CPU seconds for a reference model)')
  p.add_argument('--sweep', default=None, metavar='N,N,...',
                 help='chip counts for a weak-scaling curve')
  p.add_argument('--plot', default=None, metavar='PNG',
                 help='with --sweep: where the plot goes')
  args = p.parse_args(argv)
  problems = []
  if args.workload not in workloads.names():
    p.error(f'unknown workload {args.workload!r}; valid: '
            f'{", ".join(workloads.names())}')
  try:
    system = systems.parse_system(args.system)
  except systems.SystemNameError as e:
    problems.append(str(e))
    system = None
  counts = []
  if args.sweep:
    try:
      counts = [int(x) for x in args.sweep.split(',')]
      if any(c < 1 for c in counts):
        raise ValueError
    except ValueError:
      problems.append(f'--sweep {args.sweep!r}: expected chip counts, '
                      'e.g. 8,64,512')
  if args.plot and not args.sweep:
    problems.append('--plot needs --sweep')
  if args.efficiency is not None and not 0 < args.efficiency <= 1:
    problems.append('--efficiency must be in (0, 1]')
  overrides = dict(kv.partition('=')[::2] for kv in args.set)
  wl = workloads.get(args.workload, 'reference', synthetic=True,
                     compute_dtype='bfloat16')
  try:
    hp = wl.resolve_hparams(overrides, division=args.division)
  except registry.HParamError as e:
    problems.extend(e.problems)
  if problems:
    p.error('\n  - '.join(['bad command line:', *problems]))
  # Fake CPU devices for the abstract compile; set before JAX starts.
  if 'jax' not in sys.modules:
    os.environ['JAX_PLATFORMS'] = 'cpu'
    os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' --xla_'
                               f'force_host_platform_device_count='
                               f'{pr.COMPILE_DEVICES}').strip()
  try:
    if counts:
      rows = report.sweep(wl, hp, system, counts, mesh=args.mesh,
                          ruleset=args.ruleset, efficiency=args.efficiency,
                          compile=args.compile)
      print(report.text(rows[0].prediction))
      print(report.sweep_text(rows))
      if args.plot:
        report.sweep_plot(rows, args.plot, f'{args.workload} on '
                          f'{system.chip.name}, per-chip batch fixed')
        print(f'plot: {args.plot}')
    else:
      print(report.text(pr.predict(wl, hp, system, mesh=args.mesh,
                                   ruleset=args.ruleset,
                                   efficiency=args.efficiency,
                                   compile=args.compile)))
  except ValueError as e:
    print(f'plan: {e}', file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main())
