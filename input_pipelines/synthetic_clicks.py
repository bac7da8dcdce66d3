# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""A Criteo-shaped synthetic click log with a known Bayes-optimal AUC.

Mini DLRM data: 13 dense count features (log-normal integers, like Criteo's)
and 26 categorical features whose values follow a power law (Zipf over each
table's rows, ids randomly permuted), labelled by a hidden ground-truth model:

  logit = bias + sum_j w_j * zscore(log1p(dense_j))
          + sum_t u_t[cat_t]                      (per-category effects)
          + sum_(a,b) <v_a[cat_a], v_b[cat_b]>    (pairwise interactions)
  click ~ Bernoulli(sigmoid(logit))

Because the click probability of every sample is known, the Bayes-optimal
AUC of the eval split, `AUC(labels, true probabilities)`, is computed
exactly; the mini target is a fixed fraction of it. Everything is a pure
function of the spec (its `data_seed` fixes the dataset; a run's seed only
changes the training order and the initialisation).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from mlperf_jax.metrics import auc as metrics_auc

NUM_DENSE = 13
NUM_SPARSE = 26


@dataclasses.dataclass(frozen=True)
class ClickSpec:
  """Shape and hidden model of a synthetic click log.

  Attributes:
    table_rows: rows of each of the 26 categorical features.
    train_samples: training split size.
    eval_samples: eval split size.
    zipf: power-law exponent of the category frequencies.
    effect_scale: std of the per-category effects.
    interaction_pairs: feature pairs with a latent dot-product effect.
    latent_dim: dimension of the hidden latent vectors.
    ctr: approximate click rate (sets the bias).
    data_seed: seed of the hidden model and of the samples.
  """
  table_rows: tuple[int, ...]
  train_samples: int = 262_144
  eval_samples: int = 65_536
  zipf: float = 1.05
  effect_scale: float = 0.5
  interaction_pairs: tuple[tuple[int, int], ...] = (
      (0, 1), (2, 3), (9, 10), (19, 20), (21, 22), (1, 9))
  latent_dim: int = 4
  ctr: float = 0.25
  data_seed: int = 2021

  def __post_init__(self):
    if len(self.table_rows) != NUM_SPARSE or min(self.table_rows) < 1:
      raise ValueError(f'need {NUM_SPARSE} tables of >= 1 row, got '
                       f'{self.table_rows}')
    if self.train_samples < 1 or self.eval_samples < 1:
      raise ValueError('train_samples and eval_samples must be positive')


@dataclasses.dataclass(frozen=True)
class ClickData:
  """One split: dense counts, categorical ids, labels, true probabilities."""
  dense: np.ndarray    # [N, 13] int32 counts (the model sees log1p)
  sparse: np.ndarray   # [N, 26] int32 ids in [0, rows)
  label: np.ndarray    # [N] int32 clicks
  prob: np.ndarray     # [N] float64 true click probabilities


def _hidden_model(spec: ClickSpec, rng: np.random.Generator):
  w = rng.normal(0.0, 0.4, NUM_DENSE)
  mu = rng.uniform(0.0, 3.0, NUM_DENSE)
  sigma = rng.uniform(0.5, 1.5, NUM_DENSE)
  effects = [rng.normal(0.0, spec.effect_scale, r) for r in spec.table_rows]
  latent = {t: rng.normal(0.0, 1.0 / np.sqrt(spec.latent_dim),
                          (spec.table_rows[t], spec.latent_dim))
            for pair in spec.interaction_pairs for t in pair}
  perms = [rng.permutation(r) for r in spec.table_rows]
  return w, mu, sigma, effects, latent, perms


def _zipf_ids(rng, rows: int, n: int, a: float, perm: np.ndarray):
  p = 1.0 / np.arange(1, rows + 1) ** a
  ranks = rng.choice(rows, size=n, p=p / p.sum())
  return perm[ranks]


def _split(spec: ClickSpec, n: int, stream: int) -> ClickData:
  model_rng = np.random.default_rng((spec.data_seed, 0))
  w, mu, sigma, effects, latent, perms = _hidden_model(spec, model_rng)
  rng = np.random.default_rng((spec.data_seed, stream))
  dense = np.floor(rng.lognormal(mu, sigma, (n, NUM_DENSE))).astype(np.int32)
  sparse = np.stack([_zipf_ids(rng, r, n, spec.zipf, perms[t])
                     for t, r in enumerate(spec.table_rows)], 1)
  z = np.log1p(dense) - mu  # centred like a z-score of the log counts
  logit = z @ w / sigma.mean()
  for t in range(NUM_SPARSE):
    logit += effects[t][sparse[:, t]]
  for a, b in spec.interaction_pairs:
    logit += np.sum(latent[a][sparse[:, a]] * latent[b][sparse[:, b]], 1)
  logit -= np.quantile(logit, 1.0 - spec.ctr)  # ~ctr of logits above 0
  prob = 1.0 / (1.0 + np.exp(-logit))
  label = (rng.random(n) < prob).astype(np.int32)
  return ClickData(dense=dense, sparse=sparse.astype(np.int32), label=label,
                   prob=prob)


@functools.lru_cache(maxsize=4)
def generate(spec: ClickSpec) -> tuple[ClickData, ClickData]:
  """(train, eval) splits; deterministic in `spec`, cached per process."""
  return _split(spec, spec.train_samples, 1), _split(spec, spec.eval_samples,
                                                     2)


def bayes_auc(spec: ClickSpec) -> float:
  """AUC of the true click probabilities on the eval split (the optimum)."""
  ev = generate(spec)[1]
  return metrics_auc.roc_auc(ev.prob.astype(np.float32), ev.label)


def load_fn(data: ClickData):
  """`load(indices, rng)` for `batching`: the model's inputs of a batch."""
  def load(indices, rng=None):
    del rng
    return {'dense': np.log1p(data.dense[indices].astype(np.float32)),
            'sparse': data.sparse[indices],
            'label': data.label[indices].astype(np.float32)}
  return load
