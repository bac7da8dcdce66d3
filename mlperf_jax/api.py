# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The interfaces every workload implements and the runtime relies on.

A workload is one MLPerf benchmark; a `Variant` is one scale of it (mini or
reference) and holds, as data, everything the two scales differ in: target,
dataset sizes, run count, hyperparameter defaults, rulesets, model config,
data sources, evaluation cadence. The `Workload` class is scale-agnostic:
it reads `self.variant` and never branches on the scale's name.

The runtime (`mlperf_jax.runtime`) only talks to these interfaces, so
detection (variable numbers of boxes), sliding-window segmentation,
transducer losses and MiniGo's self-play fit without changing it:

* eval is a jitted `eval_step` returning per-batch device outputs plus a
  host-side `EvalAccumulator` turning all of them into the metric;
* the run is a sequence of `Block`s (train steps, then an optional eval)
  produced by the workload; `run_block` is the hook a benchmark whose
  "epoch" is a self-play generation overrides;
* `buckets` lists several compiled shapes for train and eval steps (RNN-T
  lengths, U-Net volumes); the runtime compiles one executable per bucket;
* `param_labels` says what each parameter is ('kernel', 'bias', 'norm',
  'embedding'); optimizers derive their masks and groups from the labels;
* `inference` returns an `InferenceSpec`: pytree samples, buckets per
  scenario, the serving function, response encoding and accuracy scoring.

This module imports no JAX, so that the CLI validates its input fast.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import math
import types
from typing import (Any, Callable, ClassVar, Iterable, Iterator, Literal,
                    Mapping, Protocol, Sequence)

import numpy as np

from mlperf_jax.hparams import registry

PyTree = Any
Batch = Mapping[str, Any]          # global device arrays, by feature name
HostBatch = dict[str, np.ndarray]  # this host's share of a batch
Scale = Literal['mini', 'reference']
SCALES: tuple[str, ...] = ('mini', 'reference')
ParamLabel = str                   # one of registry.PARAM_LABELS


class LazyModule(types.ModuleType):
  """A module imported on first attribute access.

  Workload modules name their model and input-pipeline modules (which import
  JAX and Flax) through this, so that reading a workload's variants and
  hyperparameters, which the CLI validates, imports no JAX.
  """

  def __init__(self, name: str):
    super().__init__(name)
    self.__dict__['_lazy_name'] = name

  def __getattr__(self, attr: str) -> Any:
    module = importlib.import_module(self.__dict__['_lazy_name'])
    return getattr(module, attr)


@dataclasses.dataclass(frozen=True)
class Target:
  """The quality target: `metric` of the eval result compared with `value`."""
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
    import jax  # pylint: disable=import-outside-toplevel
    return cls(jax.process_index(), jax.process_count())


# A data source: (workload, data_dir, hp, *, seed, host, start_step) -> an
# infinite iterator of this host's training batches; eval sources take
# (workload, data_dir, hp, *, global_batch_size, host) and yield padded,
# masked batches covering the eval set exactly once.
TrainData = Callable[..., Iterator[HostBatch]]
EvalData = Callable[..., Iterable[HostBatch]]


@dataclasses.dataclass(frozen=True)
class Variant:
  """One scale of a workload: what mini and reference differ in, as data.

  Attributes:
    scale: 'mini' or 'reference'.
    benchmark: MLLOG `submission_benchmark` value ('resnet', 'mini_resnet').
    target: quality target.
    train_samples: training-set size (logged as `train_samples`).
    eval_samples: evaluation-set size (logged as `eval_samples`).
    num_runs: runs a result needs (olympic scoring).
    olympic_drop: runs dropped at each end by the olympic mean.
    rulesets: compliance rulesets a log of this scale must pass (`compliance`
      and `check` use them).
    defaults: hyperparameter defaults by MLLOG key for this scale.
    model: the model config (a workload-specific dataclass; the compute
      dtype is filled in by the workload).
    train_data / eval_data: the data sources (see `TrainData`, `EvalData`).
    needs_data_dir: the sources read a prepared dataset from `--data-dir`.
    eval_batch_size: global eval batch; None: the training batch size.
    eval_every_epochs / first_eval_epochs: evaluation cadence in epochs
      (workloads with their own `blocks` ignore them).
    max_epochs: the epoch budget when the user gives none.
    log_init_tensors: log `weights_initialization` per tensor (1.1.0).
    mlperf_conf_model: the model name in LoadGen's mlperf.conf, or None.
    extra: workload-specific constants of the variant (sequence length,
      image shape, ...).
  """
  scale: Scale
  benchmark: str
  target: Target
  train_samples: int
  eval_samples: int
  num_runs: int
  model: Any
  train_data: TrainData
  eval_data: EvalData
  olympic_drop: int = 1
  rulesets: tuple[str, ...] = ()
  defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  needs_data_dir: bool = False
  eval_batch_size: int | None = None
  eval_every_epochs: int = 1
  first_eval_epochs: int | None = None
  max_epochs: int = 100
  log_init_tensors: bool = False
  mlperf_conf_model: str | None = None
  extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  @property
  def is_result(self) -> bool:
    """Only the reference scale can be an MLPerf result."""
    return self.scale == 'reference'


class EvalAccumulator(Protocol):
  """Host-side reduction of eval outputs into the metric."""

  def add(self, outputs: Mapping[str, np.ndarray]) -> None:
    ...

  def result(self) -> dict[str, float]:
    ...


def scenario_buckets(table: Mapping[str, Sequence[int]]
                     ) -> Callable[[str], tuple[int, ...]]:
  """`InferenceSpec.buckets` from a table of scenario -> batch sizes; an
  unknown scenario is a ValueError naming the valid ones."""

  def buckets(scenario: str) -> tuple[int, ...]:
    try:
      return tuple(table[scenario])
    except KeyError:
      raise ValueError(f'no inference buckets for scenario {scenario!r}; '
                       f'valid: {sorted(table)}') from None

  return buckets


@dataclasses.dataclass(frozen=True)
class InferenceSpec:
  """What MLPerf Inference needs of a workload.

  Attributes:
    count: samples in the accuracy set (the QSL's total count).
    performance_count: samples loaded for performance runs.
    load_sample: index -> one sample, a pytree (dict) of host arrays
      (untimed; the QSL calls it when LoadGen loads samples).
    buckets: scenario name -> batch sizes compiled for it (ascending).
    predict: (params, model_state, batch pytree) -> output pytree with a
      leading batch axis; jitted by the serving layer.
    encode: (host outputs pytree, row) -> response bytes for that sample.
    accuracy: ({sample index: response bytes}) -> metrics dict, with the
      target metric under `metric` (what the accuracy script prints).
    metric: the name of the accuracy metric.
    collate: list of sample pytrees (and a padded size) -> one batch pytree;
      default: stack each leaf and pad by repeating the last sample.
    batch_inputs: bucket -> the input pytree of `jax.ShapeDtypeStruct`s its
      executable is compiled for; default: the collate of sample 0 (set it
      when samples differ in shape, e.g. whole volumes served by windows).
    run_samples: (execute, samples) -> host outputs with one row per sample,
      for samples that are not one batch row each (the U-Net's volumes of
      any shape, each served by a sliding window of fixed-shape window
      batches): `execute(bucket, batch)` runs that bucket's executable; the
      SUT hands it at most the largest bucket's count of samples at a time.
      Default None: collate the samples into one padded bucket batch.
  """
  count: int
  performance_count: int
  load_sample: Callable[[int], Mapping[str, np.ndarray]]
  buckets: Callable[[str], Sequence[int]]
  predict: Callable[..., Any]
  encode: Callable[[Any, int], bytes]
  accuracy: Callable[[Mapping[int, bytes]], dict[str, float]]
  metric: str
  collate: Callable[[Sequence[Mapping[str, np.ndarray]], int],
                    dict[str, np.ndarray]] | None = None
  batch_inputs: Callable[[int], Any] | None = None
  run_samples: Callable[[Callable[[int, Any], Any],
                         Sequence[Mapping[str, np.ndarray]]], Any] | None = None


def stack_samples(samples: Sequence[Mapping[str, np.ndarray]], size: int
                  ) -> dict[str, np.ndarray]:
  """Stacks sample pytrees into a batch of `size` rows (pads by repeating
  the last sample; the padded rows' outputs are discarded)."""
  if not samples:
    raise ValueError('cannot collate an empty list of samples')
  rows = list(samples) + [samples[-1]] * (size - len(samples))
  return {k: np.stack([np.asarray(s[k]) for s in rows]) for k in samples[0]}


class Workload(abc.ABC):
  """One MLPerf training benchmark; `self.variant` holds the scale's data.

  Subclasses set `name` and `variants` and implement the abstract methods.
  Model-side methods are pure functions of their arguments (they are traced
  by `jax.jit`); hyperparameters arrive resolved, keyed by MLLOG name.
  """

  name: ClassVar[str] = ''
  variants: ClassVar[Mapping[str, Variant]] = {}
  # What `Block.first_epoch_num` / `epoch_count` count: 'epoch' or a sample
  # unit (BERT counts training samples). Used for labels only.
  progress_unit: ClassVar[str] = 'epoch'

  def __init__(self, scale: Scale = 'mini', *, data_dir: str | None = None,
               synthetic: bool = False, compute_dtype: str = 'float32'):
    if scale not in self.variants:
      raise ValueError(f'workload {self.name!r} has no scale {scale!r}; valid: '
                       f'{sorted(self.variants)}')
    if compute_dtype not in ('float32', 'bfloat16'):
      raise ValueError(f'compute dtype {compute_dtype!r} is not supported; '
                       "valid: 'float32', 'bfloat16'")
    self.scale = scale
    self.data_dir = data_dir
    self.synthetic = synthetic
    self.compute_dtype = compute_dtype

  @property
  def variant(self) -> Variant:
    return self.variants[self.scale]

  # ---- hyperparameters -----------------------------------------------------

  @abc.abstractmethod
  def hparams(self, opt_name: str) -> tuple[registry.HParam, ...]:
    """Every hyperparameter of a run with optimizer `opt_name`, in log order."""

  def optimizer_names(self) -> list[str]:
    return registry.names(self.name)

  def default_opt_name(self) -> str:
    """The variant's `opt_name` default, else the reference's (the
    registry's `opt_name` entry)."""
    if 'opt_name' in self.variant.defaults:
      return self.variant.defaults['opt_name']
    first = self.hparams(self.optimizer_names()[0])
    return next(h.default for h in first if h.key == 'opt_name')

  def optimizer(self, hp: Mapping[str, Any]) -> registry.OptimizerEntry:
    return registry.get(self.name, hp['opt_name'])

  def resolve_hparams(self, overrides: Mapping[str, Any] = (),
                      division: str = 'closed') -> dict[str, Any]:
    """Defaults of the variant + overrides, validated by the rules."""
    overrides = dict(overrides)
    opt_name = overrides.get('opt_name', self.default_opt_name())
    return registry.resolve(self.hparams(opt_name), self.variant.defaults,
                            overrides, division=division)

  def global_batch_size(self, hp: Mapping[str, Any]) -> int:
    return int(hp['global_batch_size'])

  def logged_train_samples(self, hp: Mapping[str, Any]) -> int:
    """The MLLOG `train_samples` value (default: the training-set size)."""
    del hp
    return self.variant.train_samples

  def accuracy_value(self, metrics: Mapping[str, float]) -> Any:
    """The MLLOG `eval_accuracy` value of an evaluation (default: the
    target metric; Mask R-CNN logs {"BBOX": b, "SEGM": s})."""
    return metrics[self.variant.target.metric]

  def extra_mllog_items(self, hp: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Workload keys logged besides the hyperparameters (e.g. fixed sizes)."""
    del hp
    return []

  # ---- model ---------------------------------------------------------------

  @abc.abstractmethod
  def init(self, rng, hp: Mapping[str, Any]) -> tuple[PyTree, PyTree]:
    """(params, model_state); params may carry logical partitioning boxes."""

  @abc.abstractmethod
  def loss(self, params: PyTree, model_state: PyTree, batch: Batch, rng,
           hp: Mapping[str, Any]) -> tuple[Any, Any, tuple[PyTree, dict]]:
    """(summed loss, number of valid examples, (new model_state, metrics))."""

  @abc.abstractmethod
  def eval_step(self, params: PyTree, model_state: PyTree, batch: Batch,
                hp: Mapping[str, Any]) -> dict[str, Any]:
    """Device-side eval of one padded batch (uses `batch['mask']`)."""

  @abc.abstractmethod
  def eval_accumulator(self) -> EvalAccumulator:
    """A fresh host-side accumulator for one evaluation pass."""

  @abc.abstractmethod
  def param_labels(self, params: PyTree) -> PyTree:
    """Pytree of labels ('kernel' | 'bias' | 'norm' | 'embedding') shaped
    like `params`; optimizers derive weight-decay masks and groups from it."""

  def logical_axis_rules(self) -> Sequence[tuple[str, Any]]:
    """Logical parameter axis name -> mesh axis (None: replicated)."""
    return ()

  def memory_report(self, hp: Mapping[str, Any], mesh_shape: Mapping[str, int]
                    ) -> str | None:
    """Per-device memory estimate from abstract shapes, before allocation.

    Workloads whose state may not fit (DLRM's tables) return a text for
    `--dry-run` and raise a ValueError with the estimate when it cannot
    fit; None: no check.
    """
    del hp, mesh_shape
    return None

  def load_init_checkpoint(self, path: str, abstract_params: PyTree,
                           hp: Mapping[str, Any]) -> PyTree:
    """Parameters read from a reference checkpoint (`--init-checkpoint`).

    Returns host arrays shaped like `abstract_params`; raises ValueError
    naming every problem. A checkpoint that holds only part of the model,
    or model state too, implements `load_init_state` instead.
    """
    raise ValueError(f'workload {self.name!r} does not start from a '
                     'checkpoint; drop --init-checkpoint')

  def load_init_state(self, path: str, params: PyTree, model_state: PyTree,
                      hp: Mapping[str, Any]) -> tuple[PyTree, PyTree]:
    """(params, model_state) a run starts from with `--init-checkpoint`.

    Gets the run's freshly initialised values (unboxed `jax.Array`s, maybe
    sharded: `jax.device_get` what is read) and returns both trees with the
    same structure, shapes and dtypes (host or device arrays), so that a
    checkpoint of a part (an ImageNet backbone) fills that part, state
    included (BatchNorm statistics, frozen affine), and the rest keeps the
    run's own seeded init. Raises ValueError naming every problem.

    Default: every parameter from `load_init_checkpoint` (given the
    parameters' shapes), the model state as initialised.
    """
    import jax  # pylint: disable=import-outside-toplevel
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                            params)
    return self.load_init_checkpoint(path, abstract, hp), model_state

  def check_request(self, hp: Mapping[str, Any], *, division: str,
                    init_checkpoint: str | None, dry_run: bool) -> list[str]:
    """Problems with this request that only the workload can see.

    Called by the CLI's argument checking, before JAX is imported and before
    anything is compiled or written: each string names one problem and its
    fix (e.g. a dataset whose layout or counts are wrong, or a closed run
    that must start from the reference checkpoint). All of them are
    reported together and the command exits 2.
    """
    del hp, division, init_checkpoint, dry_run
    return []

  @classmethod
  def starts_from_checkpoint(cls) -> bool:
    return (cls.load_init_checkpoint is not Workload.load_init_checkpoint
            or cls.load_init_state is not Workload.load_init_state)

  def init_tensor_names(self, params: PyTree) -> list[str]:
    """Names for `weights_initialization` events (1.1.0 rulesets); only
    logged when the variant says so."""
    del params
    return []

  # ---- data ----------------------------------------------------------------

  @abc.abstractmethod
  def batch_spec(self, hp: Mapping[str, Any], *, train: bool,
                 bucket: Any = None) -> dict[str, Any]:
    """Global `jax.ShapeDtypeStruct`s of one train or eval batch of `bucket`
    (eval batches carry a float 'mask')."""

  def buckets(self, hp: Mapping[str, Any], *, train: bool) -> tuple[Any, ...]:
    """The compiled shapes: one train/eval executable per bucket."""
    del hp, train
    return (None,)

  def synthetic_bounds(self, hp: Mapping[str, Any]) -> Mapping[str, int]:
    """Exclusive upper bound of each integer feature of synthetic batches
    (class counts, vocabulary and table sizes); default 2."""
    del hp
    return {}

  def eval_batch_size(self, hp: Mapping[str, Any]) -> int:
    """Global eval batch: the variant's, or the training batch size
    (synthetic data always uses the training batch size)."""
    if self.synthetic or self.variant.eval_batch_size is None:
      return self.global_batch_size(hp)
    return self.variant.eval_batch_size

  def train_batches(self, hp: Mapping[str, Any], *, seed: int,
                    host: HostShard, start_step: int = 0
                    ) -> Iterator[HostBatch]:
    """Infinite per-host stream of training batches."""
    if self.synthetic:
      from mlperf_jax.input_pipelines import synthetic  # pylint: disable=import-outside-toplevel
      return synthetic.train_batches_from_spec(
          self.batch_spec(hp, train=True), self.synthetic_bounds(hp),
          seed=seed, host=host, start_step=start_step)
    return self.variant.train_data(self, self.data_dir, hp, seed=seed,
                                   host=host, start_step=start_step)

  def eval_batches(self, hp: Mapping[str, Any], *, host: HostShard
                   ) -> Iterable[HostBatch]:
    """Per-host padded eval batches covering the whole eval set once."""
    if self.synthetic:
      from mlperf_jax.input_pipelines import synthetic  # pylint: disable=import-outside-toplevel
      return synthetic.eval_batches_from_spec(
          self.batch_spec(hp, train=False), self.synthetic_bounds(hp),
          host=host)
    return self.variant.eval_data(
        self, self.data_dir, hp, global_batch_size=self.eval_batch_size(hp),
        host=host)

  # ---- schedule ------------------------------------------------------------

  def steps_per_epoch(self, hp: Mapping[str, Any]) -> int:
    samples = self.variant.train_samples
    return max(1, math.ceil(samples / self.global_batch_size(hp)))

  def default_max_epochs(self, hp: Mapping[str, Any]) -> int:
    del hp
    return self.variant.max_epochs

  def blocks(self, hp: Mapping[str, Any], max_epochs: int
             ) -> Iterator[Block]:
    """Blocks of the run, up to `max_epochs` epochs, each followed by eval."""
    spe = self.steps_per_epoch(hp)
    every = self.variant.eval_every_epochs
    done = 0
    size = self.variant.first_eval_epochs or every
    while done < max_epochs:
      size = min(size, max_epochs - done)
      yield Block(first_epoch_num=done + 1, epoch_count=size, steps=size * spe,
                  eval_epoch_num=done + size)
      done += size
      size = every

  def run_block(self, ctx: 'BlockContext', block: Block) -> str | None:
    """Runs one block's training; returns the runtime's action (None,
    'stop' or 'diverged'). MiniGo: self-play a generation, then train."""
    del block
    return ctx.train()

  def epoch_num_after(self, block: Block, steps_done: int,
                      hp: Mapping[str, Any]) -> float:
    """`epoch_num` of an evaluation after `steps_done` of the block's steps
    (less than `block.steps` when a budget cut the block short)."""
    del hp
    if steps_done >= block.steps:
      return block.eval_epoch_num
    # The share of the block that ran (epochs may be fractional).
    return round(block.eval_epoch_num - block.epoch_count *
                 (1 - steps_done / block.steps), 3)

  def block_label(self, block: Block) -> str:
    """'train epochs 5-8' for whole epochs, else the fractional range."""
    first, count = block.first_epoch_num, block.epoch_count
    if all(float(x).is_integer() for x in (first, count)):
      return f'train epochs {int(first)}-{int(first + count - 1)}'
    return f'train epochs {first:g} to {first + count:g}'

  # ---- inference -----------------------------------------------------------

  def inference(self) -> InferenceSpec:
    raise NotImplementedError(
        f'workload {self.name!r} has no inference model yet')

  def serving_param_axes(self) -> PyTree | None:
    """The served model's abstract parameters with their logical-axis
    boxes (`nn.LogicallyPartitioned`, as `jax.eval_shape` of its init
    gives them), for tensor-parallel serving (`infer --tensor-parallel N`,
    `inference/tensor_parallel.py`, with `logical_axis_rules`). None (the
    default): the workload has no tensor-parallel serving."""
    return None

  def load_serving_checkpoint(self, path: str) -> tuple[PyTree, PyTree]:
    """(params, model_state) to serve, read from `infer --checkpoint path`.

    Default: the `final_params` directory a `train` run saves
    (`runtime/checkpoint.load_final_params`). Workloads that also read the
    reference's own format override it (BERT: the fine-tuned TF checkpoint;
    SSD: the reference's weights). Raises ValueError / OSError naming the
    problem (`inference/run.py` reports it as bad input).
    """
    from mlperf_jax.runtime import checkpoint  # pylint: disable=import-outside-toplevel
    return checkpoint.load_final_params(path, self)


class BlockContext(Protocol):
  """What `Workload.run_block` gets from the runtime."""

  def train(self, steps: int | None = None) -> str | None:
    """Trains the rest of the block (or `steps` of it); returns the action."""
    ...

  @property
  def state(self) -> Any:
    """The current train state (read-only between `train` calls)."""
    ...
