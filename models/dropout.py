# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Dropout whose keep mask comes from XLA's RngBitGenerator on CPU.

`flax.linen.Dropout` draws its mask with `jax.random.bernoulli`, i.e. jax's
threefry written out in XLA operations. XLA:CPU runs that at ~13 ns per
value: BERT-large's attention-probability and hidden dropouts (~550 M
values per train step at batch 4 x 512) cost ~14 % of its CPU step
(benchmarks/RESULTS.md, "BERT-large ... dropout"). XLA's own
`RngBitGenerator` with the threefry algorithm makes the same amount of
random bits ~8x faster on CPU. `Dropout(generator='auto')` uses it on the
CPU backend and `jax.random` elsewhere: on accelerators jax's threefry is
fast, and it is partitionable over a mesh, which RngBitGenerator is not.

Both draw a Bernoulli(1 - rate) keep mask from the module's 'dropout' rng
and scale kept values by 1 / (1 - rate); they differ only in the stream of
random bits. The RngBitGenerator mask keeps a value when its 32 random
bits are below round((1 - rate) * 2^32), so its keep probability is exact
to 2^-32.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

GENERATORS = ('auto', 'jax', 'xla_threefry')


def resolve(generator: str, backend: str | None = None) -> str:
  """'auto' -> 'xla_threefry' on CPU, 'jax' elsewhere; others unchanged."""
  if generator not in GENERATORS:
    raise ValueError(f'dropout generator must be one of {GENERATORS}, got '
                     f'{generator!r}')
  if generator != 'auto':
    return generator
  return 'xla_threefry' if (backend or jax.default_backend()) == 'cpu' else (
      'jax')


def keep_mask(key: jax.Array, shape: tuple[int, ...], keep_prob: float,
              generator: str = 'auto') -> jax.Array:
  """A boolean Bernoulli(`keep_prob`) mask of `shape` drawn from `key`."""
  generator = resolve(generator)
  if generator == 'jax':
    return jax.random.bernoulli(key, keep_prob, shape)
  state = jax.random.bits(key, (4,), jnp.uint32)
  _, bits = lax.rng_bit_generator(state, shape, dtype=jnp.uint32,
                                  algorithm=lax.RandomAlgorithm.RNG_THREE_FRY)
  threshold = min(round(keep_prob * 2.0**32), 2**32 - 1)
  return bits < jnp.uint32(threshold)


class Dropout(nn.Module):
  """`nn.Dropout`'s interface (rate; `deterministic` at call) with the keep
  mask from `keep_mask(generator)`."""
  rate: float
  generator: str = 'auto'
  rng_collection: str = 'dropout'

  @nn.compact
  def __call__(self, x: jax.Array, deterministic: bool) -> jax.Array:
    if deterministic or self.rate == 0.0:
      return x
    if self.rate == 1.0:
      return jnp.zeros_like(x)
    keep_prob = 1.0 - self.rate
    mask = keep_mask(self.make_rng(self.rng_collection), x.shape, keep_prob,
                     self.generator)
    return lax.select(mask, x / keep_prob, jnp.zeros_like(x))
