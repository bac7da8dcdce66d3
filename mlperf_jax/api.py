# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The workload interface every benchmark implements.

A workload bundles what the MLPerf rules fix for one benchmark: the model, the
loss, the evaluation and its quality target, the data, the hyperparameters
(by MLLOG key) and the evaluation cadence. The training loop (`loop.py`) only
talks to this interface, so detection (variable numbers of boxes), sliding
window segmentation, transducer losses and MiniGo's self-play fit without
changing it:

* eval is split into a jitted `eval_step` that returns per-batch device
  outputs and a host-side `EvalAccumulator` that turns all of them into the
  metric (sums for accuracy, collected boxes for mAP, stitched windows for
  DICE, decoded transcripts for WER);
* the run is split into `Block`s (train steps followed by an optional eval),
  produced by the workload, so a benchmark whose "epoch" is a self-play
  generation overrides `blocks` / `run_block` instead of the loop.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any, Iterable, Iterator, Literal, Mapping, Protocol, Sequence

import jax
import numpy as np

from mlperf_jax.hparams import registry

PyTree = Any
Batch = Mapping[str, jax.Array]
HostBatch = dict[str, np.ndarray]
Scale = Literal['mini', 'reference']
SCALES: tuple[str, ...] = ('mini', 'reference')


@dataclasses.dataclass(frozen=True)
class Target:
  """The quality target: `metric` of `finalize` compared with `value`."""
  metric: str
  value: float
  higher_is_better: bool = True

  def reached(self, v: float) -> bool:
    if not math.isfinite(v):
      return False
    return v >= self.value if self.higher_is_better else v <= self.value


@dataclasses.dataclass(frozen=True)
class Block:
  """A stretch of training between two evaluations.

  Attributes:
    first_epoch_num: MLLOG `first_epoch_num` of the block (epochs from 1).
    epoch_count: MLLOG `epoch_count` of the block.
    steps: optimizer steps to run in the block.
    eval_epoch_num: `epoch_num` logged with the evaluation after the block, or
      None when the block is not followed by an evaluation.
  """
  first_epoch_num: float
  epoch_count: float
  steps: int
  eval_epoch_num: float | None


@dataclasses.dataclass(frozen=True)
class HostShard:
  """Which slice of the data this process reads."""
  index: int = 0
  count: int = 1

  @classmethod
  def current(cls) -> 'HostShard':
    return cls(jax.process_index(), jax.process_count())


@dataclasses.dataclass(frozen=True)
class ScaleConfig:
  """What changes between the reference and the mini scale of a workload.

  Attributes:
    scale: 'reference' or 'mini'.
    benchmark: MLLOG `submission_benchmark` value ('resnet', 'mini_resnet').
    target: quality target.
    train_samples: training-set size (logged as `train_samples`).
    eval_samples: evaluation-set size (logged as `eval_samples`).
    eval_batch_size: global evaluation batch size.
    defaults: hyperparameter defaults by MLLOG key for this scale.
    rulesets: compliance rulesets a log of this scale must pass.
    num_runs: runs a result needs (olympic scoring).
  """
  scale: Scale
  benchmark: str
  target: Target
  train_samples: int
  eval_samples: int
  eval_batch_size: int
  defaults: Mapping[str, Any]
  rulesets: tuple[str, ...]
  num_runs: int


@dataclasses.dataclass(frozen=True)
class InferenceSet:
  """The data MLPerf Inference serves for a workload.

  Attributes:
    count: samples in the accuracy set.
    performance_count: samples loaded for performance runs.
    get_sample: index -> one preprocessed input (host array).
    labels: index -> ground truth, for the accuracy script.
  """
  count: int
  performance_count: int
  get_sample: Any
  labels: Any


class EvalAccumulator(Protocol):
  """Host-side reduction of eval outputs into the metric."""

  def add(self, outputs: Mapping[str, np.ndarray]) -> None:
    ...

  def result(self) -> dict[str, float]:
    ...


class SumAccumulator:
  """Adds up masked sums; `result` divides by the count key once."""

  def __init__(self, count_key: str, ratios: Mapping[str, str]):
    self._count_key = count_key
    self._ratios = dict(ratios)  # metric name -> summed key
    self._sums: dict[str, float] = {}

  def add(self, outputs: Mapping[str, np.ndarray]) -> None:
    for k, v in outputs.items():
      self._sums[k] = self._sums.get(k, 0.0) + float(np.sum(v))

  def result(self) -> dict[str, float]:
    n = self._sums.get(self._count_key, 0.0)
    out = {self._count_key: n}
    for name, key in self._ratios.items():
      out[name] = self._sums.get(key, 0.0) / n if n else float('nan')
    return out


def host_slices(batches: Iterable[HostBatch], host: HostShard
                ) -> Iterator[HostBatch]:
  """This host's contiguous slice of each global batch.

  For sources that produce whole global batches on every host (synthetic
  data, small in-memory sets): each host keeps its share, so several
  processes see exactly what one process would.
  """
  for b in batches:
    n = len(next(iter(b.values())))
    per = n // host.count
    yield {k: v[host.index * per:(host.index + 1) * per] for k, v in b.items()}


class Workload(abc.ABC):
  """One MLPerf training benchmark at one scale.

  Subclasses set `name` and `scales` and implement the abstract methods. All
  model-side methods are pure functions of their arguments (they are traced
  by `jax.jit`); hyperparameters arrive resolved, keyed by MLLOG name.
  """

  name: str = ''
  scales: Mapping[str, ScaleConfig] = {}
  progress_unit: Literal['epoch', 'samples'] = 'epoch'

  def __init__(self, scale: Scale = 'mini', *, data_dir: str | None = None,
               synthetic: bool = False, compute_dtype: str = 'float32'):
    if scale not in self.scales:
      raise ValueError(f'workload {self.name!r} has no scale {scale!r}; valid: '
                       f'{sorted(self.scales)}')
    self.scale = scale
    self.config = self.scales[scale]
    self.data_dir = data_dir
    self.synthetic = synthetic
    if compute_dtype not in ('float32', 'bfloat16'):
      raise ValueError(f'compute dtype {compute_dtype!r} is not supported; '
                       "valid: 'float32', 'bfloat16'")
    self.compute_dtype = compute_dtype

  # ---- hyperparameters -----------------------------------------------------

  @abc.abstractmethod
  def hparams(self, opt_name: str) -> tuple[registry.HParam, ...]:
    """Every hyperparameter of a run with optimizer `opt_name`, in log order."""

  def optimizer_names(self) -> list[str]:
    return registry.names(self.name)

  def default_opt_name(self) -> str:
    return self.config.defaults['opt_name']

  def optimizer(self, hp: Mapping[str, Any]) -> registry.OptimizerEntry:
    return registry.get(self.name, hp['opt_name'])

  def global_batch_size(self, hp: Mapping[str, Any]) -> int:
    return int(hp['global_batch_size'])

  def logged_train_samples(self, hp: Mapping[str, Any]) -> int:
    """The MLLOG `train_samples` value (default: the training-set size)."""
    del hp
    return self.config.train_samples

  def extra_mllog_items(self, hp: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Workload keys logged besides the hyperparameters (e.g. fixed sizes)."""
    del hp
    return []

  # ---- model ---------------------------------------------------------------

  @abc.abstractmethod
  def init(self, rng: jax.Array, hp: Mapping[str, Any]) -> tuple[PyTree, PyTree]:
    """(params, model_state); params may carry logical partitioning boxes."""

  @abc.abstractmethod
  def loss(self, params: PyTree, model_state: PyTree, batch: Batch,
           rng: jax.Array, hp: Mapping[str, Any]
           ) -> tuple[jax.Array, jax.Array, tuple[PyTree, dict[str, jax.Array]]]:
    """(summed loss, number of valid examples, (new model_state, metrics))."""

  @abc.abstractmethod
  def eval_step(self, params: PyTree, model_state: PyTree, batch: Batch,
                hp: Mapping[str, Any]) -> dict[str, jax.Array]:
    """Device-side eval of one padded batch (uses `batch['mask']`)."""

  @abc.abstractmethod
  def eval_accumulator(self) -> EvalAccumulator:
    """A fresh host-side accumulator for one evaluation pass."""

  @abc.abstractmethod
  def decay_mask(self, params: PyTree) -> PyTree:
    """Bool pytree: True where weight decay applies (not BN/bias)."""

  def logical_axis_rules(self) -> Sequence[tuple[str, Any]]:
    """Logical parameter axis name -> mesh axis (None: replicated)."""
    return ()

  def memory_report(self, hp: Mapping[str, Any], mesh_shape: Mapping[str, int]
                    ) -> str | None:
    """Per-device memory estimate from abstract shapes, before allocation.

    Workloads whose state may not fit (DLRM's tables) return a text for
    `--dry-run` and raise `mlperf_jax.models.dlrm_embedding.MemoryBudgetError` (a
    ValueError) with the estimate when it cannot fit; None: no check.
    """
    del hp, mesh_shape
    return None

  def load_init_checkpoint(self, path: str, abstract_params: PyTree,
                           hp: Mapping[str, Any]) -> PyTree:
    """Parameters read from a reference checkpoint (`--init-checkpoint`).

    Returns host arrays shaped like `abstract_params`; raises ValueError
    naming every problem.
    """
    raise ValueError(f'workload {self.name!r} does not start from a '
                     'checkpoint; drop --init-checkpoint')

  def init_tensor_names(self, params: PyTree) -> list[str]:
    """Names for `weights_initialization` events (1.1.0 rulesets)."""
    del params
    return []

  # ---- inference -----------------------------------------------------------

  def predict(self, params: PyTree, model_state: PyTree, inputs: jax.Array
              ) -> jax.Array:
    """Serving function: a batch of inputs -> per-sample responses."""
    raise NotImplementedError(f'workload {self.name!r} has no serving '
                              'function yet')

  def inference_set(self) -> InferenceSet:
    raise NotImplementedError(f'workload {self.name!r} has no inference set '
                              'yet')

  # ---- data ----------------------------------------------------------------

  @abc.abstractmethod
  def batch_spec(self, hp: Mapping[str, Any], *, train: bool
                 ) -> dict[str, jax.ShapeDtypeStruct]:
    """Global shapes/dtypes of one train or eval batch (eval has 'mask')."""

  @abc.abstractmethod
  def train_batches(self, hp: Mapping[str, Any], *, seed: int,
                    host: HostShard, start_step: int = 0
                    ) -> Iterator[HostBatch]:
    """Infinite per-host stream of training batches."""

  @abc.abstractmethod
  def eval_batches(self, hp: Mapping[str, Any], *, host: HostShard
                   ) -> Iterable[HostBatch]:
    """Per-host padded eval batches covering the whole eval set once."""

  # ---- schedule ------------------------------------------------------------

  def steps_per_epoch(self, hp: Mapping[str, Any]) -> int:
    samples = self.config.train_samples
    return max(1, math.ceil(samples / self.global_batch_size(hp)))

  def eval_every_epochs(self, hp: Mapping[str, Any]) -> int:
    """Epochs between evaluations at this scale."""
    del hp
    return 1

  def first_eval_epochs(self, hp: Mapping[str, Any]) -> int:
    """Epochs before the first evaluation."""
    return self.eval_every_epochs(hp)

  def blocks(self, hp: Mapping[str, Any], max_epochs: int
             ) -> Iterator[Block]:
    """Blocks of the run, up to `max_epochs` epochs, each followed by eval."""
    spe = self.steps_per_epoch(hp)
    done = 0
    size = self.first_eval_epochs(hp)
    while done < max_epochs:
      size = min(size, max_epochs - done)
      yield Block(first_epoch_num=done + 1, epoch_count=size, steps=size * spe,
                  eval_epoch_num=done + size)
      done += size
      size = self.eval_every_epochs(hp)

  def default_max_epochs(self, hp: Mapping[str, Any]) -> int:
    """Budget used when the user gives none."""
    del hp
    return 100
