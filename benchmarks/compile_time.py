# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""AOT compile time of each workload's train step, cold and warm cache.

For every workload, two fresh processes build the runtime's sharded,
donated train step ahead of time (`runtime.steps.build(...,
compile_eval=False)`: the init executable and one train-step executable per
shape bucket, as `train` does in its untimed init) with JAX's persistent
compilation cache (`runtime.compilation_cache`) pointed at a new, empty
folder: the first process compiles (cold), the second finds every
executable there (warm). Each reports the CPU seconds (`time.process_time`,
all threads) and wall seconds of the build, and, from JAX's monitoring
events, how the wall time splits into tracing, lowering to StableHLO and the
backend's compile (or, warm, its cache read), and the cache hits and misses.
Process start-up and imports are outside the measurement. CPU seconds are
the figure to compare on a shared machine.

  python benchmarks/compile_time.py [--workloads resnet,bert] [--scale mini]
      [--dtype float32] [--batch N] [--json F]

`--batch N` sets the per-device global batch (`N x devices`, open division,
as `gpu_suite.py` does); by default each variant's own batch.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path.insert(0, _ROOT)
sys.path.insert(1, _HERE)

TRACE = '/jax/core/compile/jaxpr_trace_duration'
LOWER = '/jax/core/compile/jaxpr_to_mlir_module_duration'
BACKEND = '/jax/core/compile/backend_compile_duration'
HITS = '/jax/compilation_cache/cache_hits'
MISSES = '/jax/compilation_cache/cache_misses'


def build_once(name: str, scale: str, dtype: str | None, batch: int | None,
               cache_dir: str) -> dict:
  """Builds `name`'s train step in this process with the persistent cache
  in `cache_dir`; the measurement (see the module docstring)."""
  import jax  # pylint: disable=import-outside-toplevel
  from jax import monitoring  # pylint: disable=import-outside-toplevel
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import compilation_cache  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import loop  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import sharding as shd  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import steps as steps_lib  # pylint: disable=import-outside-toplevel
  import gpu_suite  # pylint: disable=import-outside-toplevel

  compilation_cache.enable(cache_dir)
  kwargs = {'synthetic': True}
  if dtype:
    kwargs['compute_dtype'] = dtype
  wl = workloads.get(name, scale, **kwargs)
  if batch:
    key = gpu_suite._batch_key(wl.resolve_hparams({}))  # pylint: disable=protected-access
    hp = wl.resolve_hparams({key: batch * jax.device_count()},
                            division='open')
  else:
    hp = wl.resolve_hparams({})
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  mesh = shd.make_mesh()
  durations = collections.defaultdict(float)
  counts = collections.Counter()

  def on_duration(event, secs, **_):
    durations[event] += secs

  def on_event(event, **_):
    counts[event] += 1

  monitoring.register_event_duration_secs_listener(on_duration)
  monitoring.register_event_listener(on_event)
  c0, t0 = time.process_time(), time.perf_counter()
  compiled = steps_lib.build(wl, tx, hp, mesh, compile_eval=False)
  cpu, wall = time.process_time() - c0, time.perf_counter() - t0
  return {'workload': name, 'scale': scale,
          'dtype': dtype or 'default', 'devices': jax.device_count(),
          'device_kind': jax.devices()[0].device_kind,
          'global_batch': wl.global_batch_size(hp),
          'executables': 1 + len(compiled.train_step.executables),
          'cpu_s': cpu, 'wall_s': wall, 'trace_s': durations[TRACE],
          'lower_s': durations[LOWER], 'backend_s': durations[BACKEND],
          'cache_hits': counts[HITS], 'cache_misses': counts[MISSES]}


def _child(name: str, args, cache_dir: str, timeout_s: float) -> dict:
  with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as f:
    out = f.name
  cmd = [sys.executable, os.path.abspath(__file__), '--child', name,
         '--cache-dir', cache_dir, '--scale', args.scale, '--result', out]
  if args.dtype:
    cmd += ['--dtype', args.dtype]
  if args.batch:
    cmd += ['--batch', str(args.batch)]
  try:
    p = subprocess.run(cmd, cwd=_ROOT, capture_output=True, text=True,
                       timeout=max(1.0, timeout_s), check=False)
    if p.returncode:
      tail = (p.stdout + p.stderr).strip().splitlines()[-5:]
      return {'workload': name, 'status': 'error', 'log_tail': tail}
    with open(out) as f:
      return {**json.load(f), 'status': 'ok'}
  except subprocess.TimeoutExpired:
    return {'workload': name, 'status': 'timeout'}
  finally:
    os.unlink(out)


def measure(names, args) -> list[dict]:
  """Cold then warm, per workload, each in a fresh process; the pair gets
  `args.timeout_s`, the cold build up to three quarters of it."""
  rows = []
  for name in names:
    with tempfile.TemporaryDirectory(prefix='jax_cache_') as cache:
      row = {'workload': name}
      t0 = time.perf_counter()
      for state in ('cold', 'warm'):
        load = os.getloadavg()[0]
        left = args.timeout_s - (time.perf_counter() - t0)
        r = _child(name, args, cache,
                   0.75 * left if state == 'cold' else left)
        r['load'] = load
        row[state] = r
        if r['status'] != 'ok':
          break
      rows.append(row)
      print(line(row), flush=True)
  return rows


def line(row: dict) -> str:
  parts = [row['workload']]
  for state in ('cold', 'warm'):
    r = row.get(state)
    if r is None:
      continue
    if r['status'] != 'ok':
      parts.append(f"{state}: {r['status']} {r.get('log_tail', '')}")
      continue
    parts.append(
        f"{state}: {r['cpu_s']:.1f} CPU-s / {r['wall_s']:.1f} s wall (trace "
        f"{r['trace_s']:.1f}, lower {r['lower_s']:.1f}, backend "
        f"{r['backend_s']:.1f}; cache {r['cache_hits']} hits, "
        f"{r['cache_misses']} misses; load {r['load']:.1f})")
  return '; '.join(parts)


def table(rows: list[dict]) -> str:
  out = ['| workload | batch | cold CPU s | cold wall s | cold backend s | '
         'warm CPU s | warm wall s | warm backend s | warm cache hits/misses '
         '| load |', '|---|---|---|---|---|---|---|---|---|---|']
  for row in rows:
    c, w = row.get('cold', {}), row.get('warm', {})
    if c.get('status') != 'ok' or w.get('status') != 'ok':
      out.append(f"| {row['workload']} | | {c.get('status')} | | | "
                 f"{w.get('status')} | | | | |")
      continue
    out.append(
        f"| {row['workload']} | {c['global_batch']} | {c['cpu_s']:.1f} | "
        f"{c['wall_s']:.1f} | {c['backend_s']:.1f} | {w['cpu_s']:.1f} | "
        f"{w['wall_s']:.1f} | {w['backend_s']:.1f} | {w['cache_hits']}/"
        f"{w['cache_misses']} | {c['load']:.1f}-{w['load']:.1f} |")
  return '\n'.join(out)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--workloads', default=None,
                 help='comma-separated (default: every registered one)')
  p.add_argument('--scale', default='mini', choices=('mini', 'reference'))
  p.add_argument('--dtype', default=None, help='compute dtype, e.g. bfloat16')
  p.add_argument('--batch', type=int, default=None,
                 help='per-device global batch (default: the variant\'s)')
  p.add_argument('--timeout-s', type=float, default=1200,
                 help='wall seconds for each workload\'s cold + warm pair')
  p.add_argument('--json', help='write the results here')
  p.add_argument('--child', help=argparse.SUPPRESS)
  p.add_argument('--cache-dir', help=argparse.SUPPRESS)
  p.add_argument('--result', help=argparse.SUPPRESS)
  args = p.parse_args(argv)
  if args.child:
    r = build_once(args.child, args.scale, args.dtype, args.batch,
                   args.cache_dir)
    with open(args.result, 'w') as f:
      json.dump(r, f)
    return 0
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  known = workloads.names()
  names = args.workloads.split(',') if args.workloads else [
      n for n in known if args.scale in workloads.get_class(n).variants]
  bad = [n for n in names if n not in known or
         args.scale not in workloads.get_class(n).variants]
  if bad or (args.batch is not None and args.batch < 1):
    print(f'error: no {args.scale} variant for {bad} (registered: '
          f'{", ".join(known)})' if bad else 'error: --batch must be >= 1',
          file=sys.stderr)
    return 2
  t0 = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
  rows = measure(names, args)
  print(table(rows))
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'date': t0, 'scale': args.scale, 'rows': rows}, f, indent=1)
  return 0 if all(r.get('warm', {}).get('status') == 'ok' for r in rows) else 1


if __name__ == '__main__':
  sys.exit(main())
