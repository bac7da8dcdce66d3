# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Checkpoint and resume (orbax), preemption, and the final parameters.

A checkpoint (one orbax `CheckpointManager` step directory per save) holds:

* `state`: the whole `TrainState` (step, params, model_state, opt_state, rng),
  restored onto the current mesh with the current shardings, so a checkpoint
  written with one mesh restores onto another;
* `meta` (JSON): the workload, scale, seed, hyperparameters and budgets it
  belongs to, and the `Position` of the run: steps done (which is also the
  data-iterator position: `train_batches(start_step=step)` replays the same
  stream), the block and the step inside it, losses and evaluations so far,
  timed milliseconds so far, and how many bytes of the MLLOG log belong to
  the run at that point (the tail written after the save is set aside on
  resume, so the continued log has each event once).

Saves are asynchronous; a save in flight is finished before the next one and
before the process exits. Checkpointing is off unless `--checkpoint-dir` is
given (its time counts toward time-to-train), and the log says when it is on.

The final parameters (params + model_state + `final_params.json`) are written
at the end of every CLI run into `<run dir>/final_params/`;
`load_final_params` reads them back for `mlperf_jax.infer`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
from typing import Any, Mapping

import jax

FORMAT = 1
_META_FILE = 'final_params.json'
_STATE_DIR = 'state'


class CheckpointError(ValueError):
  """A checkpoint that cannot be used here (the message names the problem)."""


@dataclasses.dataclass
class Position:
  """Where a run stands, saved with every checkpoint.

  Attributes:
    step: optimizer steps done; the next training batch is batch `step`.
    block_index: index in `workload.blocks()` of the block in progress.
    block_step: steps done inside that block (0: `block_start` not logged).
    losses: train loss of every step so far.
    evals: evaluations so far (`EvalRecord` fields).
    elapsed_ms: timed milliseconds (since run_start) before this save.
    log_offset: bytes of the MLLOG log written up to this save.
  """
  step: int = 0
  block_index: int = 0
  block_step: int = 0
  losses: list[float] = dataclasses.field(default_factory=list)
  evals: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  elapsed_ms: int = 0
  log_offset: int = 0


def run_identity(workload, hp: Mapping[str, Any], seed: int,
                 max_epochs: int | None, max_steps: int | None
                 ) -> dict[str, Any]:
  """What must match for a checkpoint to continue this run."""
  return json.loads(json.dumps({
      'workload': workload.name, 'scale': workload.scale,
      'synthetic': bool(workload.synthetic), 'seed': int(seed),
      'max_epochs': max_epochs, 'max_steps': max_steps,
      'hparams': {k: _jsonable(v) for k, v in sorted(hp.items())}}))


def _jsonable(v):
  if isinstance(v, (bool, int, float, str)) or v is None:
    return v
  return str(v)


def mismatches(saved: Mapping[str, Any], current: Mapping[str, Any],
               ignore: tuple[str, ...] = ()) -> list[str]:
  """Human-readable differences between two `run_identity` dicts."""
  out = []
  for key in ('workload', 'scale', 'synthetic', 'seed', 'max_epochs',
              'max_steps'):
    if key not in ignore and saved.get(key) != current.get(key):
      out.append(f'{key}: checkpoint {saved.get(key)!r}, this run '
                 f'{current.get(key)!r}')
  sh, ch = saved.get('hparams', {}), current.get('hparams', {})
  for k in sorted(set(sh) | set(ch)):
    if sh.get(k) != ch.get(k):
      out.append(f'{k}: checkpoint {sh.get(k)!r}, this run {ch.get(k)!r}')
  return out


class Checkpointer:
  """Periodic asynchronous checkpoints of one run in `directory`.

  Args:
    directory: checkpoint directory (created if missing); local path or any
      path orbax accepts (e.g. gs://).
    every_steps: also save every this many steps inside blocks (None: only
      after each block's evaluation).
    max_to_keep: checkpoints kept on disk.
  """

  def __init__(self, directory: str, *, every_steps: int | None = None,
               max_to_keep: int = 2):
    import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel
    self._ocp = ocp
    self.directory = os.path.abspath(directory) if '://' not in directory \
        else directory
    self.every_steps = every_steps
    self._mngr = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, save_interval_steps=1, create=True,
            enable_async_checkpointing=True))

  def latest_step(self) -> int | None:
    return self._mngr.latest_step()

  def read_meta(self, step: int | None = None) -> dict[str, Any]:
    """The JSON metadata of `step` (default: latest)."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f'no checkpoint in {self.directory}')
    try:
      r = self._mngr.restore(step, args=self._ocp.args.Composite(
          meta=self._ocp.args.JsonRestore()))
      meta = r.meta
    except Exception as e:  # orbax raises many types for damaged files
      raise CheckpointError(
          f'checkpoint {self.directory} step {step} is corrupted or truncated: '
          f'its metadata cannot be read ({type(e).__name__}: '
          f'{_first_line(e)}); delete '
          'that step directory to fall back to an older one, or start a '
          'fresh run with another --checkpoint-dir') from None
    if not isinstance(meta, dict) or meta.get('format') != FORMAT:
      raise CheckpointError(f'{self.directory} step {step} is not an '
                            'mlperf_jax training checkpoint (format '
                            f'{FORMAT})')
    return meta

  def check(self, identity: Mapping[str, Any], step: int | None = None
            ) -> dict[str, Any]:
    """Reads the metadata and checks it belongs to the run `identity`."""
    meta = self.read_meta(step)
    saved = meta.get('identity', {})
    if (saved.get('workload'), saved.get('scale')) != (
        identity['workload'], identity['scale']):
      raise CheckpointError(
          f'checkpoint {self.directory} belongs to workload '
          f'{saved.get("workload")!r} ({saved.get("scale")} scale), not '
          f'{identity["workload"]!r} ({identity["scale"]} scale); use the '
          'checkpoint directory of this workload or a fresh one')
    diff = mismatches(saved, identity)
    if diff:
      raise CheckpointError(
          f'checkpoint {self.directory} was written by a run with other '
          'settings; resume with the same ones (or use a fresh '
          '--checkpoint-dir):\n  ' + '\n  '.join(diff))
    return meta

  def save(self, state, position: Position, identity: Mapping[str, Any],
           extra: Mapping[str, Any] | None = None) -> None:
    """Starts an asynchronous save at `position.step` (every process)."""
    meta = {'format': FORMAT, 'identity': dict(identity),
            'position': dataclasses.asdict(position), **(extra or {})}
    if position.step in self._mngr.all_steps():
      # Same step, later position (e.g. the evaluation after a save made
      # at the block's last step): the newer one supersedes it.
      self._mngr.wait_until_finished()
      self._mngr.delete(position.step)
    self._mngr.save(position.step, args=self._ocp.args.Composite(
        state=self._ocp.args.StandardSave(state),
        meta=self._ocp.args.JsonSave(meta)), force=True)

  def restore(self, step: int, abstract_state, state_sharding):
    """The train state of `step`, laid out with `state_sharding`."""
    target = jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
        abstract_state, state_sharding)
    try:
      r = self._mngr.restore(step, args=self._ocp.args.Composite(
          state=self._ocp.args.StandardRestore(target)))
    except Exception as e:  # orbax raises many types for damaged files
      raise CheckpointError(
          f'checkpoint {self.directory} step {step} cannot be restored: it '
          'is corrupted, truncated or from another model '
          f'({type(e).__name__}: {_first_line(e)}). Delete the step '
          f'directory {os.path.join(self.directory, str(step))} to fall back '
          'to the previous checkpoint, or start a fresh run with another '
          '--checkpoint-dir') from None
    return r.state

  def wait(self) -> None:
    self._mngr.wait_until_finished()

  def close(self) -> None:
    self._mngr.wait_until_finished()
    self._mngr.close()


def _first_line(e: BaseException, limit: int = 160) -> str:
  """The gist of a storage error (TensorStore messages end in a long spec
  nobody can act on)."""
  text = str(e).strip().splitlines()[0] if str(e).strip() else ''
  for cut in (' [source locations', ' {"', " {'"):
    if cut in text:
      text = text[:text.index(cut)]
  return text[:limit] + ('...' if len(text) > limit else '')


def rewind_log(path: str | None, offset: int) -> str | None:
  """Sets aside the part of the MLLOG log written after a checkpoint.

  The tail (events of the interrupted stretch) moves to
  `<path>.interrupted-<offset>`; nothing is deleted. Returns that path.
  """
  if not path or not os.path.exists(path):
    return None
  size = os.path.getsize(path)
  if size <= offset:
    return None
  aside = f'{path}.interrupted-{offset}'
  with open(path, 'rb') as f:
    f.seek(offset)
    tail = f.read()
  with open(aside, 'ab') as f:
    f.write(tail)
  os.truncate(path, offset)
  return aside


class PreemptionGuard:
  """SIGTERM (sent to preemptible VMs) -> a final checkpoint, then stop.

  With several processes, JAX's preemption sync manager (set up by
  `jax.distributed.initialize`) catches the signal and agrees on one step
  for all hosts; with one process, a signal handler sets a flag.
  """

  def __init__(self, enabled: bool = True):
    self._flag = threading.Event()
    self._previous = None
    self._enabled = enabled
    self._multi = jax.process_count() > 1

  def __enter__(self) -> 'PreemptionGuard':
    if (self._enabled and not self._multi
        and threading.current_thread() is threading.main_thread()):
      self._previous = signal.signal(signal.SIGTERM, self._on_signal)
    return self

  def __exit__(self, *exc) -> None:
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
      self._previous = None

  def _on_signal(self, signum, frame) -> None:
    del signum, frame
    self._flag.set()

  def requested(self, step: int) -> bool:
    """True when every host should save at `step` and stop."""
    if not self._enabled:
      return False
    if self._multi:
      from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
      try:
        return bool(multihost_utils.reached_preemption_sync_point(step))
      except RuntimeError:  # preemption service not running
        return False
    return self._flag.is_set()


# ---- final parameters ------------------------------------------------------


def save_final_params(directory: str, params, model_state,
                      metadata: Mapping[str, Any]) -> None:
  """Writes params + model_state (orbax) and `final_params.json` (process 0).

  Every process must call this (the save is collective). An existing
  directory is never overwritten.
  """
  import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel
  directory = os.path.abspath(directory)
  if os.path.exists(os.path.join(directory, _STATE_DIR)):
    raise CheckpointError(f'{directory} already holds final parameters; '
                          'refusing to overwrite them')
  ckptr = ocp.StandardCheckpointer()
  ckptr.save(os.path.join(directory, _STATE_DIR),
             {'params': params, 'model_state': model_state})
  ckptr.wait_until_finished()
  ckptr.close()
  if jax.process_index() == 0:
    with open(os.path.join(directory, _META_FILE), 'w') as f:
      json.dump({'format': FORMAT, **metadata}, f, indent=1, default=str)


def read_final_metadata(path: str) -> dict[str, Any]:
  meta_path = os.path.join(path, _META_FILE)
  if not os.path.isfile(meta_path):
    raise CheckpointError(f'{path} holds no {_META_FILE}: not final '
                          'parameters saved by mlperf_jax.train (they are in '
                          '<run dir>/final_params)')
  try:
    with open(meta_path) as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise CheckpointError(f'{meta_path} is corrupted: {e}') from None


def load_final_params(path: str, workload, sharding=None):
  """(params, model_state) saved by `save_final_params`.

  Args:
    path: the `final_params` directory of a run.
    workload: the Workload (or its name) the parameters must belong to.
    sharding: sharding of every leaf (default: the first local device).

  Raises:
    CheckpointError: wrong workload or scale, or damaged files.
  """
  import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel
  meta = read_final_metadata(path)
  name = workload if isinstance(workload, str) else workload.name
  scale = None if isinstance(workload, str) else workload.scale
  if meta.get('workload') != name or (scale and meta.get('scale') != scale):
    raise CheckpointError(
        f'{path} holds parameters of workload {meta.get("workload")!r} '
        f'({meta.get("scale")} scale), not {name!r}'
        + (f' ({scale} scale)' if scale else ''))
  sharding = sharding or jax.sharding.SingleDeviceSharding(
      jax.local_devices()[0])
  state_dir = os.path.join(os.path.abspath(path), _STATE_DIR)
  ckptr = ocp.StandardCheckpointer()
  try:
    tree = ckptr.metadata(state_dir).item_metadata.tree
    target = jax.tree.map(
        lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=sharding),
        tree, is_leaf=lambda x: hasattr(x, 'shape') and hasattr(x, 'dtype'))
    out = ckptr.restore(state_dir, target)
  except Exception as e:  # orbax raises many types for damaged files
    raise CheckpointError(f'final parameters in {path} cannot be read '
                          f'(corrupted or truncated: {type(e).__name__}: '
                          f'{str(e)[:300]})') from None
  finally:
    ckptr.close()
  return out['params'], out['model_state']

