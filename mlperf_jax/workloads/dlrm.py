# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""DLRM on Criteo 1TB (reference) and on a synthetic click log (mini).

Reference: MLPerf Training v1.x recommendation, ROC AUC 0.8025 on the first
half of day 23 (89,137,319 samples), 4,195,197,692 training samples (days
0-22), 20 evaluations per epoch logged at `epoch_num` 1.05, 1.10, ...,
plain SGD with the reference warmup/poly-2 schedule. Tables are sharded over
the mesh by `mlperf_jax.models.dlrm_embedding`; the MLPs are data parallel.

Mini: a scaled-down DLRM (tables capped at 1,000 rows, dimension 16) on
`input_pipelines.synthetic_clicks`, whose Bayes-optimal eval AUC is known;
the target is a fixed fraction of it. Not an MLPerf result.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mlperf_jax.models import dlrm_embedding as ep
from mlperf_jax.metrics import auc as metrics_auc
from mlperf_jax.input_pipelines import batching
from mlperf_jax.input_pipelines import synthetic_clicks
from mlperf_jax.models import dlrm as dlrm_model
from mlperf_jax.hparams import dlrm as dlrm_optim
from mlperf_jax.hparams import registry
from mlperf_jax.api import (Block, HostBatch, ScaleConfig,
                                 Target, Workload)

CRITEO_TRAIN = 4_195_197_692
CRITEO_EVAL = 89_137_319
EVALS_PER_EPOCH = 20
NOTICE_KEY = 'mlperf_jax_notice'

MINI_ROWS = tuple(min(r, 1000) for r in dlrm_model.CRITEO_1TB_ROWS)
MINI_SPEC = synthetic_clicks.ClickSpec(MINI_ROWS)
# `synthetic_clicks.bayes_auc(MINI_SPEC)`, checked by the tests.
MINI_BAYES_AUC = 0.9235787629386254
MINI_TARGET_FRACTION = 0.88
MINI_TARGET = round(MINI_TARGET_FRACTION * MINI_BAYES_AUC, 4)

_MINI_DEFAULTS = {
    'global_batch_size': 1024,
    'opt_base_learning_rate': 1.0,
    'opt_learning_rate_warmup_steps': 32,
    'lr_decay_start_steps': 256,
    'sgd_opt_learning_rate_decay_steps': 768,
}

SCALES = {
    'reference': ScaleConfig(
        scale='reference', benchmark='dlrm', target=Target('auc', 0.8025),
        train_samples=CRITEO_TRAIN, eval_samples=CRITEO_EVAL,
        eval_batch_size=16384, defaults={}, rulesets=('1.1.0',), num_runs=5),
    'mini': ScaleConfig(
        scale='mini', benchmark='mini_dlrm', target=Target('auc', MINI_TARGET),
        train_samples=MINI_SPEC.train_samples,
        eval_samples=MINI_SPEC.eval_samples, eval_batch_size=8192,
        defaults=_MINI_DEFAULTS, rulesets=('mini',), num_runs=5),
}


class DlrmWorkload(Workload):
  """MLPerf recommendation (`dlrm`)."""

  name = 'dlrm'
  scales = SCALES

  # ---- hyperparameters -----------------------------------------------------

  def hparams(self, opt_name: str) -> tuple[registry.HParam, ...]:
    return dlrm_optim.hparams(opt_name, synthetic=self.synthetic)

  def default_opt_name(self) -> str:
    return 'sgd'

  def default_max_epochs(self, hp):
    return 1 if self.scale == 'reference' else 4

  def extra_mllog_items(self, hp):
    if int(hp['max_ind_range']) < dlrm_model.MAX_IND_RANGE:
      return [(NOTICE_KEY, f'embedding tables capped at '
               f'max_ind_range={hp["max_ind_range"]} rows (the reference '
               f'uses {dlrm_model.MAX_IND_RANGE}) so that this synthetic '
               'smoke run fits the machine; NOT an MLPerf result')]
    return []

  # ---- model ---------------------------------------------------------------

  def model_config(self, hp: Mapping[str, Any], num_shards: int | None = None
                   ) -> dlrm_model.DlrmConfig:
    shards = jax.device_count() if num_shards is None else num_shards
    dtype = jnp.bfloat16 if self.compute_dtype == 'bfloat16' else jnp.float32
    if self.scale == 'reference':
      return dlrm_model.reference_config(
          int(hp['max_ind_range']), num_shards=shards, dtype=dtype)
    return dlrm_model.DlrmConfig(
        table_rows=MINI_ROWS, embedding_dim=16, bottom_mlp=(64, 16),
        top_mlp=(64, 32, 1), num_shards=shards, dtype=dtype)

  def model(self, hp: Mapping[str, Any] | None = None) -> dlrm_model.Dlrm:
    hp = hp or {'max_ind_range': dlrm_model.MAX_IND_RANGE}
    return dlrm_model.Dlrm(self.model_config(hp))

  def init(self, rng, hp):
    cfg = self.model_config(hp)
    # A batch the mesh can split (the lookup is sharded under a mesh).
    b = cfg.plan.num_shards
    variables = dlrm_model.Dlrm(cfg).init(
        rng, jnp.zeros((b, cfg.num_dense), jnp.float32),
        jnp.zeros((b, cfg.num_tables), jnp.int32))
    return variables['params'], {}

  def _logits(self, params, batch, hp):
    return dlrm_model.Dlrm(self.model_config(hp)).apply(
        {'params': params}, batch['dense'], batch['sparse'])

  def loss(self, params, model_state, batch, rng, hp):
    del rng
    logits = self._logits(params, batch, hp)
    per_example = optax.sigmoid_binary_cross_entropy(logits, batch['label'])
    return (jnp.sum(per_example),
            jnp.asarray(per_example.shape[0], jnp.float32), (model_state, {}))

  def eval_step(self, params, model_state, batch, hp):
    del model_state
    score = jax.nn.sigmoid(self._logits(params, batch, hp))
    return {'score': score, 'label': batch['label'], 'mask': batch['mask']}

  def eval_accumulator(self):
    expected = 0 if self.synthetic else self.config.eval_samples
    return metrics_auc.AucAccumulator(expected=expected)

  def decay_mask(self, params):
    return jax.tree.map(lambda _: False, params)  # no weight decay

  def logical_axis_rules(self):
    return dlrm_model.LOGICAL_AXIS_RULES

  def init_tensor_names(self, params):
    if self.scale != 'reference':
      return []
    return dlrm_model.init_tensor_names(nn.meta.unbox(params))

  # ---- memory --------------------------------------------------------------

  def memory_report(self, hp: Mapping[str, Any], mesh_shape: Mapping[str, int]
                    ) -> str:
    """Plan + per-device memory estimate; raises MemoryBudgetError if too big."""
    shards = int(np.prod(list(mesh_shape.values())))
    cfg = self.model_config(hp, num_shards=shards)
    plan = cfg.plan
    widths = [cfg.num_dense, *cfg.bottom_mlp, cfg.interaction_width,
              *cfg.top_mlp]
    est = ep.estimate(
        plan, dim=cfg.embedding_dim, dense_param_count=cfg.dense_param_count(),
        global_batch_size=int(hp['global_batch_size']),
        batch_shards=mesh_shape.get('data', 1) * mesh_shape.get('fsdp', 1),
        mlp_widths=widths)
    capacity, source = ep.device_memory_bytes()
    mesh = ', '.join(f'{k}={v}' for k, v in mesh_shape.items())
    ep.check_fits(est, capacity, source,
                  f'DLRM ({self.scale} scale, {sum(cfg.table_rows):,} '
                  f'embedding rows) on mesh {mesh}')
    return '\n'.join([plan.describe(), est.describe() +
                      f' (device: {capacity / 2**30:.2f} GiB, {source})'])

  # ---- data ----------------------------------------------------------------

  def _eval_batch_size(self, hp) -> int:
    if self.synthetic:
      return int(hp['global_batch_size'])
    return self.config.eval_batch_size

  def batch_spec(self, hp, *, train):
    b = int(hp['global_batch_size']) if train else self._eval_batch_size(hp)
    spec = {'dense': jax.ShapeDtypeStruct((b, 13), jnp.float32),
            'sparse': jax.ShapeDtypeStruct((b, 26), jnp.int32),
            'label': jax.ShapeDtypeStruct((b,), jnp.float32)}
    if not train:
      spec['mask'] = jax.ShapeDtypeStruct((b,), jnp.float32)
    return spec

  def _synthetic_batches(self, hp, host, seed, count, train):
    rows = np.asarray(self.model_config(hp, num_shards=1).table_rows)
    per = self._eval_batch_size(hp) if not train else int(
        hp['global_batch_size'])
    per //= host.count
    rng = np.random.default_rng((seed, host.index))
    pool = []
    for i in range(count):
      b = {'dense': np.log1p(rng.integers(0, 100, (per, 13))).astype(
               np.float32),
           'sparse': (rng.random((per, 26)) * rows).astype(np.int32),
           'label': (rng.random(per) < 0.25).astype(np.float32)}
      if not train:
        b['mask'] = np.ones(per, np.float32)
        if i == count - 1:
          b['mask'][per // 2:] = 0.0
      pool.append(b)
    return pool

  def train_batches(self, hp, *, seed, host, start_step=0
                    ) -> Iterator[HostBatch]:
    gbs = int(hp['global_batch_size'])
    if self.synthetic:
      pool = self._synthetic_batches(hp, host, seed, 4, True)
      return (pool[i % len(pool)] for i in _count(start_step))
    if self.scale == 'mini':
      train, _ = synthetic_clicks.generate(MINI_SPEC)
      return batching.train_batches(
          MINI_SPEC.train_samples, synthetic_clicks.load_fn(train),
          global_batch_size=gbs, seed=seed, host_index=host.index,
          host_count=host.count, start_step=start_step)
    from mlperf_jax.input_pipelines import criteo  # pylint: disable=import-outside-toplevel
    return criteo.train_batches(
        self.data_dir, global_batch_size=gbs, seed=seed, host=host,
        start_step=start_step, max_ind_range=int(hp['max_ind_range']))

  def eval_batches(self, hp, *, host) -> Iterable[HostBatch]:
    eb = self._eval_batch_size(hp)
    if self.synthetic:
      return self._synthetic_batches(hp, host, 0, 2, False)
    if self.scale == 'mini':
      _, ev = synthetic_clicks.generate(MINI_SPEC)
      return batching.eval_batches(
          MINI_SPEC.eval_samples, synthetic_clicks.load_fn(ev),
          global_batch_size=eb, host_index=host.index, host_count=host.count)
    from mlperf_jax.input_pipelines import criteo  # pylint: disable=import-outside-toplevel
    return criteo.eval_batches(
        self.data_dir, global_batch_size=eb, host=host,
        max_ind_range=int(hp['max_ind_range']))

  # ---- schedule ------------------------------------------------------------

  def blocks(self, hp, max_epochs):
    """20 evaluations per epoch at `epoch_num` = 1 + fraction (reference).

    Evaluation `i` of epoch `k` (both from 1) follows step
    `ceil(i * spe / 20)` of the epoch and is logged at
    `k + that step / spe`, the reference's `(j + 1) / len(train_ld) + k`.
    """
    spe = self.steps_per_epoch(hp)
    for k in range(max_epochs):
      prev = 0
      for i in range(1, EVALS_PER_EPOCH + 1):
        end = -(-i * spe // EVALS_PER_EPOCH)
        if end == prev:
          continue
        yield Block(first_epoch_num=round(k + 1 + prev / spe, 6),
                    epoch_count=round((end - prev) / spe, 6),
                    steps=end - prev,
                    eval_epoch_num=round(k + 1 + end / spe, 6))
        prev = end


def _count(start: int) -> Iterator[int]:
  while True:
    yield start
    start += 1

