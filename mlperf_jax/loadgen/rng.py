# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The official LoadGen's random draws, reproduced bit for bit.

LoadGen 6.0.17 (libstdc++ build) uses ``std::mt19937`` seeded with the
64-bit seed reduced mod 2^32, libstdc++'s ``uniform_int_distribution``
(Lemire's nearly-divisionless rejection), ``std::shuffle`` (paired draws for
short lists), ``generate_canonical<double, 53>`` and
``exponential_distribution``. ``Engine`` keeps the raw 32-bit stream in a
buffer so that vectorised draws consume exactly as many outputs as the C++
code would, and the sequence functions at the bottom rebuild the loadable
sets and the generated queries of ``GenerateLoadableSets`` /
``GenerateQueries`` (see ``/work/shared/reference/loadgen.md`` §7).
"""

import math

import numpy as np

_MASK32 = 0xFFFFFFFF
_TWO32 = 1 << 32
_BELOW_ONE = math.nextafter(1.0, 0.0)


class Engine:
  """``std::mt19937`` with a look-ahead buffer of raw 32-bit outputs."""

  def __init__(self, seed=5489):
    self._bitgen = np.random.MT19937(0)
    self._bitgen._legacy_seeding(int(seed) & _MASK32)  # pylint: disable=protected-access
    self._buf = np.empty(0, np.uint64)
    self._pos = 0

  def _peek(self, n):
    have = self._buf.size - self._pos
    if have < n:
      more = self._bitgen.random_raw(max(n - have, 4096)).astype(np.uint64)
      self._buf = np.concatenate([self._buf[self._pos:], more])
      self._pos = 0
    return self._buf[self._pos:self._pos + n]

  def _consume(self, n):
    self._pos += n

  def raw(self, n):
    """Returns the next ``n`` raw outputs (uint64 array) and consumes them."""
    out = self._peek(n).copy()
    self._consume(n)
    return out

  def uniform_ints(self, lo, hi, count):
    """``count`` draws of ``uniform_int_distribution(lo, hi)`` (int64)."""
    return self.uniform_ints_ranges(
        np.full(count, hi - lo + 1, np.uint64)) + lo

  def uniform_ints_ranges(self, ranges):
    """One draw in ``[0, r)`` for each ``r`` in ``ranges`` (uint64 array)."""
    ranges = np.asarray(ranges, np.uint64)
    out = np.empty(ranges.size, np.int64)
    done = 0
    while done < ranges.size:
      r = ranges[done:]
      if np.any(r == _TWO32):
        raise NotImplementedError('full 32-bit range is never drawn here')
      g = self._peek(r.size)
      prod = g * r
      low = prod & np.uint64(_MASK32)
      thr = (np.uint64(_TWO32) - r) % r
      bad = np.flatnonzero(low < thr)
      k = r.size if bad.size == 0 else int(bad[0])
      out[done:done + k] = (prod[:k] >> np.uint64(32)).astype(np.int64)
      done += k
      self._consume(k)
      if bad.size:
        self._consume(1)  # the rejected draw; redraw for the same range
    return out

  def shuffle(self, items):
    """``std::shuffle`` of the list ``items`` in place; returns it."""
    n = len(items)
    if n <= 1:
      return items
    if _MASK32 // n >= n:
      i = 1
      if n % 2 == 0:
        j = int(self.uniform_ints_ranges(np.array([2], np.uint64))[0])
        items[1], items[j] = items[j], items[1]
        i = 2
      rr = np.arange(i + 1, n + 1, 2, dtype=np.uint64)
      xs = self.uniform_ints_ranges(rr * (rr + np.uint64(1))).tolist()
      for x, big_r in zip(xs, rr.tolist()):
        a, b = divmod(x, big_r + 1)
        items[i], items[a] = items[a], items[i]
        i += 1
        items[i], items[b] = items[b], items[i]
        i += 1
    else:
      js = self.uniform_ints_ranges(
          np.arange(2, n + 1, dtype=np.uint64)).tolist()
      for i, j in enumerate(js, start=1):
        items[i], items[j] = items[j], items[i]
    return items

  def canonicals(self, count):
    """``count`` draws of ``generate_canonical<double, 53>`` (float64)."""
    g = self.raw(2 * count)
    s = g[0::2].astype(np.float64) + g[1::2].astype(np.float64) * 4294967296.0
    r = s / 18446744073709551616.0
    r[r >= 1.0] = _BELOW_ONE
    return r

  def exponential_ns(self, lam, count):
    """``count`` exponential inter-arrivals, cast to integer nanoseconds."""
    us = self.canonicals(count).tolist()
    log = math.log
    return [int(-log(1.0 - u) / lam * 1e9) for u in us]


def period_ns(qps):
  """The fixed query period of the non-Server scenarios in nanoseconds."""
  return int((1.0 / qps) * 1e9)


def loadable_sets(seed, count, total, set_size, padding):
  """Returns ``[(set, distribution_end)]`` as ``GenerateLoadableSets``.

  ``padding`` (MultiStream: samples per query - 1) copies of each set's
  first elements are appended, cyclically (``loadgen.cc:676-688``).
  """
  n = min(count, total)
  idx = Engine(seed).shuffle(list(range(n)))
  sets = []
  for start in range(0, n, max(set_size, 1)):
    chunk = idx[start:start + set_size]
    # The official loop appends set[i] for i < padding while the set grows,
    # so a set shorter than the padding wraps around itself.
    sets.append((chunk + [chunk[i % len(chunk)] for i in range(padding)],
                 len(chunk)))
  return sets


class GeneratedQueries:
  """The queries of one ``GenerateQueries`` call.

  Attributes:
    samples: flat list of QSL indices, query after query.
    spq: samples per query (every query has this many samples, except an
      Offline accuracy remainder query, which never occurs in practice).
    offsets_ns: scheduled offset of each query from the test start.
    duration_ns: the logged ``generated_query_duration``.
  """

  def __init__(self, samples, spq, offsets_ns, duration_ns):
    self.samples = samples
    self.spq = spq
    self.offsets_ns = offsets_ns
    self.duration_ns = duration_ns

  @property
  def count(self):
    return len(self.offsets_ns)


def generate_queries(s, loaded, end, accuracy):
  """Reproduces ``GenerateQueries`` for effective settings ``s``.

  Args:
    s: an ``EffectiveSettings``.
    loaded: the loaded set (with MultiStream padding).
    end: its distribution end (unpadded length).
    accuracy: True in accuracy mode.

  Returns:
    A ``GeneratedQueries``.
  """
  scenario = s.scenario
  server = scenario == 'Server'
  offline = scenario == 'Offline'
  multi = scenario == 'MultiStream'
  gen_duration = (1 if server else 2) * s.target_duration_ms * 1_000_000
  min_queries = s.min_query_count
  spq = s.samples_per_query
  if accuracy and offline:
    spq = end
  if accuracy or s.performance_issue_unique:
    gen_duration = 0
    min_queries = len(loaded) // spq
  sample_rng = Engine(s.sample_index_rng_seed)
  schedule_rng = Engine(s.schedule_rng_seed)
  stride = spq if multi else 1
  positions = list(range(0, end, stride))
  accuracy_order = sample_rng.shuffle(list(positions)) if accuracy else None
  unique_order = sample_rng.shuffle(list(positions))
  equal_issue = []
  perm = list(range(len(loaded)))
  for _ in range(0, min_queries, max(len(loaded), 1)):
    sample_rng.shuffle(perm)
    equal_issue.extend(perm)
  concat = bool(s.sample_concatenate_permutation)
  if not accuracy and concat:
    if offline and spq % len(loaded):
      spq += len(loaded) - spq % len(loaded)
    elif not offline and min_queries % len(loaded):
      min_queries += len(loaded) - min_queries % len(loaded)

  # Schedule: offsets of the queries and the loop's stopping point.
  if server and gen_duration <= 0 and min_queries <= 0:
    offsets, duration = [], 0
  elif server:
    offsets = [0]
    deltas = []
    total = 0
    lam = s.target_qps
    n = 0
    while True:
      # query n was just appended at offsets[n]; add its delta
      if len(deltas) <= n:
        deltas.extend(schedule_rng.exponential_ns(lam, 4096))
      prev = total
      total += deltas[n]
      n += 1
      if concat and n >= min_queries and prev < gen_duration:
        min_queries += len(loaded)
      if not (prev < gen_duration or n < min_queries):
        break
      offsets.append(total)
    duration = total
  else:
    period = period_ns(s.target_qps)
    if period <= 0 and gen_duration > 0:
      raise ValueError(
          f'target_qps {s.target_qps} gives a zero query period; the '
          'official LoadGen would never stop generating queries.')
    if gen_duration <= 0 and min_queries <= 0:
      n = 0
    elif not concat or offline:
      n_dur = 1 if gen_duration <= 0 else -(-gen_duration // period) + 1
      n = max(n_dur, min_queries, 1)
    else:
      n = 0
      while True:
        prev = n * period
        n += 1
        if n >= min_queries and prev < gen_duration:
          min_queries += len(loaded)
        if not (prev < gen_duration or n < min_queries):
          break
    offsets = [k * period for k in range(n)]
    duration = n * period

  count = len(offsets)
  # Samples.
  if offline:
    if s.performance_issue_same:
      one = [loaded[s.performance_issue_same_index]] * spq
      samples = one * count
    else:
      samples = []
      for _ in range(count):
        reps, rem = divmod(spq, len(loaded))
        q = []
        for _r in range(reps):
          chunk = list(loaded)
          if concat:
            sample_rng.shuffle(chunk)
          q.extend(chunk)
        q.extend(loaded[:rem])
        samples.extend(q)
    return GeneratedQueries(samples, spq, offsets, duration)
  if s.performance_issue_unique:
    starts = unique_order[:count]
  elif s.performance_issue_same:
    starts = [s.performance_issue_same_index] * count
  elif concat and not multi:
    starts = [equal_issue[k % len(equal_issue)] for k in range(count)]
  elif accuracy:
    starts = accuracy_order[:count]
  else:
    starts = sample_rng.uniform_ints(0, end - 1, count).tolist()
  if multi:
    samples = []
    for st in starts:
      samples.extend(loaded[st:st + spq])
  else:
    samples = [loaded[k] for k in starts]
  return GeneratedQueries(samples, spq if multi else 1, offsets, duration)
