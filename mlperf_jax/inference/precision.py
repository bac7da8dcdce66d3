# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Serving precision (`infer --precision fp32|bf16|int8`) and direct scoring.

* fp32: the workload's spec as it is.
* bf16: the same workload built with `compute_dtype='bfloat16'` (its
  float32 parameters, bfloat16 activations and products, float32 outputs:
  the training runs' mixed precision).
* int8: post-training quantization (`quantize`) calibrated on the
  workload's fixed calibration set (`workload.calibration_set()`, see
  `calibration`; BERT's: `squad_calibration`); no retraining.

`direct_accuracy` scores parameters without a LoadGen (every sample once,
in order): the FP32 number an int8 or bf16 result is a ratio of, and the
number a LoadGen accuracy run must reproduce.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from mlperf_jax import api
from mlperf_jax.inference import quantize

PRECISIONS = ('fp32', 'bf16', 'int8')
# Calibration batches (the set is fed once; the size only bounds memory).
CALIBRATION_BATCH = 100


@dataclasses.dataclass
class Served:
  """What the SUT serves: the spec and the first two `predict` arguments."""
  spec: api.InferenceSpec
  params: Any
  model_state: Any
  precision: str
  note: str = ''


def prepare(workload: api.Workload, spec: api.InferenceSpec, params,
            model_state, precision: str) -> Served:
  """The spec and parameters to serve at `precision`.

  Raises:
    ValueError: an unknown precision, or int8 for a workload without a
      calibration set.
  """
  if precision not in PRECISIONS:
    raise ValueError(f'precision {precision!r} is not one of {PRECISIONS}')
  if precision == 'fp32':
    return Served(spec, params, model_state, precision)
  if precision == 'bf16':
    bf16 = type(workload)(workload.scale, data_dir=workload.data_dir,
                          synthetic=workload.synthetic,
                          compute_dtype='bfloat16')
    return Served(bf16.inference(), params, model_state, precision,
                  'bfloat16 compute, float32 parameters')
  cal = calibration_set(workload)
  collate = spec.collate or api.stack_samples
  model = quantize.quantize(
      spec.predict, params, model_state,
      cal.batches(CALIBRATION_BATCH, collate), calibration=cal.source)
  return Served(
      dataclasses.replace(spec, predict=quantize.int8_predict(spec.predict)),
      model.bundle(), model_state, precision,
      f'int8 weights per channel, activations per tensor, '
      f'{len(model.act_scales)} layers, calibrated on {len(cal)} samples '
      f'of {cal.source}')


def calibration_set(workload: api.Workload):
  """The workload's fixed calibration set (`calibration.CalibrationSet`)."""
  get = getattr(workload, 'calibration_set', None)
  if get is None:
    raise ValueError(f'workload {workload.name!r} has no calibration set '
                     "for int8; use --precision fp32 or bf16")
  return get()


def direct_accuracy(spec: api.InferenceSpec, params, model_state, *,
                    batch_size: int = 128) -> dict[str, float]:
  """The spec's metrics with every sample predicted once, in order, without
  a LoadGen (same collate, predict, encode and accuracy as serving)."""
  collate = spec.collate or api.stack_samples
  predict = jax.jit(spec.predict)
  responses: dict[int, bytes] = {}
  for start in range(0, spec.count, batch_size):
    idx = list(range(start, min(start + batch_size, spec.count)))
    samples = [spec.load_sample(i) for i in idx]
    if spec.run_samples is not None:  # e.g. volumes, window by window
      out = spec.run_samples(
          lambda _, batch: predict(params, model_state, batch), samples)
    else:
      out = predict(params, model_state, collate(samples, batch_size))
    out = jax.device_get(out)
    for row, i in enumerate(idx):
      responses[i] = spec.encode(out, row)
  return spec.accuracy(responses)


def ratio(metrics: dict[str, float], reference: dict[str, float],
          metric: str) -> float:
  """metric / reference metric (nan when the reference is 0)."""
  ref = float(reference[metric])
  return float(metrics[metric]) / ref if ref else float(np.nan)
