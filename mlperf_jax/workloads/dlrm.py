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

from typing import Any, Mapping

from mlperf_jax.api import (Block, InferenceSpec, LazyModule, Target, Variant,
                            Workload, scenario_buckets)
from mlperf_jax.hparams import dlrm as dlrm_hparams
from mlperf_jax.hparams import registry

# Imported on first use: reading the variants imports no JAX.
jax = LazyModule('jax')
jnp = LazyModule('jax.numpy')
np = LazyModule('numpy')
nn = LazyModule('flax.linen')
optax = LazyModule('optax')
ep = LazyModule('mlperf_jax.models.dlrm_embedding')
dlrm_model = LazyModule('mlperf_jax.models.dlrm')
metrics_auc = LazyModule('mlperf_jax.metrics.auc')
batching = LazyModule('mlperf_jax.input_pipelines.batching')
synthetic_clicks = LazyModule('mlperf_jax.input_pipelines.synthetic_clicks')
criteo = LazyModule('mlperf_jax.input_pipelines.criteo')

CRITEO_TRAIN = 4_195_197_692
CRITEO_EVAL = 89_137_319
EVALS_PER_EPOCH = 20
NOTICE_KEY = 'mlperf_jax_notice'
# Rows per table in the mini model (the reference's, capped).
MINI_MAX_ROWS = 1000
# `synthetic_clicks.bayes_auc(mini_spec())`, checked by the tests.
MINI_BAYES_AUC = 0.9235787629386254
MINI_TARGET_FRACTION = 0.88
MINI_TARGET = round(MINI_TARGET_FRACTION * MINI_BAYES_AUC, 4)
# synthetic_clicks.ClickSpec defaults (checked by the tests).
MINI_TRAIN_SAMPLES = 262_144
MINI_EVAL_SAMPLES = 65_536


def mini_rows() -> tuple[int, ...]:
  return tuple(min(r, MINI_MAX_ROWS) for r in dlrm_model.CRITEO_1TB_ROWS)


def mini_spec():
  return synthetic_clicks.ClickSpec(mini_rows())


def _dtype(name: str):
  return jnp.bfloat16 if name == 'bfloat16' else jnp.float32


def _reference_model(dtype, hp, num_shards):
  return dlrm_model.reference_config(int(hp['max_ind_range']),
                                     num_shards=num_shards,
                                     dtype=_dtype(dtype))


def _mini_model(dtype, hp, num_shards):
  del hp
  return dlrm_model.DlrmConfig(
      table_rows=mini_rows(), embedding_dim=16, bottom_mlp=(64, 16),
      top_mlp=(64, 32, 1), num_shards=num_shards, dtype=_dtype(dtype))


# ---- data sources (signatures: see mlperf_jax.api.TrainData / EvalData) ----

def _clicks_train(wl, data_dir, hp, *, seed, host, start_step):
  del wl, data_dir
  spec = mini_spec()
  train, _ = synthetic_clicks.generate(spec)
  return batching.train_batches(
      spec.train_samples, synthetic_clicks.load_fn(train),
      global_batch_size=int(hp['global_batch_size']), seed=seed,
      host=host, start_step=start_step)


def _clicks_eval(wl, data_dir, hp, *, global_batch_size, host):
  del wl, data_dir, hp
  spec = mini_spec()
  _, ev = synthetic_clicks.generate(spec)
  return batching.eval_batches(
      spec.eval_samples, synthetic_clicks.load_fn(ev),
      global_batch_size=global_batch_size, host=host)


def _criteo_train(wl, data_dir, hp, *, seed, host, start_step):
  del wl
  return criteo.train_batches(
      data_dir, global_batch_size=int(hp['global_batch_size']), seed=seed,
      host=host, start_step=start_step,
      max_ind_range=int(hp['max_ind_range']))


def _criteo_eval(wl, data_dir, hp, *, global_batch_size, host):
  del wl
  return criteo.eval_batches(data_dir, global_batch_size=global_batch_size,
                             host=host, max_ind_range=int(hp['max_ind_range']))


# ---- inference data (the variants' extra['inference_rows']) -----------------
# workload -> (number of rows, rows(start, stop) -> {'dense', 'sparse',
# 'label'} model inputs of those consecutive rows of the scored split).


def _clicks_inference_rows(wl):
  del wl
  spec = mini_spec()
  _, ev = synthetic_clicks.generate(spec)
  load = synthetic_clicks.load_fn(ev)
  return spec.eval_samples, lambda a, b: load(np.arange(a, b))


def _criteo_inference_rows(wl):
  data = criteo.open_bin(wl.data_dir, 'test')
  max_ind = int(wl.resolve_hparams()['max_ind_range'])
  return data.shape[0], lambda a, b: criteo.to_model_inputs(
      np.asarray(data[a:b]), max_ind)


VARIANTS = {
    'reference': Variant(
        scale='reference', benchmark='dlrm', target=Target('auc', 0.8025),
        train_samples=CRITEO_TRAIN, eval_samples=CRITEO_EVAL, num_runs=5,
        rulesets=('1.1.0',), model=_reference_model,
        train_data=_criteo_train, eval_data=_criteo_eval, needs_data_dir=True,
        eval_batch_size=16384, max_epochs=1, log_init_tensors=True,
        mlperf_conf_model='dlrm',
        # Inference: the v1.x performance sample count (aggregated users).
        extra={'inference_rows': _criteo_inference_rows,
               'inference_count': 204_800, 'inference_benchmark': 'dlrm-99'}),
    'mini': Variant(
        scale='mini', benchmark='mini_dlrm', target=Target('auc', MINI_TARGET),
        train_samples=MINI_TRAIN_SAMPLES, eval_samples=MINI_EVAL_SAMPLES,
        num_runs=5, rulesets=('mini',),
        defaults={
            'global_batch_size': 1024,
            'opt_base_learning_rate': 1.0,
            'opt_learning_rate_warmup_steps': 32,
            'lr_decay_start_steps': 256,
            'sgd_opt_learning_rate_decay_steps': 768,
        },
        model=_mini_model, train_data=_clicks_train, eval_data=_clicks_eval,
        eval_batch_size=8192, max_epochs=4, mlperf_conf_model='dlrm',
        # Inference: the 65,536 eval rows as aggregated users, all loaded.
        extra={'inference_rows': _clicks_inference_rows,
               'inference_count': None, 'inference_benchmark': 'dlrm-99'}),
}


class DlrmWorkload(Workload):
  """MLPerf recommendation (`dlrm`)."""

  name = 'dlrm'
  variants = VARIANTS

  # ---- hyperparameters -----------------------------------------------------

  def hparams(self, opt_name: str) -> tuple[registry.HParam, ...]:
    return dlrm_hparams.hparams(opt_name, synthetic=self.synthetic)

  def check_request(self, hp, *, division, init_checkpoint, dry_run):
    """The prepared Criteo .bin files, checked before compute (criteo.py)."""
    del hp, division, init_checkpoint
    if dry_run or self.synthetic or not self.data_dir or (
        not self.variant.needs_data_dir):
      return []
    return criteo.check_dataset(
        self.data_dir, train_samples=self.variant.train_samples,
        eval_samples=self.variant.eval_samples)

  def extra_mllog_items(self, hp):
    if int(hp['max_ind_range']) < dlrm_model.MAX_IND_RANGE:
      return [(NOTICE_KEY, f'embedding tables capped at '
               f'max_ind_range={hp["max_ind_range"]} rows (the reference '
               f'uses {dlrm_model.MAX_IND_RANGE}) so that this synthetic '
               'smoke run fits the machine; NOT an MLPerf result')]
    return []

  # ---- model ---------------------------------------------------------------

  def model_config(self, hp: Mapping[str, Any], num_shards: int | None = None):
    shards = jax.device_count() if num_shards is None else num_shards
    return self.variant.model(self.compute_dtype, hp, shards)

  def model(self, hp: Mapping[str, Any] | None = None):
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
    expected = 0 if self.synthetic else self.variant.eval_samples
    return metrics_auc.AucAccumulator(expected=expected)

  def param_labels(self, params):
    # The reference's SGD applies no weight decay: the labels only say what
    # each parameter is (tables are embeddings, MLP weights kernels).
    def label(path, leaf):
      del leaf
      names = '/'.join(str(getattr(k, 'key', k)) for k in path)
      if 'embedding' in names or 'table' in names:
        return registry.EMBEDDING
      return registry.BIAS if names.endswith('bias') else registry.KERNEL
    return jax.tree_util.tree_map_with_path(label, params)

  def logical_axis_rules(self):
    return dlrm_model.LOGICAL_AXIS_RULES

  def init_tensor_names(self, params):
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

  def batch_spec(self, hp, *, train, bucket=None):
    del bucket
    b = self.global_batch_size(hp) if train else self.eval_batch_size(hp)
    spec = {'dense': jax.ShapeDtypeStruct((b, 13), jnp.float32),
            'sparse': jax.ShapeDtypeStruct((b, 26), jnp.int32),
            'label': jax.ShapeDtypeStruct((b,), jnp.float32)}
    if not train:
      spec['mask'] = jax.ShapeDtypeStruct((b,), jnp.float32)
    return spec

  def synthetic_bounds(self, hp):
    rows = self.model_config(hp, num_shards=1).table_rows
    return {'sparse': np.asarray(rows), 'label': 2}  # 0/1 click labels

  # ---- schedule ------------------------------------------------------------

  def epoch_end_step(self, hp, epochs: int) -> int:
    """The step after which `epochs` passes over the data are complete:
    `ceil(epochs * N / GBS)`.

    The training stream crosses epochs (`input_pipelines.criteo`: every
    sample once per epoch, the last batch of an epoch mixed with the start
    of the next), so epoch `k` ends with the mixed batch that holds its last
    samples, and is evaluated after it, as the rules require of mixed
    batches (training_rules.adoc v1.1, "Equivalence exceptions"). Epoch 1
    has `ceil(N / GBS)` steps, the reference's `len(train_ld)` with its
    short last batch.
    """
    return -(-epochs * self.variant.train_samples // self.global_batch_size(hp))

  def blocks(self, hp, max_epochs):
    """20 evaluations per epoch at `epoch_num` = 1 + fraction (reference).

    Epoch `k` (from 1) runs steps `[e(k-1), e(k))` with `e` =
    `epoch_end_step`, `spe` = `e(k) - e(k-1)` of them. Evaluation `i` of the
    epoch (from 1) follows step `ceil(i * spe / 20)` of the epoch and is
    logged at `k + that step / spe`, the reference's
    `(j + 1) / len(train_ld) + k`.
    """
    for k in range(max_epochs):
      first = self.epoch_end_step(hp, k)
      spe = max(1, self.epoch_end_step(hp, k + 1) - first)
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

  # ---- inference -----------------------------------------------------------

  # Tensor-parallel serving (`infer --tensor-parallel N`): the fused tables
  # split by rows over the mesh (`emb_rows`), the MLPs replicated, the
  # lookup the model's own `jax.shard_map` (so traced under the mesh).
  serving_traces_in_mesh = True

  def serving_param_axes(self):
    """The served DLRM's boxed abstract parameters (tables on `emb_rows`,
    planned for every visible device)."""
    cfg = self.model_config(self.resolve_hparams())
    b = cfg.plan.num_shards
    return jax.eval_shape(lambda d, s: dlrm_model.Dlrm(cfg).init(
        jax.random.PRNGKey(0), d, s),
        jax.ShapeDtypeStruct((b, cfg.num_dense), jnp.float32),
        jax.ShapeDtypeStruct((b, cfg.num_tables), jnp.int32))['params']

  def serving_split_problems(self, n: int) -> list[str]:
    """The tables' plan (and so the parameters' layout) is for every
    visible device: the tensor-parallel degree must be all of them."""
    d = jax.device_count()
    if n != d:
      return [f'DLRM splits its embedding tables over every visible device '
              f'({d}): use --tensor-parallel {d}, or make {n} devices '
              'visible']
    return []

  def load_serving_checkpoint(self, path: str):
    """(params, model_state) to serve (`infer --checkpoint`): the
    `final_params` directory of a training run, or a `torch.save` file of
    the reference `DLRM_Net` (MLPerf Inference's `tb00_40M.pt`: a checkpoint
    dict whose 'state_dict' holds `emb_l.*`, `bot_l.*`, `top_l.*`), mapped
    by `models.dlrm_reference_weights` onto this scale's configuration."""
    import os  # pylint: disable=import-outside-toplevel
    if os.path.isdir(path):
      return super().load_serving_checkpoint(path)
    from mlperf_jax.models import dlrm_reference_weights as refw  # pylint: disable=import-outside-toplevel
    cfg = self.model_config(self.resolve_hparams())
    params = refw.read_checkpoint(path, cfg, self.serving_param_axes())
    return jax.tree.map(jnp.asarray, params), {}

  def predict(self, params, model_state, inputs, hp):
    del model_state
    score = jax.nn.sigmoid(self._logits(params, inputs, hp))
    return {'score': score, 'offsets': inputs['offsets']}

  def inference(self) -> InferenceSpec:
    """MLPerf Inference recommendation over aggregated users.

    As the v1.x reference (`mlcommons/inference` `recommendation/dlrm/
    pytorch/python/criteo.py`, `--samples-to-aggregate-quantile-file
    tools/dist_quantile.txt`), each LoadGen sample is one user: a run of
    consecutive rows of the scored split whose length is drawn from the
    published quantiles (`AGGREGATION_QUANTILES`, inverse-transform
    sampling), until the split is covered. A response is the user's click
    probabilities, one little-endian float32 per row (the accuracy script's
    prediction-only form; labels come from the data set, as its
    `--day-23-file` mode); the metric is the exact ROC AUC over every row of
    the logged users, as the training eval computes it.
    """
    extra = self.variant.extra
    n_rows, rows = extra['inference_rows'](self)
    offsets = aggregation_offsets(n_rows, AGGREGATION_SEED)
    count = len(offsets) - 1
    performance_count = min(extra['inference_count'] or count, count)
    hp = self.resolve_hparams()
    metric = self.variant.target.metric
    labels_of = {}

    def load_sample(i):
      i = int(i)
      r = rows(int(offsets[i]), int(offsets[i + 1]))
      return {'dense': r['dense'], 'sparse': r['sparse']}

    def labels(i):
      if i not in labels_of:
        labels_of[i] = rows(int(offsets[i]), int(offsets[i + 1]))['label']
      return labels_of[i]

    def accuracy(responses):
      return auc_of_responses(responses, labels, metric)

    return InferenceSpec(
        count=count, performance_count=performance_count,
        load_sample=load_sample,
        buckets=scenario_buckets(DLRM_INFERENCE_BUCKETS),
        predict=lambda p, s, b: self.predict(p, s, b, hp),
        encode=encode_scores, accuracy=accuracy, metric=metric,
        collate=collate_users)


# The v1.x aggregation trace: `tools/dist_quantile.txt` of the reference
# (20 quantiles of a user's number of rows, p = 0.05, 0.10, ..., 1.0).
AGGREGATION_QUANTILES = (100, 100, 200, 200, 200, 200, 200, 200, 200, 200,
                         200, 200, 200, 200, 300, 300, 400, 500, 600, 700)
AGGREGATION_SEED = 0
MAX_USER_ROWS = max(AGGREGATION_QUANTILES)
# Users per compiled batch (each padded to MAX_USER_ROWS rows).
DLRM_INFERENCE_BUCKETS = {'SingleStream': (1,), 'MultiStream': (8,),
                          'Server': (1, 2, 4, 8, 16), 'Offline': (1, 8, 32)}


def aggregation_offsets(n_rows: int, seed: int) -> 'np.ndarray':
  """Row offsets [users + 1] of the aggregated users: each user's length a
  uniformly drawn quantile (`rng.integers(20)`), the last one cut at
  `n_rows`."""
  import numpy  # pylint: disable=import-outside-toplevel
  rng = numpy.random.default_rng(seed)
  q = numpy.asarray(AGGREGATION_QUANTILES)
  out = [0]
  while out[-1] < n_rows:
    out.append(min(out[-1] + int(q[rng.integers(len(q))]), n_rows))
  return numpy.asarray(out, numpy.int64)


def collate_users(samples, size: int):
  """Users -> one batch of `size * MAX_USER_ROWS` rows (the users' rows
  back to back, zero rows after) with 'offsets' [size + 1] (a padding user
  has no rows)."""
  import numpy  # pylint: disable=import-outside-toplevel
  n = size * MAX_USER_ROWS
  lengths = [len(s['dense']) for s in samples] + [0] * (size - len(samples))
  offsets = numpy.concatenate([[0], numpy.cumsum(lengths)]).astype(
      numpy.int32)
  dense = numpy.zeros((n, samples[0]['dense'].shape[1]), numpy.float32)
  sparse = numpy.zeros((n, samples[0]['sparse'].shape[1]), numpy.int32)
  for s, a in zip(samples, offsets):
    dense[a:a + len(s['dense'])] = s['dense']
    sparse[a:a + len(s['sparse'])] = s['sparse']
  return {'dense': dense, 'sparse': sparse, 'offsets': offsets}


def encode_scores(outputs, k: int) -> bytes:
  """User `k`'s row scores as little-endian float32."""
  import numpy  # pylint: disable=import-outside-toplevel
  o = outputs['offsets']
  return numpy.asarray(outputs['score'][o[k]:o[k + 1]], '<f4').tobytes()


def auc_of_responses(responses, labels, metric: str = 'auc'):
  """Exact ROC AUC over every row of the logged users ({index: bytes});
  a failed (empty or short) response scores its rows 0."""
  import numpy  # pylint: disable=import-outside-toplevel
  scores, truth, failed = [], [], 0
  for i in sorted(responses):
    y = numpy.asarray(labels(i), numpy.float32)
    s = numpy.frombuffer(responses[i], '<f4')
    if len(s) != len(y):
      failed += 1
      s = numpy.zeros(len(y), numpy.float32)
    scores.append(s)
    truth.append(y)
  if not scores:
    return {metric: float('nan'), 'samples': 0.0}
  auc = metrics_auc.roc_auc(numpy.concatenate(scores),
                            numpy.concatenate(truth))
  return {metric: float(auc), 'samples': float(len(scores)),
          'rows': float(sum(len(y) for y in truth)), 'failed': float(failed)}
