# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.infer --workload resnet --scenario Offline ...`

Serves a workload's model through a LoadGen (the project's Python LoadGen or
the official C++ one) and writes the official log files into --output-dir.
At the mini scale, with no --checkpoint, the mini model is trained on the fly
first (seconds); a mini result is not an MLPerf result. Accuracy mode ends
with the workload's accuracy script. Every test writes a fresh directory
(default: inference_logs/<benchmark>-<scenario>-<mode>-<time>); an
--output-dir that already holds LoadGen logs is refused, never overwritten.
Exit codes: 0 done (and VALID in performance mode); 1 INVALID; 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from mlperf_jax import api
from mlperf_jax.cli import checks
from mlperf_jax.cli import options as cli_options

SCENARIOS = ('SingleStream', 'MultiStream', 'Server', 'Offline')
# Test settings of scales that are not results (mini): short runs that still
# exercise every scenario. The Server bound is loose (200 ms at the 99th
# percentile) so that a mini run stays VALID on a shared 2-core machine: in
# CI, with a second test worker busy, the mini ResNet's p99 reached 65 ms.
_MINI_SETTINGS = {
    'min_duration_ms': 2000, 'min_query_count': 64,
    'offline_expected_qps': 60000.0, 'server_target_qps': 500.0,
    'server_target_latency_ns': 200_000_000,
    'single_stream_expected_latency_ns': 200_000,
    'multi_stream_expected_latency_ns': 600_000,
}


def _parser() -> argparse.ArgumentParser:
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  p = argparse.ArgumentParser(prog='python -m mlperf_jax.infer',
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--workload', required=True, metavar='NAME',
                 help='workload with an inference model: '
                 f'{", ".join(serving_workloads(workloads))}')
  p.add_argument('--scenario', choices=SCENARIOS, default='Offline')
  p.add_argument('--mode', choices=('performance', 'accuracy'),
                 default='performance')
  p.add_argument('--scale', choices=('mini', 'reference'), default='mini')
  p.add_argument('--data-dir', help='dataset directory (reference scale)')
  p.add_argument('--checkpoint', help='final parameters saved by train')
  p.add_argument('--user-conf', help='LoadGen user.conf (official keys)')
  p.add_argument('--loadgen', choices=('python', 'official'), default='python')
  p.add_argument('--output-dir', default=None,
                 help='where the LoadGen logs go: a new or empty directory '
                 '(default: a fresh one under inference_logs/)')
  p.add_argument('--precision', choices=('fp32', 'bf16', 'int8'),
                 default='fp32',
                 help='serving precision; int8: post-training quantization '
                 "calibrated on the workload's fixed calibration list")
  p.add_argument('--tensor-parallel', type=int, default=1, metavar='N',
                 help='split the served model over N devices (attention '
                 'heads and MLP width: Megatron-style tensor parallelism; '
                 'N divides the device count; BERT)')
  p.add_argument('--results-dir',
                 help='write the logs into the official results tree under '
                 'this directory (results/<system>/<benchmark>/<scenario>/'
                 'performance/run_1 or accuracy); overrides --output-dir')
  p.add_argument('--audit', choices=('TEST01', 'TEST04-A', 'TEST04-B',
                                      'TEST05'),
                 help='run a compliance audit (performance mode with its '
                 'audit.config) into the results tree\'s compliance/ '
                 'directory and verify it against the submission runs '
                 '(needs --results-dir)')
  p.add_argument('--system', default='mlperf_jax_cpu',
                 help='system name of the results tree')
  p.add_argument('--max-wait-ms', type=float, default=2.0,
                 help='Server: longest wait for a batch to fill')
  return p


def _loadgen(kind: str):
  if kind == 'official':
    import mlperf_loadgen  # pylint: disable=import-outside-toplevel
    return mlperf_loadgen
  from mlperf_jax.loadgen import pyloadgen  # pylint: disable=import-outside-toplevel
  return pyloadgen


def serving_workloads(workloads) -> list[str]:
  """Workloads that have an inference model (`Workload.inference`)."""
  return [n for n in workloads.all_names()
          if workloads.get_class(n).inference is not api.Workload.inference]


def _log_files(d: str) -> list[str]:
  return sorted(n for n in os.listdir(d) if n.startswith('mlperf_log_')) if (
      os.path.isdir(d)) else []


def _problems(args, workloads) -> list[str]:
  """Every problem with the request, found before anything is trained."""
  if args.workload not in workloads.all_names():
    return [f'unknown workload {args.workload!r}; valid workloads: '
            f'{", ".join(serving_workloads(workloads))}']
  if args.workload not in serving_workloads(workloads):
    return [f'workload {args.workload!r} has no inference model yet; '
            f'infer serves: {", ".join(serving_workloads(workloads))}']
  variant = workloads.get_class(args.workload).variants.get(args.scale)
  if variant is None:
    return [f'workload {args.workload!r} has no scale {args.scale!r}']
  problems, needs = [], []
  if variant.is_result and not args.checkpoint:
    needs.append('--checkpoint (trained parameters)')
  if variant.needs_data_dir and not args.data_dir:
    needs.append('--data-dir (the inference data set)')
  if needs:
    problems.append(f'--scale {args.scale} needs {" and ".join(needs)}')
  if args.data_dir and not os.path.isdir(args.data_dir):
    problems.append(f'--data-dir {args.data_dir!r} is not a directory')
  if args.checkpoint and not (os.path.exists(args.checkpoint) or
                              os.path.isfile(args.checkpoint + '.index')):
    problems.append(f'--checkpoint {args.checkpoint!r} does not exist (give '
                    'the final_params directory of a train run, or a TF '
                    'checkpoint prefix where the workload reads one)')
  if args.audit and (args.mode != 'performance' or not args.results_dir):
    problems.append(f'--audit {args.audit} runs in --mode performance and '
                    'verifies against the submission runs of --results-dir: '
                    'give both')
  problems += _tensor_parallel_problems(args, workloads)
  if args.max_wait_ms < 0 or args.max_wait_ms != args.max_wait_ms:
    problems.append(f'--max-wait-ms {args.max_wait_ms} must be >= 0')
  if args.user_conf:
    problems += _user_conf_problems(args.user_conf)
  if args.output_dir:
    dir_problem = checks.writable_dir_problem('--output-dir', args.output_dir)
    if dir_problem:
      problems.append(dir_problem)
    elif _log_files(args.output_dir):
      problems.append(
          f'--output-dir {args.output_dir!r} already holds LoadGen logs '
          f'({", ".join(_log_files(args.output_dir)[:3])}); they are never '
          'overwritten: choose a new directory (or omit --output-dir for a '
          'fresh one)')
  return problems


def _tensor_parallel_problems(args, workloads) -> list[str]:
  """--tensor-parallel problems known before JAX starts (the device count
  and the split dimensions are checked when the model is placed)."""
  n = args.tensor_parallel
  if n < 1:
    return [f'--tensor-parallel {n} must be >= 1']
  if n == 1:
    return []
  cls = workloads.get_class(args.workload)
  if cls.serving_param_axes is api.Workload.serving_param_axes:
    able = [w for w in serving_workloads(workloads)
            if workloads.get_class(w).serving_param_axes
            is not api.Workload.serving_param_axes]
    return [f'--tensor-parallel {n}: workload {args.workload!r} has no '
            f'tensor-parallel serving (supported: {", ".join(able)}); use '
            '--tensor-parallel 1']
  if args.precision == 'int8':
    return [f'--tensor-parallel {n} serves fp32 or bf16 parameters; '
            '--precision int8 runs on one device (use --tensor-parallel 1)']
  return []


def _user_conf_problems(path: str) -> list[str]:
  """A user.conf that cannot be read or has malformed lines, found before
  the model is trained (the LoadGen's own parser reads it again later)."""
  if not os.path.isfile(path):
    return [f'--user-conf {path!r} is not a file']
  from mlperf_jax.loadgen import settings  # pylint: disable=import-outside-toplevel
  try:
    with open(path, encoding='utf-8') as f:
      settings.parse_conf(f.read(), path)
  except (OSError, UnicodeDecodeError) as e:
    return [f'--user-conf {path!r} cannot be read: {e}']
  except settings.ConfigError as e:
    return [f'--user-conf: {e}']
  return []


def fresh_output_dir(workload, scenario: str, mode: str) -> str:
  """inference_logs/<benchmark>-<scenario>-<mode>-<time>[-k], new."""
  stamp = time.strftime('%Y%m%d-%H%M%S')
  base = os.path.join('inference_logs', f'{workload.variant.benchmark}-'
                      f'{scenario}-{mode}-{stamp}')
  d, k = base, 1
  while os.path.exists(d):
    k += 1
    d = f'{base}-{k}'
  return d


def main(argv: list[str] | None = None) -> int:
  p = _parser()
  args = p.parse_args(argv)
  from mlperf_jax.runtime import compilation_cache  # pylint: disable=import-outside-toplevel
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  problems = _problems(args, workloads)
  if problems:
    cli_options.fail(p, problems)
  try:
    lg = _loadgen(args.loadgen)
  except ImportError as e:
    p.error(f'--loadgen {args.loadgen} is not available: {e}')
  compilation_cache.enable()
  from mlperf_jax.inference import run as inference_run  # pylint: disable=import-outside-toplevel
  workload = workloads.get(args.workload, args.scale, data_dir=args.data_dir)
  benchmark = workload.variant.extra.get(
      'inference_benchmark', inference_run.loadgen_model_name(workload))
  if args.audit:
    from mlperf_jax.inference import audit  # pylint: disable=import-outside-toplevel
    args.output_dir = audit.run_dir(args.results_dir, args.system, benchmark,
                                    args.scenario, args.audit)
    if _log_files(args.output_dir):
      p.error(f'{args.output_dir} already holds LoadGen logs of {args.audit};'
              ' they are never overwritten: choose a new --results-dir')
    os.makedirs(args.output_dir, exist_ok=True)
    args.settings_overrides = audit.settings_overrides(args.audit)
    args.audit_config = os.path.join(os.path.dirname(os.path.dirname(
        args.output_dir)), 'audit.config')
    with open(args.audit_config, 'w') as f:
      f.write(audit.audit_config(args.audit,
                                 inference_run.loadgen_model_name(workload)))
  elif args.results_dir:
    from mlperf_jax.inference import results_tree  # pylint: disable=import-outside-toplevel
    args.output_dir = results_tree.result_dir(
        args.results_dir, args.system, benchmark, args.scenario, args.mode)
  elif not args.output_dir:
    args.output_dir = fresh_output_dir(workload, args.scenario, args.mode)
  try:
    result = inference_run.run(workload, lg, args, _MINI_SETTINGS)
  except inference_run.InferenceInputError as e:
    p.error(str(e))
  print(result.report, flush=True)
  if args.audit:
    try:
      passed, written = audit.verify(args.results_dir, args.system, benchmark,
                                     args.scenario, args.audit)
    except FileNotFoundError as e:
      print(f'{args.audit}: {e}', flush=True)
      return 1
    print(f'{args.audit}: {"TEST PASS" if passed else "TEST FAIL"} '
          f'({", ".join(written)})', flush=True)
    if not passed:
      return 1
  if not workload.variant.is_result:
    print(f'({workload.scale} scale: a scaled-down model and data set; not '
          'an MLPerf result)', flush=True)
  return 0 if result.ok else 1


if __name__ == '__main__':
  from mlperf_jax.runtime import host_malloc
  host_malloc.reexec_with_tuned_malloc()
  sys.exit(main())
