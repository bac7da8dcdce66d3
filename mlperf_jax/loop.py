# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The MLPerf training timeline for any workload.

cache_clear -> init_start -> submission keys, seed, hyperparameters ->
abstract shapes, sharded init, ahead-of-time compilation -> init_stop ->
run_start -> data -> {block_start, steps, block_stop, eval_start,
eval_accuracy, eval_stop}* -> run_stop{status}.

Everything between run_start and run_stop is timed, evaluation included.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Mapping

import jax
import numpy as np
import tqdm

from mlperf_jax import sharding as shd
from mlperf_jax import steps as steps_lib
from mlperf_jax.mllog import C, RunLog
from mlperf_jax.optim import registry
from mlperf_jax.workload import Block, HostShard, Workload

# Marks logs that are not MLPerf results (mini scale, synthetic data).
NOTICE_KEY = 'mlperf_jax_notice'


@dataclasses.dataclass(frozen=True)
class RunOptions:
  """How to run (not what to train: that is the workload + hyperparameters)."""
  seed: int = 0
  division: str = 'closed'
  mesh: str | None = None
  max_epochs: int | None = None
  max_steps: int | None = None
  submission_org: str = 'mlperf_jax'
  submission_platform: str | None = None
  submission_status: str = 'research'
  progress: bool = True


@dataclasses.dataclass
class EvalRecord:
  epoch_num: float
  step: int
  metrics: dict[str, float]


@dataclasses.dataclass
class RunResult:
  status: str                       # 'success' | 'aborted'
  reason: str
  time_to_train_s: float
  quality: float | None
  losses: list[float]
  evals: list[EvalRecord]
  steps: int
  init_s: float
  state: Any = None


def _now_ms() -> int:
  return int(time.time() * 1e3)


def platform_name() -> str:
  d = jax.devices()[0]
  return f'{jax.device_count()}x{d.device_kind}'.replace(' ', '_')


def log_header(log: RunLog, workload: Workload, hp: Mapping[str, Any],
               opts: RunOptions) -> None:
  """Submission keys, notices, seed, hyperparameters and dataset sizes."""
  cfg = workload.config
  log.event(C.SUBMISSION_BENCHMARK, cfg.benchmark)
  log.event(C.SUBMISSION_ORG, opts.submission_org)
  log.event(C.SUBMISSION_DIVISION, opts.division)
  log.event(C.SUBMISSION_STATUS, opts.submission_status)
  log.event(C.SUBMISSION_PLATFORM, opts.submission_platform or platform_name())
  if cfg.scale != 'reference':
    log.event(NOTICE_KEY, f'{cfg.scale} scale: a scaled-down model and '
              'dataset; NOT an MLPerf result')
  if workload.synthetic:
    log.event(NOTICE_KEY, 'synthetic data: random inputs for smoke and '
              'throughput runs; NOT an MLPerf result')
  log.event(C.SEED, opts.seed)
  entries = workload.hparams(hp['opt_name'])
  for key, value in registry.mllog_items(entries, hp):
    log.event(key, value)
  log.event(C.TRAIN_SAMPLES, cfg.train_samples)
  log.event(C.EVAL_SAMPLES, cfg.eval_samples)
  for key, value in workload.extra_mllog_items(hp):
    log.event(key, value)


def _fetch(x) -> Any:
  return jax.device_get(x)


def evaluate(workload: Workload, compiled: steps_lib.Compiled, state,
             hp: Mapping[str, Any], host: HostShard, progress: bool
             ) -> dict[str, float]:
  """One pass over the whole (padded, masked) eval set."""
  acc = workload.eval_accumulator()
  batches = workload.eval_batches(hp, host=host)
  for batch in tqdm.tqdm(batches, desc='eval', leave=False, disable=not progress,
                         mininterval=1.0):
    out = compiled.eval_step(state, shd.host_to_global(batch,
                                                       compiled.batch_sharding))
    acc.add(_fetch(out))
  return acc.result()


def run(workload: Workload, hp: Mapping[str, Any], opts: RunOptions,
        log: RunLog, *, on_eval: Callable[[EvalRecord], None] | None = None
        ) -> RunResult:
  """Runs one MLPerf training run of `workload` with resolved `hp`."""
  log.event(C.CACHE_CLEAR, True)
  t_init = time.time()
  log.start(C.INIT_START)
  log_header(log, workload, hp, opts)

  mesh = shd.make_mesh(opts.mesh)
  host = HostShard.current()
  spe = workload.steps_per_epoch(hp)
  entry = workload.optimizer(hp)
  tx, _ = entry.build(hp, registry.OptimizerContext(
      steps_per_epoch=spe, decay_mask=workload.decay_mask))
  compiled = steps_lib.build(workload, tx, hp, mesh)
  for name in workload.init_tensor_names(compiled.boxed_params):
    log.event(C.WEIGHTS_INITIALIZATION, metadata={'tensor': name})
  state = compiled.init(jax.random.PRNGKey(opts.seed))
  jax.block_until_ready(state)
  log.end(C.INIT_STOP)
  init_s = time.time() - t_init

  # The clock starts before any part of the system touches the dataset.
  t_start = _now_ms()
  log.start(C.RUN_START, time_ms=t_start)
  train_iter = workload.train_batches(hp, seed=opts.seed, host=host)
  target = workload.config.target
  max_epochs = opts.max_epochs or workload.default_max_epochs(hp)
  max_steps = opts.max_steps if opts.max_steps is not None else math.inf
  losses: list[float] = []
  evals: list[EvalRecord] = []
  status, reason, quality, step = 'aborted', '', None, 0
  for block in workload.blocks(hp, max_epochs):
    n = int(min(block.steps, max_steps - step))
    if n <= 0:
      reason = f'step budget of {opts.max_steps} steps exhausted'
      break
    log.start(C.BLOCK_START, metadata={'first_epoch_num': block.first_epoch_num,
                                       'epoch_count': block.epoch_count})
    state, block_losses = _train_block(compiled, state, train_iter, n, block,
                                       opts.progress)
    step += len(block_losses)
    losses.extend(block_losses)
    log.end(C.BLOCK_STOP, metadata={'first_epoch_num': block.first_epoch_num})
    if len(block_losses) < n or not math.isfinite(block_losses[-1]):
      reason = (f'training diverged: loss became {block_losses[-1]} at step '
                f'{step}')
      break
    if block.eval_epoch_num is None:
      continue
    epoch_num = block.eval_epoch_num
    if n < block.steps:  # budget cut the block short: report true progress
      epoch_num = round(block.first_epoch_num - 1 + n / spe, 3)
    log.start(C.EVAL_START, metadata={'epoch_num': epoch_num})
    metrics = evaluate(workload, compiled, state, hp, host, opts.progress)
    quality = metrics[target.metric]
    log.event(C.EVAL_ACCURACY, quality, metadata={'epoch_num': epoch_num})
    log.end(C.EVAL_STOP, metadata={'epoch_num': epoch_num})
    record = EvalRecord(epoch_num, step, metrics)
    evals.append(record)
    if on_eval:
      on_eval(record)
    if target.reached(quality):
      status, reason = 'success', f'reached {target.metric} {quality:.4f}'
      break
  else:
    reason = reason or f'epoch budget of {max_epochs} epochs exhausted'
  if not reason:
    reason = f'step budget of {opts.max_steps} steps exhausted'
  t_stop = _now_ms()
  log.end(C.RUN_STOP, metadata={'status': status}, time_ms=t_stop)
  return RunResult(status=status, reason=reason,
                   time_to_train_s=(t_stop - t_start) / 1e3, quality=quality,
                   losses=losses, evals=evals, steps=step, init_s=init_s,
                   state=state)


def _train_block(compiled: steps_lib.Compiled, state, train_iter, n: int,
                 block: Block, progress: bool):
  """Runs `n` steps; stops early on a non-finite loss. Returns losses."""
  losses: list[float] = []
  pending = None  # loss of the previous step: fetched one step late so the
  # host never waits for the device except to check for divergence.
  bar = tqdm.tqdm(total=n, desc=f'train epochs {block.first_epoch_num}-'
                  f'{block.first_epoch_num + block.epoch_count - 1}',
                  leave=False, disable=not progress, mininterval=1.0)
  with bar:
    for _ in range(n):
      batch = shd.host_to_global(next(train_iter), compiled.batch_sharding)
      state, metrics = compiled.train_step(state, batch)
      if pending is not None:
        loss = float(_fetch(pending))
        losses.append(loss)
        bar.set_postfix(loss=f'{loss:.4f}', refresh=False)
        if not math.isfinite(loss):
          jax.block_until_ready(state)
          return state, losses
      pending = metrics['loss']
      bar.update(1)
    losses.append(float(_fetch(pending)))
  jax.block_until_ready(state)
  return state, losses
