# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""One-shot accelerator suite (run through benchmarks/gpu_suite.sh).

Each item runs in its own process under a share of the time budget (a
failure or a hang in one is recorded and the suite goes on):

* `step:<workload>` for every registered workload with a reference
  variant: the project's own AOT-compiled, donated reference train step in
  bfloat16 on synthetic data at a per-chip batch (`GPU_BATCH`), median step
  time -> samples/s, FLOPs from XLA's cost analysis, MFU against the chip's
  dense bf16 peak (`peaks.ACCELERATOR_BF16_PEAK`).
* `pipeline`: the training input pipelines of ResNet-50 (ImageNet JPEG),
  SSD and Mask R-CNN (COCO JPEG) and RNN-T (LibriSpeech flac) in one worker
  process per host core (up to 16), `pipeline_throughput.py`: items/s per
  core (CPU time), the aggregate items/s, and the cores that would feed
  8,000 img/s (the ResNet goal), 1,000 img/s and the published per-A100
  rates.
* `loadgen`: the reference ResNet-50 (bf16) served by `serving.BatchingSUT`
  through pyloadgen on synthetic 224x224 samples: Offline samples/s and the
  highest VALID Server QPS (p99 <= 15 ms plus early stopping).
* `pytest-gpu`: `pytest -m gpu` (tests that need a GPU).
* `compile`: `compile_time.py`: the bf16 reference ResNet-50 train step
  compiled ahead of time with an empty, then a filled, persistent
  compilation cache (CPU and wall seconds of each).

Results: `<out>/results.json` and `<out>/results.md` (a table). `--dry` runs
the same code on CPU at tiny size (mini variants, batch 8, a few images,
short LoadGen runs), which tests/benchmarks/test_gpu_suite.py exercises.

  benchmarks/gpu_suite.sh OUT_DIR [--dry] [--items step:resnet,pipeline]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path.insert(0, _ROOT)
sys.path.insert(1, _HERE)

WORKLOAD_ORDER = ('resnet', 'bert', 'dlrm', 'ssd', 'maskrcnn', 'unet3d',
                  'rnnt', 'minigo')
# Per-chip global batches on one H200 (bf16): the per-accelerator batches
# of the v1.x closed submissions on 80 GB parts, rounded.
GPU_BATCH = {'resnet': 256, 'bert': 32, 'dlrm': 32768, 'ssd': 32,
             'maskrcnn': 4, 'unet3d': 2, 'rnnt': 64, 'minigo': 256}
DRY_BATCH = 8
# Published per-chip goals of the issue (samples/s on 1x H200).
GOALS = {'resnet': 8000, 'bert': 1000}
# Seconds each item may use at most (the suite's budget caps them too).
ITEM_LIMIT_S = {'step': 150, 'pipeline': 120, 'loadgen': 120,
                'pytest-gpu': 120, 'compile': 240}
SUITE_BUDGET_S = 480


# ---- items (each runs in a child process) ---------------------------------

def _batch_key(hp) -> str:
  for key in ('global_batch_size', 'train_batch_size'):
    if key in hp:
      return key
  raise KeyError(f'no batch-size hyperparameter among {sorted(hp)}')


def run_step(name: str, dry: bool) -> dict:
  import jax  # pylint: disable=import-outside-toplevel
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import loop  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import sharding as shd  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import steps as steps_lib  # pylint: disable=import-outside-toplevel
  import peaks  # pylint: disable=import-outside-toplevel
  import step_timing  # pylint: disable=import-outside-toplevel

  scale = 'mini' if dry else 'reference'
  wl = workloads.get(name, scale, synthetic=True, compute_dtype='bfloat16')
  key = _batch_key(wl.resolve_hparams({}))
  batch = DRY_BATCH if dry else GPU_BATCH[name]
  hp = wl.resolve_hparams({key: batch * jax.device_count()}, division='open')
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  t = time.perf_counter()
  compiled = steps_lib.build(wl, tx, hp, shd.make_mesh(), compile_eval=False)
  compile_s = time.perf_counter() - t
  flops = step_timing.step_flops(compiled)
  step_s, _ = step_timing.time_train_step(compiled, wl, hp, 2 if dry else 10)
  dev = jax.devices()[0]
  peak = peaks.accelerator_bf16_peak(dev.device_kind)
  if peak is None and dev.platform == 'cpu':
    peak = peaks.cpu_peak().flops('bfloat16')
  peak = (peak or float('nan')) * jax.device_count()
  samples = wl.global_batch_size(hp)
  return {'workload': name, 'scale': scale, 'dtype': 'bfloat16',
          'global_batch': samples, 'compile_s': compile_s, 'step_s': step_s,
          'samples_per_s': samples / step_s, 'flops_per_step': flops,
          'achieved_flops': flops / step_s, 'peak_bf16_flops': peak,
          'mfu': flops / step_s / peak, 'goal_samples_per_s': GOALS.get(name)}


def run_pipeline(dry: bool) -> dict:
  import pipeline_throughput  # pylint: disable=import-outside-toplevel
  if dry:  # in this process, one tiny batch per pipeline
    return pipeline_throughput.run(items=2, batch=2, workers=0,
                                   decode_min_cpu_s=0.01, n_images=4,
                                   n_utterances=2, verbose=False)
  return pipeline_throughput.run(items=64, batch=8,
                                 workers=min(16, os.cpu_count() or 1),
                                 decode_min_cpu_s=0.3, verbose=False)


def run_compile(dry: bool) -> dict:
  import compile_time  # pylint: disable=import-outside-toplevel
  name = 'dlrm' if dry else 'resnet'
  args = argparse.Namespace(
      scale='mini' if dry else 'reference', dtype='bfloat16',
      batch=DRY_BATCH if dry else GPU_BATCH[name],
      timeout_s=ITEM_LIMIT_S['compile'] - 15)
  return {'rows': compile_time.measure([name], args)}


def run_loadgen(dry: bool) -> dict:
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  import loadgen_serving  # pylint: disable=import-outside-toplevel

  scale = 'mini' if dry else 'reference'
  wl = workloads.get('resnet', scale, synthetic=True, compute_dtype='bfloat16')
  shape = wl.variant.extra['image_shape']
  count = 64 if dry else 1024
  images = np.random.default_rng(0).standard_normal(
      (16, *shape)).astype(np.float32)
  buckets = ({'Offline': (8,), 'Server': (1, 4)} if dry else
             {'Offline': (256,), 'Server': (1, 8, 32)})
  extra = dict(wl.variant.extra, inference_count=count,
               inference_buckets=buckets,
               inference_data=lambda _: (
                   count, lambda i: {'image': images[int(i) % 16]},
                   lambda i: 0))
  # This instance's variant serves synthetic samples (no ImageNet needed).
  wl.variants = {**wl.variants,
                 scale: dataclasses.replace(wl.variant, extra=extra)}
  hp = wl.resolve_hparams({})
  params, model_state = jax.jit(lambda r: wl.init(r, hp))(
      jax.random.PRNGKey(0))
  spec = wl.inference()
  bench = loadgen_serving.Bench(spec, params, model_state, max_wait_ms=2.0,
                                loadgens=('python',))
  dur = 300 if dry else 4000
  try:
    off = loadgen_serving.offline_rate(bench, 'python', 100 if dry else 20000,
                                       dur)
    rate = off['result_samples_per_second']
    qps, best = loadgen_serving.server_peak(
        bench, 'python', max(50.0, round(rate / 4, -1)), dur,
        max_runs=2 if dry else 6, retries=0)
  finally:
    bench.close()
  return {'model': f'resnet {scale} bf16', 'loadgen': 'pyloadgen',
          'offline_samples_per_s': rate,
          'offline_validity': off['result_validity'],
          'server_max_valid_qps': qps,
          'server_p99_ms': (best['result_99.00_percentile_latency_ns'] / 1e6
                            if best else None),
          'buckets': {k: list(v) for k, v in buckets.items()},
          'duration_ms': dur}


def run_pytest_gpu(dry: bool) -> dict:
  cmd = [sys.executable, '-m', 'pytest', '-q', '-m', 'gpu',
         '-p', 'no:cacheprovider', 'tests']
  if dry:
    cmd += ['--collect-only']
  p = subprocess.run(cmd, cwd=_ROOT, capture_output=True, text=True,
                     check=False)
  tail = (p.stdout + p.stderr).strip().splitlines()[-15:]
  # pytest: 0 all passed, 5 nothing selected (no GPU test exists yet).
  return {'command': ' '.join(cmd[1:]), 'returncode': p.returncode,
          'ok': p.returncode in (0, 5), 'tail': tail}


def run_item(item: str, dry: bool) -> dict:
  kind, _, arg = item.partition(':')
  if kind == 'step':
    return run_step(arg, dry)
  return {'pipeline': run_pipeline, 'loadgen': run_loadgen,
          'pytest-gpu': run_pytest_gpu, 'compile': run_compile}[kind](dry)


# ---- the driver -----------------------------------------------------------

def default_items() -> list[str]:
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  names = [n for n in WORKLOAD_ORDER if n in workloads.names()]
  names += [n for n in workloads.names() if n not in names]
  names = [n for n in names
           if 'reference' in workloads.get_class(n).variants]
  # The published-goal steps first, then the input and serving checks and
  # the GPU-only tests, then the other workloads (the budget skips the last
  # ones first, then the compile-time check).
  first = [f'step:{n}' for n in names if n in ('resnet', 'bert', 'dlrm')]
  rest = [f'step:{n}' for n in names if n not in ('resnet', 'bert', 'dlrm')]
  return first + ['pipeline', 'loadgen', 'pytest-gpu'] + rest + ['compile']


def _load() -> float:
  return round(os.getloadavg()[0], 2)


def _child(item: str, dry: bool, path: str, limit_s: float) -> dict:
  cmd = [sys.executable, os.path.abspath(__file__), '--child', item,
         '--result', path] + (['--dry'] if dry else [])
  env = dict(os.environ)
  if dry:
    env.setdefault('JAX_PLATFORMS', 'cpu')
  t = time.perf_counter()
  load0 = _load()
  try:
    p = subprocess.run(cmd, cwd=_ROOT, env=env, capture_output=True,
                       text=True, timeout=limit_s, check=False)
    rc, out = p.returncode, p.stdout + p.stderr
  except subprocess.TimeoutExpired as e:
    rc = 'timeout'
    out = ((e.stdout or b'').decode(errors='replace') if isinstance(
        e.stdout, bytes) else (e.stdout or ''))
  r = {'item': item, 'wall_s': round(time.perf_counter() - t, 1),
       'load_before': load0, 'load_after': _load()}
  if rc == 0 and os.path.exists(path):
    with open(path) as f:
      r.update(status='ok', result=json.load(f))
  else:
    r.update(status='timeout' if rc == 'timeout' else 'error',
             returncode=rc, log_tail=out.strip().splitlines()[-12:])
  return r


def _fmt(v, spec=',.1f'):
  return '-' if v is None else format(v, spec)


def table(summary: dict) -> str:
  lines = [f"# mlperf_jax accelerator suite ({summary['date']}"
           f"{', DRY (CPU, tiny)' if summary['dry'] else ''})", '',
           f"Device: {summary['device']}; jax {summary['jax']}; host "
           f"{summary['host_cores']} cores; load {summary['load_before']} -> "
           f"{summary['load_after']}; total {summary['wall_s']:.0f} s.", '',
           '| Step (bf16) | batch | step ms | samples/s | goal | GFLOP/step '
           '| MFU | compile s | status |', '|---|---|---|---|---|---|---|---|---|']
  other = []
  for r in summary['items']:
    res = r.get('result', {})
    if r['item'].startswith('step:'):
      if r['status'] == 'ok':
        lines.append(
            f"| {res['workload']} ({res['scale']}) | {res['global_batch']} | "
            f"{1e3 * res['step_s']:.2f} | {res['samples_per_s']:,.1f} | "
            f"{_fmt(res['goal_samples_per_s'], ',')} | "
            f"{res['flops_per_step'] / 1e9:,.1f} | {100 * res['mfu']:.1f} % | "
            f"{res['compile_s']:.1f} | ok |")
      else:
        why = (r.get('log_tail') or [''])[-1][:80]
        lines.append(f"| {r['item'][5:]} | | | | | | | | {r['status']}"
                     f"{': ' + why if why else ''} |")
    else:
      other.append(r)
  for r in other:
    res = r.get('result', {})
    lines.append('')
    if r['status'] != 'ok':
      why = (r.get('log_tail') or [''])[-1][:120]
      lines.append(f"{r['item']}: {r['status']}{' (' + why + ')' if why else ''}")
    elif r['item'] == 'pipeline':
      lines.append(f"Input pipelines (load {res['load_before']:.1f} -> "
                   f"{res['load_after']:.1f}):")
      for p in res['pipelines'].values():
        u = p['unit']
        feeds = '; '.join(f"{f['rate']:,.0f} {u}/s ({f['source']}): "
                          f"{f['cores']:.1f}" for f in p['feeds'])
        lines.append(
            f"- {p['pipeline']}: {p['items_per_cpu_s']:,.1f} {u}/s per core, "
            f"{p['wall_items_per_s']:,.0f} {u}/s on {p['workers']} "
            f"process(es); cores to feed {feeds}")
    elif r['item'] == 'loadgen':
      lines.append(
          f"LoadGen ({res['loadgen']}, {res['model']}): Offline "
          f"{res['offline_samples_per_s']:,.0f} samples/s "
          f"({res['offline_validity']}); Server max VALID "
          f"{res['server_max_valid_qps']:,.0f} QPS (p99 "
          f"{_fmt(res['server_p99_ms'], '.2f')} ms).")
    elif r['item'] == 'pytest-gpu':
      lines.append(f"`{res['command']}`: exit {res['returncode']} "
                   f"({(res['tail'] or [''])[-1]}).")
    elif r['item'] == 'compile':
      lines.append('Compile time, cold / warm persistent cache:')
      for row in res['rows']:
        c, w = row.get('cold', {}), row.get('warm', {})
        if c.get('status') == 'ok' and w.get('status') == 'ok':
          lines.append(f"- {row['workload']} ({c['scale']}, batch "
                       f"{c['global_batch']}): cold {c['wall_s']:.1f} s "
                       f"({c['cpu_s']:.1f} CPU-s), warm {w['wall_s']:.1f} s "
                       f"({w['cpu_s']:.1f} CPU-s)")
        else:
          lines.append(f"- {row['workload']}: cold {c.get('status')}, warm "
                       f"{w.get('status')}")
  return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--out', help='output folder (results.json, results.md)')
  p.add_argument('--dry', action='store_true',
                 help='same code paths on CPU at tiny size')
  p.add_argument('--items', default=None,
                 help='comma-separated subset, e.g. step:resnet,pipeline')
  p.add_argument('--budget-s', type=float, default=SUITE_BUDGET_S)
  p.add_argument('--child', help=argparse.SUPPRESS)
  p.add_argument('--result', help=argparse.SUPPRESS)
  args = p.parse_args(argv)
  if args.child:
    r = run_item(args.child, args.dry)
    with open(args.result, 'w') as f:
      json.dump(r, f, indent=1, default=str)
    return 0
  if not args.out:
    p.error('give the output folder: gpu_suite.sh OUT_DIR')
  items = args.items.split(',') if args.items else default_items()
  known = set(default_items()) | {'pipeline', 'loadgen', 'pytest-gpu',
                                   'compile'}
  bad = [i for i in items if i not in known]
  if bad:
    print(f'error: unknown items {bad}; valid: {sorted(known)}',
          file=sys.stderr)
    return 2
  os.makedirs(args.out, exist_ok=True)
  t0 = time.perf_counter()
  summary = {'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
             'dry': args.dry, 'host_cores': os.cpu_count(),
             'load_before': _load(), 'items': []}
  for i, item in enumerate(items):
    left = args.budget_s - (time.perf_counter() - t0)
    # Keep a little for each item still to come.
    limit = min(ITEM_LIMIT_S[item.partition(':')[0]],
                left - 10 * (len(items) - i - 1))
    if limit < 10:
      summary['items'].append({'item': item, 'status': 'skipped (budget)'})
      continue
    print(f'[{time.perf_counter() - t0:5.0f} s] {item} (limit {limit:.0f} s)',
          flush=True)
    r = _child(item, args.dry, os.path.join(args.out, f'{item.replace(":", "_")}.json'),
               limit)
    print(f'        {r["status"]} in {r["wall_s"]} s', flush=True)
    summary['items'].append(r)
  summary.update(wall_s=time.perf_counter() - t0, load_after=_load())
  summary.update(_device_info(args.dry))
  with open(os.path.join(args.out, 'results.json'), 'w') as f:
    json.dump(summary, f, indent=1, default=str)
  text = table(summary)
  with open(os.path.join(args.out, 'results.md'), 'w') as f:
    f.write(text)
  print(text)
  return 0


def _device_info(dry: bool) -> dict:
  env = dict(os.environ, **({'JAX_PLATFORMS': 'cpu'} if dry else {}))
  code = ('import jax; d = jax.devices(); print(jax.__version__); '
          'print(f"{len(d)}x {d[0].device_kind} ({d[0].platform})")')
  p = subprocess.run([sys.executable, '-c', code], env=env,
                     capture_output=True, text=True, check=False)
  lines = p.stdout.strip().splitlines()
  return {'jax': lines[0] if lines else '?',
          'device': lines[1] if len(lines) > 1 else '?'}


if __name__ == '__main__':
  sys.exit(main())
