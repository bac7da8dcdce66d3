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
from mlperf_jax.runtime.input_stats import InputStats
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps as steps_lib
from mlperf_jax.runtime import host_malloc
from mlperf_jax.runtime import interrupt
from mlperf_jax.runtime.mllog import C, RunLog
from mlperf_jax.hparams import registry
from mlperf_jax.api import Block, HostShard, Workload
from mlperf_jax.runtime.run_options import RunOptions

# Marks logs that are not MLPerf results (mini scale, synthetic data).
NOTICE_KEY = 'mlperf_jax_notice'


@dataclasses.dataclass
class EvalRecord:
  epoch_num: float
  step: int
  metrics: dict[str, float]
  # Timed seconds since run_start when the evaluation ended (what
  # time-to-train counts); None in checkpoints written before it existed.
  time_s: float | None = None


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
  # Host time in the train loop: input pipeline vs waiting on the device.
  input_stats: InputStats | None = None


def _now_ms() -> int:
  return int(time.time() * 1e3)


def platform_name() -> str:
  d = jax.devices()[0]
  return f'{jax.device_count()}x{d.device_kind}'.replace(' ', '_')


def log_header(log: RunLog, workload: Workload, hp: Mapping[str, Any],
               opts: RunOptions) -> None:
  """Submission keys, notices, seed, hyperparameters and dataset sizes."""
  cfg = workload.variant
  log.event(C.SUBMISSION_BENCHMARK, cfg.benchmark)
  log.event(C.SUBMISSION_ORG, opts.submission_org)
  log.event(C.SUBMISSION_DIVISION, opts.division)
  log.event(C.SUBMISSION_STATUS, opts.submission_status)
  log.event(C.SUBMISSION_PLATFORM, opts.submission_platform or platform_name())
  if not cfg.is_result:
    log.event(NOTICE_KEY, f'{cfg.scale} scale: a scaled-down model and '
              'dataset; NOT an MLPerf result')
  if workload.synthetic:
    log.event(NOTICE_KEY, 'synthetic data: random inputs for smoke and '
              'throughput runs; NOT an MLPerf result')
  log.event(C.SEED, opts.seed)
  entries = workload.hparams(hp['opt_name'])
  for key, value in registry.mllog_items(entries, hp):
    log.event(key, value)
  if opts.division == 'open':
    # Keys the closed rules check by code review (e.g. label smoothing) are
    # free in the open division: the log says what this run used.
    for h in entries:
      if not h.logged and h.key in hp:
        log.event(NOTICE_KEY, f'open division: {h.key} = {hp[h.key]!r} (not '
                  'an MLLOG key; fixed by the closed-division rules)')
  log.event(C.TRAIN_SAMPLES, workload.logged_train_samples(hp))
  log.event(C.EVAL_SAMPLES, cfg.eval_samples)
  for key, value in workload.extra_mllog_items(hp):
    log.event(key, value)
  log.event(host_malloc.MLLOG_KEY, host_malloc.describe())


def optimizer_context(workload: Workload, hp: Mapping[str, Any]
                      ) -> registry.OptimizerContext:
  """What the optimizer builder needs to know about the run."""
  return registry.OptimizerContext(
      steps_per_epoch=workload.steps_per_epoch(hp),
      param_labels=workload.param_labels)


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


@dataclasses.dataclass
class _Run:
  """The mutable state of one run, shared by its three phases."""
  workload: Workload
  hp: Mapping[str, Any]
  opts: RunOptions
  log: RunLog
  ckpt: Any
  identity: Any
  resume: Any
  on_eval: Callable[[EvalRecord], None] | None
  on_checkpoint: Callable[[ckpt_lib.Position], None] | None
  progress: bool = False
  compiled: steps_lib.Compiled | None = None
  state: Any = None
  pos: ckpt_lib.Position | None = None
  host: HostShard | None = None
  init_s: float = 0.0
  t_start: int = 0
  losses: list[float] = dataclasses.field(default_factory=list)
  evals: list[EvalRecord] = dataclasses.field(default_factory=list)
  step: int = 0
  status: str = 'aborted'
  reason: str = ''
  quality: float | None = None
  train_iter: Any = None
  input_stats: InputStats = dataclasses.field(default_factory=InputStats)

  def save(self, block_index: int, block_step: int) -> None:
    position = ckpt_lib.Position(
        step=self.step, block_index=block_index, block_step=block_step,
        losses=list(self.losses),
        evals=[dataclasses.asdict(e) for e in self.evals],
        elapsed_ms=_now_ms() - self.t_start, log_offset=_log_size(self.log))
    self.ckpt.save(self.state, position, self.identity,
                   extra=_log_location(self.log.path, self.ckpt.directory))
    if self.on_checkpoint:
      self.on_checkpoint(position)

  def result(self, status: str, reason: str, t_stop: int) -> RunResult:
    return RunResult(
        status=status, reason=reason,
        time_to_train_s=(t_stop - self.t_start) / 1e3, quality=self.quality,
        losses=self.losses, evals=self.evals, steps=self.step,
        init_s=self.init_s, state=self.state,
        resumed_from_step=None if self.resume is None else self.pos.step,
        input_stats=self.input_stats)


class _BlockContext:
  """`api.BlockContext` for one block: trains its steps with checkpoint
  saves, SIGTERM stops and divergence checks."""

  def __init__(self, run: _Run, block: Block, index: int, done: int, n: int,
               hook: Callable[[int, bool], str | None]):
    self._run, self._block, self._index = run, block, index
    self.done, self.n, self._hook = done, n, hook

  @property
  def state(self):
    return self._run.state

  def train(self, steps: int | None = None) -> str | None:
    run = self._run
    end = self.n if steps is None else min(self.n, self.done + steps)
    action = None
    while self.done < end:
      run.state, block_losses, action = _train_block(
          run.compiled, run.state, run.train_iter, end - self.done, self.done,
          self._block, run.progress, run.step, self._hook,
          label=run.workload.block_label(self._block), stats=run.input_stats)
      run.step += len(block_losses)
      self.done += len(block_losses)
      run.losses.extend(block_losses)
      if action in ('save', 'stop'):
        if action == 'stop':
          run.log.event(NOTICE_KEY, f'stopped by SIGTERM at step {run.step}; '
                        'checkpoint saved, continue with --resume')
        run.save(self._index, self.done)
      if action in ('stop', 'diverged'):
        return action
    return None


def _run(workload, hp, opts, log, ckpt, identity, resume, on_eval,
         on_checkpoint) -> RunResult:
  run = _Run(workload=workload, hp=hp, opts=opts, log=log, ckpt=ckpt,
             identity=identity, resume=resume, on_eval=on_eval,
             on_checkpoint=on_checkpoint)
  _init_phase(run)
  preempted = _timed_phase(run)
  if preempted is not None:
    return preempted
  return _finish_phase(run)


def _init_phase(run: _Run) -> None:
  """Untimed: header, mesh, AOT compilation, init or restore, then the
  clock starts (run_start) before any data is touched."""
  workload, hp, opts, log = run.workload, run.hp, run.opts, run.log
  run.progress = opts.progress and distributed.is_leader()
  t_init = time.time()
  if run.resume is None:
    log.event(C.CACHE_CLEAR, True)
    log.start(C.INIT_START)
    log_header(log, workload, hp, opts)
    if run.ckpt is not None:
      log.event(NOTICE_KEY, f'checkpointing on ({run.ckpt.directory}): saves '
                'count toward time-to-train')
  mesh = shd.make_mesh(opts.mesh)
  run.host = HostShard.current()
  tx, _ = workload.optimizer(hp).build(hp, optimizer_context(workload, hp))
  run.compiled = compiled = steps_lib.build(workload, tx, hp, mesh)
  if run.resume is None:
    if workload.variant.log_init_tensors:
      for name in workload.init_tensor_names(compiled.boxed_params):
        log.event(C.WEIGHTS_INITIALIZATION, metadata={'tensor': name})
    state = compiled.init(jax.random.PRNGKey(opts.seed))
    if opts.init_checkpoint:
      state, note = start_from_checkpoint(workload, compiled, state,
                                          opts.init_checkpoint, hp)
      log.event(NOTICE_KEY, note)
    run.pos = ckpt_lib.Position()
  else:
    run.pos = ckpt_lib.Position(**run.resume['position'])
    state = run.ckpt.restore(run.pos.step, compiled.abstract_state,
                             compiled.state_sharding)
    if log.enabled:
      aside = ckpt_lib.rewind_log(log.path, run.pos.log_offset)
      log.event(NOTICE_KEY, f'resumed from checkpoint step {run.pos.step} in '
                f'{run.ckpt.directory}' + (f'; events after it moved to '
                                           f'{aside}' if aside else ''))
  jax.block_until_ready(state)
  run.state = state
  run.init_s = time.time() - t_init
  if run.resume is None:
    distributed.sync('init_stop')
    log.end(C.INIT_STOP)
    # The clock starts before any part of the system touches the dataset.
    distributed.sync('run_start')
    run.t_start = _now_ms()
    log.start(C.RUN_START, time_ms=run.t_start)
  else:  # the timed clock continues from where the checkpoint left it
    distributed.sync('resume')
    run.t_start = _now_ms() - run.pos.elapsed_ms
  run.losses = list(run.pos.losses)
  run.evals = [EvalRecord(**e) for e in run.pos.evals]
  run.step = run.pos.step
  target = workload.variant.target
  run.quality = run.evals[-1].metrics[target.metric] if run.evals else None


def _timed_phase(run: _Run) -> RunResult | None:
  """Timed: blocks of training (`Workload.run_block`), each followed by an
  evaluation, until the target, a budget or divergence. Returns the result
  when SIGTERM stopped the run after a checkpoint, else None."""
  workload, hp, opts, log, ckpt = (run.workload, run.hp, run.opts, run.log,
                                   run.ckpt)
  pos = run.pos
  run.train_iter = workload.train_batches(hp, seed=opts.seed, host=run.host,
                                          start_step=pos.step)
  target = workload.variant.target
  max_epochs = opts.max_epochs or workload.default_max_epochs(hp)
  max_steps = opts.max_steps if opts.max_steps is not None else math.inf
  # SIGTERM means "save and stop" only when there is somewhere to save.
  guard = ckpt_lib.PreemptionGuard(enabled=ckpt is not None)
  ctrl_c = interrupt.CtrlC()

  def hook(global_step: int, last_in_block: bool) -> str | None:
    ctrl_c.check()
    if ckpt is None:
      return None
    if guard.requested(global_step):
      return 'stop'
    every = ckpt.every_steps
    if every and global_step % every == 0 and not last_in_block:
      return 'save'
    return None

  with guard, ctrl_c:
    for bi, block in enumerate(workload.blocks(hp, max_epochs)):
      if bi < pos.block_index:
        continue
      done = pos.block_step if bi == pos.block_index else 0
      n = int(min(block.steps, max_steps - (run.step - done)))
      if n <= 0:
        run.reason = f'step budget of {opts.max_steps} steps exhausted'
        break
      if done == 0:
        log.start(C.BLOCK_START,
                  metadata={'first_epoch_num': block.first_epoch_num,
                            'epoch_count': block.epoch_count})
      ctx = _BlockContext(run, block, bi, done, n, hook)
      action = workload.run_block(ctx, block)
      if action == 'stop':
        ckpt.wait()
        return run.result(
            'preempted', f'stopped by SIGTERM at step {run.step}; '
            f'checkpoint saved in {ckpt.directory}', _now_ms())
      distributed.sync('block_stop')
      log.end(C.BLOCK_STOP, metadata={'first_epoch_num': block.first_epoch_num})
      if action == 'diverged':
        run.reason = (f'training diverged: loss became {run.losses[-1]} at '
                      f'step {run.step}')
        break
      if block.eval_epoch_num is not None:
        epoch_num = workload.epoch_num_after(block, n, hp)
        log.start(C.EVAL_START, metadata={'epoch_num': epoch_num})
        metrics = evaluate(workload, run.compiled, run.state, hp, run.host,
                           run.progress)
        ctrl_c.check()
        run.quality = metrics[target.metric]
        distributed.sync('eval_stop')
        log.event(C.EVAL_ACCURACY, workload.accuracy_value(metrics),
                  metadata={'epoch_num': epoch_num})
        log.end(C.EVAL_STOP, metadata={'epoch_num': epoch_num})
        record = EvalRecord(epoch_num, run.step, metrics,
                            time_s=(_now_ms() - run.t_start) / 1e3)
        run.evals.append(record)
        if run.on_eval:
          run.on_eval(record)
        if target.reached(run.quality):
          run.status = 'success'
          run.reason = f'reached {target.metric} {run.quality:.4f}'
          break
      if ckpt is not None:
        run.save(bi + 1, 0)
    else:
      if not run.reason and run.step >= max_steps:  # last block cut short
        run.reason = f'step budget of {opts.max_steps} steps exhausted'
      run.reason = run.reason or f'epoch budget of {max_epochs} epochs exhausted'
  if not run.reason:
    run.reason = f'step budget of {opts.max_steps} steps exhausted'
  return None


def _finish_phase(run: _Run) -> RunResult:
  """run_stop (the clock stops), then the untimed final parameters."""
  distributed.sync('run_stop')
  t_stop = _now_ms()
  run.log.end(C.RUN_STOP, metadata={'status': run.status}, time_ms=t_stop)
  if run.opts.final_params_dir:
    ckpt_lib.save_final_params(
        run.opts.final_params_dir, run.state.params, run.state.model_state,
        _final_metadata(run.workload, run.hp, run.opts, run.status,
                        run.quality, run.step))
  return run.result(run.status, run.reason, t_stop)


def start_from_checkpoint(workload: Workload, compiled: steps_lib.Compiled,
                          state, path: str, hp: Mapping[str, Any]):
  """(state, notice): the fresh train `state` with the params and model
  state of `Workload.load_init_state(path, ...)`, checked against the
  abstract state and placed with the state's shardings (the optimizer state
  stays as initialised). Bad files and mismatches raise CheckpointError
  (bad input, exit 2)."""
  try:
    params, model_state = workload.load_init_state(
        path, state.params, state.model_state, hp)
    problems = []
    for what, tree, want in (
        ('parameter', params, compiled.abstract_state.params),
        ('model state', model_state, compiled.abstract_state.model_state)):
      problems += _tree_mismatches(what, tree, want)
    if problems:
      raise ValueError('the loaded tensors do not fit the model being '
                       'trained: ' + '; '.join(problems[:8]) +
                       (f' (and {len(problems) - 8} more)'
                        if len(problems) > 8 else ''))
  except ValueError as e:  # mapping/format problems: bad input, exit 2
    raise ckpt_lib.CheckpointError(f'--init-checkpoint {path}: {e}') from e
  sh = compiled.state_sharding
  state = state.replace(params=jax.device_put(params, sh.params),
                        model_state=jax.device_put(model_state,
                                                   sh.model_state))
  note = (f'initial weights loaded from {path} (sha256 of the loaded '
          f'parameters: {params_digest(params)}')
  if jax.tree.leaves(model_state):
    note += f'; of the model state: {params_digest(model_state)}'
  return state, note + ')'


def _tree_mismatches(what: str, tree, want) -> list[str]:
  """Paths of `tree` missing from, extra to, or shaped or typed unlike the
  abstract tree `want`."""
  import numpy as np  # pylint: disable=import-outside-toplevel

  def flat(t):
    return {jax.tree_util.keystr(p): v
            for p, v in jax.tree_util.tree_flatten_with_path(t)[0]}

  def describe(x):
    return f'{np.dtype(x.dtype)}{list(x.shape)}'
  got, need = flat(tree), flat(want)
  out = [f'{what} {k} is missing' for k in need if k not in got]
  out += [f'{what} {k} is not in the model' for k in got if k not in need]
  for k in need.keys() & got.keys():
    g = got[k] if hasattr(got[k], 'dtype') else np.asarray(got[k])
    if describe(g) != describe(need[k]):
      out.append(f'{what} {k} is {describe(g)}, the model needs '
                 f'{describe(need[k])}')
  return sorted(out)


def params_digest(params) -> str:
  """sha256 over a parameter tree: per leaf, in sorted path order, its
  path, dtype, shape and little-endian bytes (identifies the weights a run
  started from, whatever file format they came in)."""
  import hashlib  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  h = hashlib.sha256()
  leaves = jax.tree_util.tree_flatten_with_path(params)[0]
  for path, leaf in sorted(leaves, key=lambda kv: jax.tree_util.keystr(kv[0])):
    a = np.asarray(leaf)
    a = a.astype(a.dtype.newbyteorder('<'), copy=False)
    h.update(f'{jax.tree_util.keystr(path)}|{a.dtype.str}|{a.shape}|'.encode())
    h.update(np.ascontiguousarray(a).tobytes())
  return h.hexdigest()


def log_interrupted(log: RunLog, why: str) -> bool:
  """Ends the log of a run stopped from outside (Ctrl-C): a notice and
  run_stop aborted when run_start was logged and run_stop was not. Returns
  whether run_stop was written."""
  if not log.enabled or not log.path or not os.path.exists(log.path):
    return False
  with open(log.path, errors='replace') as f:
    keys = [line for line in f if '"key": "run_' in line]
  if not any('"key": "run_start"' in k for k in keys) or any(
      '"key": "run_stop"' in k for k in keys):
    return False
  log.event(NOTICE_KEY, why)
  log.end(C.RUN_STOP, metadata={'status': 'aborted'})
  return True


def _log_location(path: str | None, checkpoint_dir: str) -> dict[str, Any]:
  """Where the run's log is, saved with each checkpoint: its absolute path
  (resuming from another working directory) and its path relative to the
  checkpoint directory (a run directory moved or copied as a whole)."""
  if not path:
    return {'log_path': None}
  path = os.path.abspath(path)
  out = {'log_path': path}
  if '://' not in checkpoint_dir:
    out['log_path_from_checkpoint_dir'] = os.path.relpath(path, checkpoint_dir)
  return out


def _log_size(log: RunLog) -> int:
  if log.enabled and log.path and os.path.exists(log.path):
    return os.path.getsize(log.path)
  return 0


def _final_metadata(workload, hp, opts, status, quality, step):
  return {'workload': workload.name, 'scale': workload.scale,
          'benchmark': workload.variant.benchmark,
          'synthetic': bool(workload.synthetic),
          'compute_dtype': workload.compute_dtype, 'seed': opts.seed,
          'status': status, 'quality': quality,
          'metric': workload.variant.target.metric, 'steps': step,
          'hparams': dict(hp)}


def _train_block(compiled: steps_lib.Compiled, state, train_iter, n: int,
                 done: int, block: Block, progress: bool, first_step: int,
                 hook: Callable[[int, bool], str | None], label: str,
                 stats: InputStats | None = None):
  """Runs up to `n` steps of a block that has `done` behind it.

  Returns (state, losses, action): action is 'diverged' on a non-finite
  loss, 'save'/'stop' when `hook(global_step, last_in_block)` asks for a
  checkpoint after a step, else None. Adds the host's seconds in the input
  pipeline, waiting on the device and in the block to `stats`.
  """
  stats = InputStats() if stats is None else stats
  with stats.timing('loop_s'):
    state, losses, action = _steps(compiled, state, train_iter, n, done,
                                   progress, first_step, hook, label, stats)
  stats.steps += len(losses)
  return state, losses, action


def _steps(compiled, state, train_iter, n, done, progress, first_step, hook,
           label, stats: InputStats):
  """`_train_block`'s steps, timing the input and the waits into `stats`."""
  losses: list[float] = []
  pending = None  # loss of the previous step: fetched one step late so the
  # host never waits for the device except to check for divergence.
  bar = tqdm.tqdm(total=done + n, initial=done,
                  desc=label,
                  leave=False, disable=not progress, mininterval=1.0)
  action = None
  with bar:
    for i in range(n):
      with stats.timing('input_s'):
        batch = shd.host_to_global(next(train_iter), compiled.batch_sharding)
      state, metrics = compiled.train_step(state, batch)
      if pending is not None:
        with stats.timing('device_wait_s'):
          loss = float(_fetch(pending))
        losses.append(loss)
        bar.set_postfix(loss=f'{loss:.4f}', refresh=False)
        if not math.isfinite(loss):
          with stats.timing('device_wait_s'):
            jax.block_until_ready(state)
          return state, losses, 'diverged'
      pending = metrics['loss']
      bar.update(1)
      action = hook(first_step + i + 1, i + 1 == n)
      if action:
        break
    with stats.timing('device_wait_s'):
      losses.append(float(_fetch(pending)))
  with stats.timing('device_wait_s'):
    jax.block_until_ready(state)
  if not math.isfinite(losses[-1]):
    action = 'diverged'
  return state, losses, action
