# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Chooses the LoadGen: ours (``python``) or the official wheel.

``get('python')`` returns ``mlperf_jax.loadgen.pyloadgen``; ``get('official')``
returns ``mlperf_loadgen`` (``pip install mlcommons-loadgen==6.0.17``). Both
expose the same names. ``response(lg, sample_id, array)`` builds a
``QuerySampleResponse`` that works with either (the official binding needs a
raw address; the caller must keep ``array`` alive until
``QuerySamplesComplete`` returns).
"""

import importlib

CHOICES = ('python', 'official')


def get(name='python'):
  """The LoadGen module called ``name`` (one of ``CHOICES``)."""
  if name == 'python':
    return importlib.import_module('mlperf_jax.loadgen.pyloadgen')
  if name == 'official':
    try:
      return importlib.import_module('mlperf_loadgen')
    except ImportError as e:
      raise ImportError(
          'The official LoadGen is not installed; run '
          "`pip install mlcommons-loadgen==6.0.17` (or `pip install -e "
          "'.[test]'`), or use --loadgen python.") from e
  raise ValueError(f'unknown LoadGen {name!r}; choose one of {CHOICES}.')


def response(lg, sample_id, array):
  """A response carrying ``array``'s bytes, valid for either LoadGen."""
  iface = array.__array_interface__
  return lg.QuerySampleResponse(sample_id, iface['data'][0], array.nbytes)
