# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""One MLPerf Inference test: parameters, QSL, SUT, LoadGen, accuracy.

Workload-agnostic: the samples, buckets, serving function, response
encoding and accuracy come from `workload.inference()`, the LoadGen model
name (user.conf / mlperf.conf section) from `workload.variant`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Mapping

from mlperf_jax import accuracy
from mlperf_jax.inference import serving
from mlperf_jax.api import Workload
from mlperf_jax.loadgen import settings as lg_settings


class InferenceInputError(ValueError):
  """Bad input found after parsing (e.g. an unusable checkpoint)."""


@dataclasses.dataclass
class InferenceResult:
  ok: bool
  report: str
  summary: dict[str, str]
  accuracy: dict[str, float] | None
  stats: serving.ServingStats


def trained_params(workload: Workload, checkpoint: str | None):
  """(params, model_state) from a checkpoint, or a mini model trained now."""
  if checkpoint:
    try:
      return workload.load_serving_checkpoint(checkpoint)
    except (ImportError, AttributeError, ValueError, OSError) as e:
      # checkpoint.CheckpointError (a ValueError) names the problem.
      raise InferenceInputError(
          f'cannot load checkpoint {checkpoint}: {e}') from e
  if workload.variant.is_result:
    raise InferenceInputError(
        f'a {workload.scale}-scale model needs --checkpoint')
  untrained = getattr(workload, 'untrained_serving_params', None)
  if untrained is not None:  # a model with no training (ssd-mobilenet)
    print('no --checkpoint: serving seeded random weights', flush=True)
    return untrained()
  from mlperf_jax.runtime import loop  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime.mllog import RunLog  # pylint: disable=import-outside-toplevel
  print('no --checkpoint: training the mini model first (seconds)...',
        flush=True)
  hp = workload.resolve_hparams()
  r = loop.run(workload, hp, loop.RunOptions(seed=0, progress=False),
               RunLog(None, enabled=False))
  print(f'trained: {r.status}, quality {r.quality:.4f}', flush=True)
  return r.state.params, r.state.model_state


def _settings(lg, scenario: str, mode: str, user_conf: str | None,
              model: str, defaults: Mapping[str, Any]):
  """TestSettings in LoadGen's order: defaults < mlperf.conf < user.conf.

  At a scale that is not a result, `defaults` (the mini settings) stand
  where the official mlperf.conf stands: a user.conf overrides only its own
  keys. At a result scale `FromConfig` applies the embedded mlperf.conf and
  then the user.conf, checked first with the Python LoadGen's parser (the
  official one silently drops a file with a bad line, and ignores unknown
  keys).
  """
  s = lg.TestSettings()
  s.scenario = getattr(lg.TestScenario, scenario)
  s.mode = (lg.TestMode.AccuracyOnly if mode == 'accuracy'
            else lg.TestMode.PerformanceOnly)
  for k, v in defaults.items():
    setattr(s, k, v)
  if user_conf:
    try:
      if defaults:
        lg_settings.apply_user_conf(s, user_conf, model, scenario)
      else:
        lg_settings.read_user_conf(user_conf)
        s.FromConfig(user_conf, model, scenario)
    except lg_settings.ConfigError as e:
      raise InferenceInputError(f'--user-conf: {e}') from e
  return s


def parse_summary(path: str) -> dict[str, str]:
  """`key : value` lines of mlperf_log_summary.txt."""
  out = {}
  if not os.path.exists(path):
    return out
  with open(path) as f:
    for line in f:
      m = re.match(r'^([^:]+?)\s*:\s*(.+)$', line.strip())
      if m:
        out.setdefault(m.group(1), m.group(2))
  return out


def loadgen_model_name(workload: Workload) -> str:
  """The model's name in LoadGen's mlperf.conf / user.conf."""
  return workload.variant.mlperf_conf_model or workload.name


def run(workload: Workload, lg, args, mini_settings: Mapping[str, Any]
        ) -> InferenceResult:
  try:
    spec = workload.inference()
  except (NotImplementedError, OSError, ImportError, ValueError) as e:
    # No inference model, or its data set is missing or unreadable.
    raise InferenceInputError(
        f'cannot serve {workload.name} ({workload.scale}): {e}') from e
  if args.user_conf:  # bad input before any training or compiling
    try:
      lg_settings.read_user_conf(args.user_conf)
    except lg_settings.ConfigError as e:
      raise InferenceInputError(f'--user-conf: {e}') from e
  if (getattr(args, 'precision', 'fp32') == 'int8'
      and not hasattr(workload, 'calibration_set')):
    raise InferenceInputError(
        f'--precision int8: workload {workload.name!r} has no calibration '
        'set; use --precision fp32 or bf16')
  params, model_state = trained_params(workload, args.checkpoint)
  to_serve = getattr(workload, 'serving_params', None)
  if to_serve is not None:  # e.g. BERT: pre-trained -> fine-tuned on SQuAD
    try:
      params, model_state = to_serve(params, model_state)
    except ValueError as e:
      raise InferenceInputError(f'--checkpoint {args.checkpoint}: {e}') from e
  fp32_spec, fp32_params = spec, params
  spec, params, model_state, precision_note = _at_precision(
      workload, spec, params, model_state, args)
  tp = getattr(args, 'tensor_parallel', 1) or 1
  parallel_note = ''
  if tp > 1:
    from mlperf_jax.inference import tensor_parallel  # pylint: disable=import-outside-toplevel
    try:
      spec, params, model_state, parallel_note = tensor_parallel.for_workload(
          workload, spec, params, model_state, tp)
    except ValueError as e:
      raise InferenceInputError(f'--tensor-parallel {tp}: {e}') from e
  os.makedirs(args.output_dir, exist_ok=True)
  qsl = serving.SampleQSL.for_spec(lg, spec)
  try:
    sut = serving.BatchingSUT(lg, spec, qsl, scenario=args.scenario,
                              params=params, model_state=model_state,
                              max_wait_ms=args.max_wait_ms,
                              # Split weights stay arguments, placed once.
                              weights_as_constants=False if tp > 1 else None)
  except BaseException:
    qsl.destroy()
    raise
  sut.warmup()
  settings = _settings(lg, args.scenario, args.mode, args.user_conf,
                       loadgen_model_name(workload),
                       {} if workload.variant.is_result else mini_settings)
  for k, v in (getattr(args, 'settings_overrides', None) or {}).items():
    setattr(settings, k, v)  # e.g. TEST05's seeds
  log_settings = lg.LogSettings()
  log_settings.log_output.outdir = os.path.abspath(args.output_dir)
  log_settings.log_output.copy_summary_to_stdout = False
  try:
    # The official default reads ./audit.config; an audit names its own.
    lg.StartTestWithLogSettings(sut.handle, qsl.handle, settings, log_settings,
                                getattr(args, 'audit_config', None)
                                or 'audit.config')
  finally:
    sut.destroy()
    qsl.destroy()
  if sut.error is not None:
    raise RuntimeError(f'the SUT failed: {sut.error!r}') from sut.error
  summary = parse_summary(os.path.join(args.output_dir,
                                       'mlperf_log_summary.txt'))
  lines = [f'{workload.name} ({workload.scale}) {args.scenario} '
           f'{args.mode} via the {args.loadgen} LoadGen; logs in '
           f'{args.output_dir}']
  if precision_note:
    lines.append(f'  precision: {precision_note}')
  if parallel_note:
    lines.append(f'  parallelism: {parallel_note}')
  for key in ('Result is', 'Samples per second', 'Scheduled samples per second',
              '90.0th percentile latency (ns)',
              '99.0th percentile latency (ns)'):
    if key in summary:
      lines.append(f'  {key}: {summary[key]}')
  acc = None
  ok = summary.get('Result is', 'VALID') == 'VALID'
  if args.mode == 'accuracy':
    acc = accuracy.score(spec, os.path.join(args.output_dir,
                                            'mlperf_log_accuracy.json'))
    lines.append(f'  accuracy: {accuracy.describe(acc, spec.metric)}')
    # The accuracy script's output, where the results tree wants it.
    with open(os.path.join(args.output_dir, 'accuracy.txt'), 'w') as f:
      f.write(accuracy.describe(acc, spec.metric) + '\n')
    if precision_note:
      lines.extend(_ratio_to_fp32(fp32_spec, fp32_params, model_state, acc))
    ok = True
  png = os.path.join(args.output_dir, 'latency_histogram.png')
  if serving.latency_histogram(sut.stats, png,
                               f'{workload.name} {args.scenario}'):
    lines.append(f'  latency histogram: {png}')
  return InferenceResult(ok=ok, report='\n'.join(lines), summary=summary,
                         accuracy=acc, stats=sut.stats)


def _at_precision(workload: Workload, spec, params, model_state, args):
  """(spec, params, model_state, note) served at `args.precision`; note is
  '' for fp32."""
  from mlperf_jax.inference import precision  # pylint: disable=import-outside-toplevel
  name = getattr(args, 'precision', 'fp32')
  if name == 'fp32':
    return spec, params, model_state, ''
  try:
    served = precision.prepare(workload, spec, params, model_state, name)
  except (OSError, ValueError) as e:
    raise InferenceInputError(f'--precision {name}: {e}') from e
  return (served.spec, served.params, served.model_state,
          f'{name}: {served.note}')


def _ratio_to_fp32(spec, params, model_state, acc) -> list[str]:
  """The accuracy ratio to the same parameters served in FP32 (scored
  directly, without a LoadGen)."""
  from mlperf_jax.inference import precision  # pylint: disable=import-outside-toplevel
  fp32 = precision.direct_accuracy(spec, params, model_state)
  r = precision.ratio(acc, fp32, spec.metric)
  return [f'  fp32 {spec.metric} (direct): {float(fp32[spec.metric]):.6f}; '
          f'ratio to fp32: {r:.4f}']
