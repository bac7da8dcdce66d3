# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""models/dropout.py: flax's Dropout exactly ('jax'), and the XLA generator's
keep rate, scaling, determinism and independence."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlperf_jax.models import bert
from mlperf_jax.models import dropout


def _apply(module, x, seed=0):
  return module.apply({}, x, deterministic=False,
                      rngs={'dropout': jax.random.PRNGKey(seed)})


def test_jax_generator_is_flax_dropout_bit_for_bit():
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 8, 16))
  for dtype in (jnp.float32, jnp.bfloat16):
    ours = _apply(dropout.Dropout(0.1, 'jax'), x.astype(dtype))
    flax = nn.Dropout(0.1).apply({}, x.astype(dtype), deterministic=False,
                                 rngs={'dropout': jax.random.PRNGKey(0)})
    np.testing.assert_array_equal(np.asarray(ours, np.float32),
                                  np.asarray(flax, np.float32))


@pytest.mark.parametrize('rate', [0.1, 0.5])
def test_xla_generator_keep_rate_and_scale(rate):
  x = jnp.ones((1 << 20,), jnp.float32)
  y = np.asarray(_apply(dropout.Dropout(rate, 'xla_threefry'), x))
  kept = y != 0
  # A binomial count: 5 standard deviations.
  n, p = y.size, 1 - rate
  assert abs(kept.sum() - n * p) < 5 * np.sqrt(n * p * (1 - p))
  np.testing.assert_allclose(y[kept], 1 / p, rtol=1e-6)


def test_xla_generator_is_deterministic_and_seeded():
  x = jnp.ones((64, 64), jnp.float32)
  d = dropout.Dropout(0.1, 'xla_threefry')
  a, b, c = (np.asarray(_apply(d, x, s)) for s in (0, 0, 1))
  np.testing.assert_array_equal(a, b)
  assert (a != c).mean() > 0.1  # another key, another mask
  # Neighbouring values are independent: kept-kept pairs at p^2.
  k = (a != 0).ravel()
  assert abs((k[1:] & k[:-1]).mean() - 0.81) < 0.02


def test_deterministic_and_rate_edges():
  x = jnp.arange(6.0)
  for gen in ('jax', 'xla_threefry'):
    d = dropout.Dropout(0.3, gen)
    np.testing.assert_array_equal(d.apply({}, x, deterministic=True), x)
    np.testing.assert_array_equal(_apply(dropout.Dropout(0.0, gen), x), x)
    np.testing.assert_array_equal(_apply(dropout.Dropout(1.0, gen), x),
                                  np.zeros(6))


def test_auto_is_xla_on_cpu_only_and_names_are_checked():
  assert dropout.resolve('auto', 'cpu') == 'xla_threefry'
  assert dropout.resolve('auto', 'gpu') == 'jax'
  assert dropout.resolve('auto', 'tpu') == 'jax'
  with pytest.raises(ValueError, match='dropout generator'):
    dropout.resolve('philox')
  with pytest.raises(ValueError, match='dropout generator'):
    bert.BertConfig(dropout_generator='philox')


def test_reference_bert_uses_auto_and_minis_keep_jax():
  assert bert.bert_large_config().dropout_generator == 'auto'
  assert bert.tiny_config().dropout_generator == 'jax'
