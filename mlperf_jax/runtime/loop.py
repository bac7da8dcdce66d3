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
import os
import time
from typing import Any, Callable, Mapping

import jax
import tqdm

from mlperf_jax.runtime import checkpoint as ckpt_lib
from mlperf_jax.runtime import distributed
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps as steps_lib
from mlperf_jax.runtime.mllog import C, RunLog
from mlperf_jax.hparams import registry
from mlperf_jax.api import Block, HostShard, Workload

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
  # Checkpoints (checkpoint.py): off unless a directory is given.
  checkpoint_dir: str | None = None
  checkpoint_every_steps: int | None = None  # None: after each evaluation
  resume: bool = False
  final_params_dir: str | None = None  # where the final parameters go
  # Start from these weights (e.g. BERT's reference TF checkpoint) instead of
  # a random init; loaded during the untimed init.
  init_checkpoint: str | None = None


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
  resumed_from_step: int | None = None


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
  log.event(C.TRAIN_SAMPLES, workload.logged_train_samples(hp))
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


def _open_checkpoints(workload: Workload, hp: Mapping[str, Any],
                      opts: RunOptions):
  """(Checkpointer or None, identity, metadata of the checkpoint to resume)."""
  identity = ckpt_lib.run_identity(workload, hp, opts.seed, opts.max_epochs,
                                   opts.max_steps)
  if not opts.checkpoint_dir:
    return None, identity, None
  ckpt = ckpt_lib.Checkpointer(opts.checkpoint_dir,
                               every_steps=opts.checkpoint_every_steps)
  latest = ckpt.latest_step()
  if latest is None:
    return ckpt, identity, None
  if not opts.resume:
    ckpt.close()
    raise ckpt_lib.CheckpointError(
        f'{ckpt.directory} already holds checkpoints (latest step {latest}); '
        'pass --resume to continue that run, or choose another '
        '--checkpoint-dir (existing checkpoints are never overwritten)')
  try:
    return ckpt, identity, ckpt.check(identity, latest)
  except ckpt_lib.CheckpointError:
    ckpt.close()
    raise


def run(workload: Workload, hp: Mapping[str, Any], opts: RunOptions,
        log: RunLog, *, on_eval: Callable[[EvalRecord], None] | None = None,
        on_checkpoint: Callable[[ckpt_lib.Position], None] | None = None
        ) -> RunResult:
  """Runs one MLPerf training run of `workload` with resolved `hp`.

  With `opts.checkpoint_dir`, saves checkpoints (after each evaluation and
  every `opts.checkpoint_every_steps` steps) and, with `opts.resume`,
  continues the run of the latest one; SIGTERM then saves and stops
  (status 'preempted'). `on_checkpoint(position)` runs after each save.

  Raises:
    checkpoint.CheckpointError: an unusable checkpoint (before anything is
      written).
  """
  ckpt, identity, resume = _open_checkpoints(workload, hp, opts)
  try:
    return _run(workload, hp, opts, log, ckpt, identity, resume, on_eval,
                on_checkpoint)
  finally:
    if ckpt is not None:
      ckpt.close()


def _run(workload, hp, opts, log, ckpt, identity, resume, on_eval,
         on_checkpoint) -> RunResult:
  progress = opts.progress and distributed.is_leader()
  t_init = time.time()
  if resume is None:
    log.event(C.CACHE_CLEAR, True)
    log.start(C.INIT_START)
    log_header(log, workload, hp, opts)
    if ckpt is not None:
      log.event(NOTICE_KEY, f'checkpointing on ({ckpt.directory}): saves '
                'count toward time-to-train')

  mesh = shd.make_mesh(opts.mesh)
  host = HostShard.current()
  spe = workload.steps_per_epoch(hp)
  entry = workload.optimizer(hp)
  tx, _ = entry.build(hp, registry.OptimizerContext(
      steps_per_epoch=spe, decay_mask=workload.decay_mask))
  compiled = steps_lib.build(workload, tx, hp, mesh)
  if resume is None:
    for name in workload.init_tensor_names(compiled.boxed_params):
      log.event(C.WEIGHTS_INITIALIZATION, metadata={'tensor': name})
    state = compiled.init(jax.random.PRNGKey(opts.seed))
    if opts.init_checkpoint:
      try:
        params = workload.load_init_checkpoint(
            opts.init_checkpoint, compiled.abstract_state.params, hp)
      except ValueError as e:  # mapping/format problems: bad input, exit 2
        raise ckpt_lib.CheckpointError(
            f'--init-checkpoint {opts.init_checkpoint}: {e}') from e
      state = state.replace(params=jax.device_put(
          params, compiled.state_sharding.params))
      log.event(NOTICE_KEY, 'initial weights loaded from '
                f'{opts.init_checkpoint}')
    pos = ckpt_lib.Position()
  else:
    pos = ckpt_lib.Position(**resume['position'])
    state = ckpt.restore(pos.step, compiled.abstract_state,
                         compiled.state_sharding)
    if log.enabled:
      aside = ckpt_lib.rewind_log(log.path, pos.log_offset)
      log.event(NOTICE_KEY, f'resumed from checkpoint step {pos.step} in '
                f'{ckpt.directory}' + (f'; events after it moved to {aside}'
                                       if aside else ''))
  jax.block_until_ready(state)
  init_s = time.time() - t_init
  if resume is None:
    distributed.sync('init_stop')
    log.end(C.INIT_STOP)
    # The clock starts before any part of the system touches the dataset.
    distributed.sync('run_start')
    t_start = _now_ms()
    log.start(C.RUN_START, time_ms=t_start)
  else:  # the timed clock continues from where the checkpoint left it
    distributed.sync('resume')
    t_start = _now_ms() - pos.elapsed_ms
  train_iter = workload.train_batches(hp, seed=opts.seed, host=host,
                                      start_step=pos.step)
  target = workload.config.target
  max_epochs = opts.max_epochs or workload.default_max_epochs(hp)
  max_steps = opts.max_steps if opts.max_steps is not None else math.inf
  losses: list[float] = list(pos.losses)
  evals = [EvalRecord(**e) for e in pos.evals]
  status, reason, step = 'aborted', '', pos.step
  quality = evals[-1].metrics[target.metric] if evals else None

  def save(block_index, block_step):
    position = ckpt_lib.Position(
        step=step, block_index=block_index, block_step=block_step,
        losses=list(losses), evals=[dataclasses.asdict(e) for e in evals],
        elapsed_ms=_now_ms() - t_start,
        log_offset=_log_size(log))
    ckpt.save(state, position, identity, extra={'log_path': log.path})
    if on_checkpoint:
      on_checkpoint(position)

  # SIGTERM means "save and stop" only when there is somewhere to save.
  guard = ckpt_lib.PreemptionGuard(enabled=ckpt is not None)

  def hook(global_step: int, last_in_block: bool) -> str | None:
    if ckpt is None:
      return None
    if guard.requested(global_step):
      return 'stop'
    every = ckpt.every_steps
    if every and global_step % every == 0 and not last_in_block:
      return 'save'
    return None

  with guard:
    for bi, block in enumerate(workload.blocks(hp, max_epochs)):
      if bi < pos.block_index:
        continue
      done = pos.block_step if bi == pos.block_index else 0
      n = int(min(block.steps, max_steps - (step - done)))
      if n <= 0:
        reason = f'step budget of {opts.max_steps} steps exhausted'
        break
      if done == 0:
        log.start(C.BLOCK_START,
                  metadata={'first_epoch_num': block.first_epoch_num,
                            'epoch_count': block.epoch_count})
      action = None
      while done < n:
        state, block_losses, action = _train_block(
            compiled, state, train_iter, n - done, done, block, progress,
            step, hook, unit=workload.progress_unit)
        step += len(block_losses)
        done += len(block_losses)
        losses.extend(block_losses)
        if action in ('save', 'stop'):
          if action == 'stop':
            log.event(NOTICE_KEY, f'stopped by SIGTERM at step {step}; '
                      'checkpoint saved, continue with --resume')
          save(bi, done)
        if action in ('stop', 'diverged'):
          break
      if action == 'stop':
        ckpt.wait()
        return RunResult(
            status='preempted', reason=f'stopped by SIGTERM at step {step}; '
            f'checkpoint saved in {ckpt.directory}',
            time_to_train_s=(_now_ms() - t_start) / 1e3, quality=quality,
            losses=losses, evals=evals, steps=step, init_s=init_s,
            state=state, resumed_from_step=resume and pos.step)
      distributed.sync('block_stop')
      log.end(C.BLOCK_STOP, metadata={'first_epoch_num': block.first_epoch_num})
      if action == 'diverged':
        reason = f'training diverged: loss became {losses[-1]} at step {step}'
        break
      if block.eval_epoch_num is not None:
        epoch_num = block.eval_epoch_num
        if n < block.steps:  # budget cut the block short: true progress
          if workload.progress_unit == 'samples':
            epoch_num = (block.first_epoch_num
                         + n * workload.global_batch_size(hp))
          else:  # the share of the block that ran (epochs may be fractional)
            epoch_num = round(block.eval_epoch_num - block.epoch_count *
                              (1 - n / block.steps), 3)
        log.start(C.EVAL_START, metadata={'epoch_num': epoch_num})
        metrics = evaluate(workload, compiled, state, hp, host, progress)
        quality = metrics[target.metric]
        distributed.sync('eval_stop')
        log.event(C.EVAL_ACCURACY, quality, metadata={'epoch_num': epoch_num})
        log.end(C.EVAL_STOP, metadata={'epoch_num': epoch_num})
        record = EvalRecord(epoch_num, step, metrics)
        evals.append(record)
        if on_eval:
          on_eval(record)
        if target.reached(quality):
          status, reason = 'success', f'reached {target.metric} {quality:.4f}'
          break
      if ckpt is not None:
        save(bi + 1, 0)
    else:
      if not reason and step >= max_steps:  # the last block was cut short
        reason = f'step budget of {opts.max_steps} steps exhausted'
      reason = reason or f'epoch budget of {max_epochs} epochs exhausted'
  if not reason:
    reason = f'step budget of {opts.max_steps} steps exhausted'
  distributed.sync('run_stop')
  t_stop = _now_ms()
  log.end(C.RUN_STOP, metadata={'status': status}, time_ms=t_stop)
  if opts.final_params_dir:
    ckpt_lib.save_final_params(opts.final_params_dir, state.params,
                               state.model_state, _final_metadata(
                                   workload, hp, opts, status, quality, step))
  return RunResult(status=status, reason=reason,
                   time_to_train_s=(t_stop - t_start) / 1e3, quality=quality,
                   losses=losses, evals=evals, steps=step, init_s=init_s,
                   state=state,
                   resumed_from_step=None if resume is None else pos.step)


def _log_size(log: RunLog) -> int:
  if log.enabled and log.path and os.path.exists(log.path):
    return os.path.getsize(log.path)
  return 0


def _final_metadata(workload, hp, opts, status, quality, step):
  return {'workload': workload.name, 'scale': workload.scale,
          'benchmark': workload.config.benchmark,
          'synthetic': bool(workload.synthetic),
          'compute_dtype': workload.compute_dtype, 'seed': opts.seed,
          'status': status, 'quality': quality,
          'metric': workload.config.target.metric, 'steps': step,
          'hparams': dict(hp)}


def _block_label(block: Block, unit: str) -> str:
  """'train epochs 5-8' for whole epochs; otherwise the progress range
  ('train epochs 1.05 to 1.1' for DLRM, 'train samples 0 to 2048' for BERT)."""
  first, count = block.first_epoch_num, block.epoch_count
  if unit == 'epoch' and all(float(x).is_integer() for x in (first, count)):
    return f'train epochs {int(first)}-{int(first + count - 1)}'
  unit = unit if unit.endswith('s') else unit + 's'
  return f'train {unit} {first:g} to {first + count:g}'


def _train_block(compiled: steps_lib.Compiled, state, train_iter, n: int,
                 done: int, block: Block, progress: bool, first_step: int,
                 hook: Callable[[int, bool], str | None], unit: str = 'epoch'):
  """Runs up to `n` steps of a block that has `done` behind it.

  Returns (state, losses, action): action is 'diverged' on a non-finite
  loss, 'save'/'stop' when `hook(global_step, last_in_block)` asks for a
  checkpoint after a step, else None.
  """
  losses: list[float] = []
  pending = None  # loss of the previous step: fetched one step late so the
  # host never waits for the device except to check for divergence.
  bar = tqdm.tqdm(total=done + n, initial=done,
                  desc=_block_label(block, unit),
                  leave=False, disable=not progress, mininterval=1.0)
  action = None
  with bar:
    for i in range(n):
      batch = shd.host_to_global(next(train_iter), compiled.batch_sharding)
      state, metrics = compiled.train_step(state, batch)
      if pending is not None:
        loss = float(_fetch(pending))
        losses.append(loss)
        bar.set_postfix(loss=f'{loss:.4f}', refresh=False)
        if not math.isfinite(loss):
          jax.block_until_ready(state)
          return state, losses, 'diverged'
      pending = metrics['loss']
      bar.update(1)
      action = hook(first_step + i + 1, i + 1 == n)
      if action:
        break
    losses.append(float(_fetch(pending)))
  jax.block_until_ready(state)
  if not math.isfinite(losses[-1]):
    action = 'diverged'
  return state, losses, action
