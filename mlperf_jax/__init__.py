# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""mlperf_jax: MLPerf Training and Inference benchmarks in JAX/XLA.

Importing the package imports no JAX. Python use, without the CLI::

  import jax
  from mlperf_jax import workloads
  from mlperf_jax.runtime import loop, sharding, steps
  wl = workloads.get('resnet', scale='reference', synthetic=True)
  hp = wl.resolve_hparams({'global_batch_size': '256'})
  mesh = sharding.make_mesh('data=-1')
  model = wl.model()                       # a Flax Linen module
  tx, lr = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  step = steps.make_train_step(wl, tx, hp)   # pure; jit it
  compiled = steps.build(wl, tx, hp, mesh)   # sharded, ahead of time
"""

import os as _os
import sys as _sys

__version__ = '0.1.0'


def _source_checkout_finder() -> None:
  """Lets a source checkout's `mlperf_jax/` find `models/` and
  `input_pipelines/` next to it.

  Installed (editable or not), `mlperf_jax.models` and
  `mlperf_jax.input_pipelines` live inside the package. But a process started
  from the repository root imports `./mlperf_jax` (the current directory
  comes first on sys.path), whose folder holds neither: map the two
  subpackages onto the checkout's top-level folders in that one case.
  """
  here = _os.path.dirname(_os.path.abspath(__file__))
  root = _os.path.dirname(here)
  subs = {f'{__name__}.{s}': _os.path.join(root, s)
          for s in ('models', 'input_pipelines')}
  if any(_os.path.isdir(_os.path.join(here, s.rsplit('.', 1)[1]))
         for s in subs) or not _os.path.isfile(
             _os.path.join(root, 'pyproject.toml')):
    return
  if not all(_os.path.isfile(_os.path.join(d, '__init__.py'))
             for d in subs.values()):
    return
  import importlib.abc  # pylint: disable=import-outside-toplevel
  import importlib.util  # pylint: disable=import-outside-toplevel

  class _Finder(importlib.abc.MetaPathFinder):

    def find_spec(self, fullname, path=None, target=None):
      del path, target
      top = '.'.join(fullname.split('.')[:2])
      if top not in subs:
        return None
      rest = fullname.split('.')[2:]
      base = _os.path.join(subs[top], *rest)
      if _os.path.isdir(base):
        return importlib.util.spec_from_file_location(
            fullname, _os.path.join(base, '__init__.py'),
            submodule_search_locations=[base])
      if _os.path.isfile(base + '.py'):
        return importlib.util.spec_from_file_location(fullname, base + '.py')
      return None

  # First on the path: an editable install of another checkout maps these
  # subpackages too, and the checkout being imported must win.
  if not any(type(f).__name__ == '_Finder' and f.__module__ == __name__
             for f in _sys.meta_path):
    _sys.meta_path.insert(0, _Finder())


_source_checkout_finder()
