# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`python -m mlperf_jax.infer --workload resnet --scenario Offline ...`

Serves a workload's model through a LoadGen (the project's Python LoadGen or
the official C++ one) and writes the official log files into --output-dir.
At the mini scale, with no --checkpoint, the mini model is trained on the fly
first (seconds). Accuracy mode ends with the workload's accuracy script.
Exit codes: 0 done (and VALID in performance mode); 1 INVALID; 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys

SCENARIOS = ('SingleStream', 'MultiStream', 'Server', 'Offline')
# Test settings of scales that are not results (mini): short runs that still
# exercise every scenario.
_MINI_SETTINGS = {
    'min_duration_ms': 2000, 'min_query_count': 64,
    'offline_expected_qps': 60000.0, 'server_target_qps': 500.0,
    'server_target_latency_ns': 50_000_000,
    'single_stream_expected_latency_ns': 200_000,
    'multi_stream_expected_latency_ns': 600_000,
}


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog='python -m mlperf_jax.infer',
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--workload', required=True)
  p.add_argument('--scenario', choices=SCENARIOS, default='Offline')
  p.add_argument('--mode', choices=('performance', 'accuracy'),
                 default='performance')
  p.add_argument('--scale', choices=('mini', 'reference'), default='mini')
  p.add_argument('--data-dir', help='dataset directory (reference scale)')
  p.add_argument('--checkpoint', help='final parameters saved by train')
  p.add_argument('--user-conf', help='LoadGen user.conf (official keys)')
  p.add_argument('--loadgen', choices=('python', 'official'), default='python')
  p.add_argument('--output-dir', default='inference_logs')
  p.add_argument('--precision', choices=('fp32', 'bf16', 'int8'),
                 default='fp32',
                 help='serving precision; int8: post-training quantization '
                 "calibrated on the workload's fixed calibration list")
  p.add_argument('--results-dir',
                 help='write the logs into the official results tree under '
                 'this directory (results/<system>/<benchmark>/<scenario>/'
                 'performance/run_1 or accuracy); overrides --output-dir')
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


def main(argv: list[str] | None = None) -> int:
  p = _parser()
  args = p.parse_args(argv)
  from mlperf_jax.runtime import compilation_cache  # pylint: disable=import-outside-toplevel
  from mlperf_jax import workloads  # pylint: disable=import-outside-toplevel
  if args.workload not in workloads.names():
    p.error(f'unknown workload {args.workload!r}; valid workloads: '
            f'{", ".join(workloads.names())}')
  variant = workloads.get_class(args.workload).variants.get(args.scale)
  if variant is None:
    p.error(f'workload {args.workload!r} has no scale {args.scale!r}')
  needs = []
  if variant.is_result and not args.checkpoint:
    needs.append('--checkpoint (trained parameters)')
  if variant.needs_data_dir and not args.data_dir:
    needs.append('--data-dir (the inference data set)')
  if needs:
    p.error(f'--scale {args.scale} needs {" and ".join(needs)}')
  if args.checkpoint and not os.path.exists(args.checkpoint):
    p.error(f'--checkpoint {args.checkpoint!r} does not exist')
  if args.user_conf and not os.path.isfile(args.user_conf):
    p.error(f'--user-conf {args.user_conf!r} is not a file')
  try:
    lg = _loadgen(args.loadgen)
  except ImportError as e:
    p.error(f'--loadgen {args.loadgen} is not available: {e}')
  compilation_cache.enable()
  from mlperf_jax.inference import run as inference_run  # pylint: disable=import-outside-toplevel
  workload = workloads.get(args.workload, args.scale, data_dir=args.data_dir)
  if args.results_dir:
    from mlperf_jax.inference import results_tree  # pylint: disable=import-outside-toplevel
    args.output_dir = results_tree.result_dir(
        args.results_dir, args.system,
        variant.extra.get('inference_benchmark',
                          inference_run.loadgen_model_name(workload)),
        args.scenario, args.mode)
  try:
    result = inference_run.run(workload, lg, args, _MINI_SETTINGS)
  except inference_run.InferenceInputError as e:
    p.error(str(e))
  print(result.report, flush=True)
  return 0 if result.ok else 1


if __name__ == '__main__':
  sys.exit(main())
