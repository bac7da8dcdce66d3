# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Transparent huge pages for the host's large allocations (glibc).

XLA:CPU allocates each execution's buffers afresh, and glibc serves every
allocation above its mmap threshold (at most 32 MiB) with a new `mmap`, so
every step touches its gigabytes of temporaries as new 4 KiB pages: a
reference ResNet-50 train step at batch 16 took ~0.9 M minor page faults and
a quarter of its wall time in the kernel (benchmarks/RESULTS.md, "Host
allocator"). glibc >= 2.35 has a tunable, `glibc.malloc.hugetlb=1`, that
asks the kernel for transparent huge pages (`madvise(MADV_HUGEPAGE)`) on
those mappings: 512 times fewer faults. Tunables are read when the process
starts, so the command-line entry points (`train`, `infer`, `submit`, ...)
call `reexec_with_hugepages()` before any work: when the setting is missing
and would take effect, the process replaces itself (`os.execve`) with the
same command and the tunable added. Child processes inherit it.

It takes effect only on Linux with glibc >= 2.35 and transparent huge pages
in `madvise` mode (in `always` mode they apply already; in `never` mode not
at all). `MLPERF_JAX_HOST_MALLOC=default` keeps glibc's defaults; a
`GLIBC_TUNABLES` that already names the tunable is left as it is. MLLOG
records the setting as an implementation detail (`mlperf_jax_host_malloc`).
Only the host allocator changes: results are the same bits.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

ENV = 'GLIBC_TUNABLES'
TUNABLE = 'glibc.malloc.hugetlb'
SETTING = f'{TUNABLE}=1'
OPT_OUT = 'MLPERF_JAX_HOST_MALLOC'
MLLOG_KEY = 'mlperf_jax_host_malloc'
THP_PATH = '/sys/kernel/mm/transparent_hugepage/enabled'
MIN_GLIBC = (2, 35)


def glibc_version() -> tuple[int, int] | None:
  """(major, minor) of the running glibc, or None (not glibc, or unknown)."""
  try:
    name = os.confstr('CS_GNU_LIBC_VERSION')  # e.g. 'glibc 2.36'
  except (ValueError, OSError, AttributeError):
    return None
  if not name or not name.startswith('glibc '):
    return None
  try:
    major, minor = name.split()[1].split('.')[:2]
    return int(major), int(minor)
  except ValueError:
    return None


def thp_mode(path: str = THP_PATH) -> str | None:
  """The kernel's transparent-huge-page mode ('always', 'madvise', 'never'),
  the bracketed word of `path`; None where it cannot be read."""
  try:
    with open(path) as f:
      text = f.read()
  except OSError:
    return None
  start, end = text.find('['), text.find(']')
  return text[start + 1:end] if 0 <= start < end else None


def tuned_environment(environ: Mapping[str, str],
                      glibc: tuple[int, int] | None,
                      thp: str | None) -> dict[str, str] | None:
  """The environment to re-execute with, or None when nothing would change.

  None when opted out, when the tunable is already set (either value), on a
  glibc without it, or when the kernel's mode makes it moot."""
  if environ.get(OPT_OUT, '') == 'default':
    return None
  current = environ.get(ENV, '')
  if any(part.split('=')[0] == TUNABLE
         for part in current.split(':') if part):
    return None
  if glibc is None or glibc < MIN_GLIBC or thp != 'madvise':
    return None
  env = dict(environ)
  env[ENV] = f'{current}:{SETTING}' if current else SETTING
  return env


def reexec_with_hugepages() -> None:
  """Replaces this process by itself with the tunable set, if it would help.

  Call it first thing in a `__main__` block: nothing done before it
  survives. Returns (doing nothing) when `tuned_environment` says so, or
  when the original command line is unknown."""
  env = tuned_environment(os.environ, glibc_version(), thp_mode())
  argv = list(getattr(sys, 'orig_argv', []) or [])
  if env is None or not argv:
    return
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, [sys.executable, *argv[1:]], env)


def describe(environ: Mapping[str, str] | None = None) -> str:
  """The MLLOG note: whether this process's large host allocations use
  transparent huge pages."""
  environ = os.environ if environ is None else environ
  tunables = environ.get(ENV, '')
  on = any(part == SETTING for part in tunables.split(':'))
  mode = thp_mode()
  if on and mode == 'madvise':
    return (f'glibc malloc with transparent huge pages ({ENV}={SETTING}, '
            'kernel THP madvise)')
  return (f'glibc malloc defaults (kernel THP {mode or "unknown"}; '
          f'{ENV}={tunables or "unset"})')
