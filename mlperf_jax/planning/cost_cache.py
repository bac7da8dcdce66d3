# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""On-disk cache of measured step costs, so a repeated `plan` is instant.

An entry is the JSON of one `abstract_step.measure` result, keyed by the
SHA-256 of everything it depends on: the workload and scale, its resolved
hyperparameters, the compile mesh, whether the step was compiled, the JAX
and jaxlib versions, and the source of this checkout (every `.py` file of
`mlperf_jax/`, `models/` and `input_pipelines/` but plan's own prediction
and report files, so any change to a model, workload or the runtime misses).
Entries live in `$MLPERF_JAX_PLAN_CACHE` or `~/.cache/mlperf_jax/plan/`;
deleting the folder is always safe. Imports no JAX.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
from typing import Any, Mapping

from mlperf_jax.planning import collectives as coll

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# plan's own files that do not change a measured cost (the prediction,
# report, tables and this cache), left out of the source hash.
_NOT_COST = frozenset(os.path.join('mlperf_jax', *p) for p in (
    ('plan.py',), ('planning', 'predict.py'), ('planning', 'report.py'),
    ('planning', 'systems.py'), ('planning', 'convergence.py'),
    ('planning', 'cost_cache.py')))


def default_dir() -> str:
  return os.environ.get('MLPERF_JAX_PLAN_CACHE') or os.path.join(
      os.path.expanduser('~'), '.cache', 'mlperf_jax', 'plan')


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
  h = hashlib.sha256()
  for top in ('mlperf_jax', 'models', 'input_pipelines'):
    for dirpath, dirnames, filenames in os.walk(os.path.join(_ROOT, top)):
      dirnames.sort()
      for name in sorted(filenames):
        if name.endswith('.py'):
          path = os.path.join(dirpath, name)
          rel = os.path.relpath(path, _ROOT)
          if rel in _NOT_COST:
            continue
          h.update(rel.encode())
          with open(path, 'rb') as f:
            h.update(f.read())
  return h.hexdigest()


def _version(pkg: str) -> str:
  try:
    return importlib.metadata.version(pkg)
  except importlib.metadata.PackageNotFoundError:
    return 'none'


def key(workload, hp: Mapping[str, Any], cm: Mapping[str, int],
        compile: bool) -> str:  # pylint: disable=redefined-builtin
  blob = json.dumps({
      'workload': type(workload).__name__, 'scale': workload.scale,
      'dtype': getattr(workload, 'compute_dtype', None),
      'hp': {k: hp[k] for k in sorted(hp)}, 'mesh': dict(cm),
      'compile': bool(compile), 'jax': _version('jax'),
      'jaxlib': _version('jaxlib'), 'source': source_hash(),
  }, sort_keys=True, default=repr)
  return hashlib.sha256(blob.encode()).hexdigest()[:32]


def to_json(fields: Mapping[str, Any]) -> str:
  d = dict(fields)
  d['collectives'] = [[c.kind, c.bytes, [list(g) for g in c.groups],
                       list(c.axes)] for c in fields['collectives']]
  return json.dumps(d)


def from_json(text: str) -> dict:
  d = json.loads(text)
  d['collectives'] = tuple(
      coll.Collective(kind, nbytes, tuple(tuple(g) for g in groups),
                      tuple(axes))
      for kind, nbytes, groups, axes in d['collectives'])
  return d


def load(k: str, path: str | None = None) -> dict | None:
  f = os.path.join(path or default_dir(), k + '.json')
  try:
    with open(f) as fh:
      return from_json(fh.read())
  except (OSError, ValueError, KeyError, TypeError):
    return None


def store(k: str, fields: Mapping[str, Any], path: str | None = None) -> None:
  d = path or default_dir()
  try:
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f'.{k}.{os.getpid()}.tmp')
    with open(tmp, 'w') as fh:
      fh.write(to_json(fields))
    os.replace(tmp, os.path.join(d, k + '.json'))
  except OSError:
    pass  # a read-only home: plan still works, only uncached
