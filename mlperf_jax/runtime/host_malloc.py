# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The host allocator's settings for XLA:CPU's step buffers (glibc).

XLA:CPU allocates each execution's buffers afresh. With glibc's defaults
every allocation above the mmap threshold (at most 32 MiB), and every large
one from a worker thread's arena, is a new `mmap`, freed with `munmap`: each
step touches its gigabytes of temporaries as new 4 KiB pages (a reference
ResNet-50 train step at batch 16: ~0.9 M minor page faults, a quarter of its
wall time in the kernel), and on a VM that hands freed memory back to the
host, a step that follows a few idle seconds runs 2x slower (4.1 s -> 8.2 s
after a 4 s pause; benchmarks/RESULTS.md, "Host allocator").

`TUNABLES` keeps that memory in the process and on huge pages:
`glibc.malloc.arena_max=1` (every thread allocates from the main, brk-grown
heap), `mmap_threshold` and `trim_threshold` 64 GiB (large blocks come from
the heap and stay there when freed, so the next step reuses them; a block
above the mmap threshold is mapped and faulted in afresh every step: at the
earlier 4 GiB, the reference BERT-large step's 10.8 GB temporary buffer
cost ~6,100 huge-page faults and 12 s of kernel time per 30 s step), and
`hugetlb=1` (glibc >= 2.35: `madvise(MADV_HUGEPAGE)` on the heap, 512 times
fewer faults when it grows). The process's resident memory stays at its
peak, and fragmentation decides that peak: one of three BERT-large batch-4
CPU runs reached 24.4 GB where the others stayed at 15-17 GB (a risk only
for runs close to the host's memory; opt out as below). Tunables are read
when a process starts, so the command-line entry points (`train`, `infer`,
`submit`, ...) call `reexec_with_tuned_malloc()` before any work: when the
settings are missing and would take effect, the process replaces itself
(`os.execve`) with the same command and the tunables added. Child
processes inherit them.

It applies only on Linux with glibc >= 2.35 and transparent huge pages in
`madvise` mode (elsewhere nothing changes). `MLPERF_JAX_HOST_MALLOC=default`
keeps glibc's defaults; a `GLIBC_TUNABLES` that already names one of these
tunables is left as it is. MLLOG records the setting as an implementation
detail (`mlperf_jax_host_malloc`). Only the allocator changes: results are
the same bits.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

ENV = 'GLIBC_TUNABLES'
TUNABLES = (('glibc.malloc.hugetlb', '1'),
            ('glibc.malloc.arena_max', '1'),
            ('glibc.malloc.mmap_threshold', str(64 << 30)),
            ('glibc.malloc.trim_threshold', str(64 << 30)))
SETTING = ':'.join(f'{k}={v}' for k, v in TUNABLES)
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

  None when opted out, when one of `TUNABLES` is already set (any value),
  on a glibc without the huge-page tunable, or when the kernel's mode makes
  it moot."""
  if environ.get(OPT_OUT, '') == 'default':
    return None
  current = environ.get(ENV, '')
  names = {k for k, _ in TUNABLES}
  if any(part.split('=')[0] in names
         for part in current.split(':') if part):
    return None
  if glibc is None or glibc < MIN_GLIBC or thp != 'madvise':
    return None
  env = dict(environ)
  env[ENV] = f'{current}:{SETTING}' if current else SETTING
  return env


def reexec_with_tuned_malloc() -> None:
  """Replaces this process by itself with `TUNABLES` set, if they apply.

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
  """The MLLOG note: how this process's large host allocations are served."""
  environ = os.environ if environ is None else environ
  tunables = environ.get(ENV, '')
  parts = set(p for p in tunables.split(':') if p)
  mode = thp_mode()
  if all(f'{k}={v}' in parts for k, v in TUNABLES) and mode == 'madvise':
    return (f'glibc malloc keeping freed memory, on transparent huge pages '
            f'({ENV}={tunables}; kernel THP madvise)')
  return (f'glibc malloc (kernel THP {mode or "unknown"}; '
          f'{ENV}={tunables or "unset"})')
