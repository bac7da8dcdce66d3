# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The U-Net's training eval (window batches, eval step, host
accumulator) in-process, for tests that compare other paths with it."""

import jax

from mlperf_jax.api import HostShard


def training_eval(wl, hp, params) -> dict[str, float]:
  """The accumulator's result over `wl`'s eval cases with `params`."""
  step = jax.jit(lambda p, b: wl.eval_step(p, {}, b, hp))
  acc = wl.eval_accumulator()
  for batch in wl.eval_batches(hp, host=HostShard()):
    acc.add(jax.device_get(step(params, batch)))
  return acc.result()
