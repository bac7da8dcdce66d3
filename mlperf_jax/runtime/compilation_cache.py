# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""JAX's persistent compilation cache (compilation is untimed, but cheap
restarts make CPU runs and test suites several times faster)."""

from __future__ import annotations

import os


def default_dir() -> str:
  return os.environ.get('JAX_COMPILATION_CACHE_DIR') or os.path.join(
      os.path.expanduser('~'), '.cache', 'mlperf_jax', 'jax_cache')


def enable(path: str | None = None) -> str:
  """Turns the cache on for every compilation of this process."""
  import jax  # pylint: disable=import-outside-toplevel
  path = path or default_dir()
  os.makedirs(path, exist_ok=True)
  jax.config.update('jax_compilation_cache_dir', path)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
  return path
