# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The glibc tunables: when they are set, and that they cut page faults."""

import os
import subprocess
import sys

import pytest

from mlperf_jax.runtime import host_malloc as hm

GOOD = ((2, 36), 'madvise')


def test_sets_the_tunable_where_it_helps():
  env = hm.tuned_environment({'PATH': '/bin'}, *GOOD)
  assert env == {'PATH': '/bin', 'GLIBC_TUNABLES': (
      'glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1:'
      f'glibc.malloc.mmap_threshold={64 << 30}:'
      f'glibc.malloc.trim_threshold={64 << 30}')}


def test_keeps_other_tunables():
  env = hm.tuned_environment(
      {'GLIBC_TUNABLES': 'glibc.malloc.tcache_count=8'}, *GOOD)
  assert env['GLIBC_TUNABLES'] == 'glibc.malloc.tcache_count=8:' + hm.SETTING


@pytest.mark.parametrize('environ,glibc,thp', [
    ({'MLPERF_JAX_HOST_MALLOC': 'default'}, (2, 36), 'madvise'),  # opt out
    ({'GLIBC_TUNABLES': 'glibc.malloc.hugetlb=0'}, (2, 36), 'madvise'),
    ({'GLIBC_TUNABLES': 'a=1:glibc.malloc.hugetlb=1'}, (2, 36), 'madvise'),
    ({'GLIBC_TUNABLES': 'glibc.malloc.arena_max=4'}, (2, 36), 'madvise'),
    ({}, (2, 34), 'madvise'),      # glibc before the tunable
    ({}, None, 'madvise'),         # not glibc (musl, macOS)
    ({}, (2, 36), 'always'),       # the kernel does it already
    ({}, (2, 36), 'never'),        # the kernel will not
    ({}, (2, 36), None),           # no THP interface
])
def test_leaves_the_environment_alone(environ, glibc, thp):
  assert hm.tuned_environment(environ, glibc, thp) is None


def test_reads_the_bracketed_thp_mode(tmp_path):
  f = tmp_path / 'enabled'
  f.write_text('always [madvise] never\n')
  assert hm.thp_mode(str(f)) == 'madvise'
  f.write_text('[always] madvise never\n')
  assert hm.thp_mode(str(f)) == 'always'
  assert hm.thp_mode(str(tmp_path / 'missing')) is None


# What both child scripts start with: the tunables, then glibc's malloc.
_LIBC = r'''
import ctypes
from mlperf_jax.runtime import host_malloc
host_malloc.reexec_with_tuned_malloc()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
'''

_CHILD = _LIBC + r'''
import os, resource
n = 256 << 20

def touch():
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  p = libc.malloc(n)
  ctypes.memset(p, 1, n)
  faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
  return p, faults

p, first = touch()
libc.free(p)
_, again = touch()  # what the next step's buffers cost
print(os.environ.get('GLIBC_TUNABLES', '-'), first, again)
'''


def _run_child(script, extra_env):
  """The words `script` prints, run with this environment less any
  tunables or opt-out, plus `extra_env`."""
  env = {k: v for k, v in os.environ.items()
         if k not in ('GLIBC_TUNABLES', hm.OPT_OUT)}
  env.update(extra_env)
  return subprocess.run([sys.executable, '-c', script], env=env, check=True,
                        capture_output=True, text=True).stdout.split()


def _child(extra_env):
  out = _run_child(_CHILD, extra_env)
  return out[0], int(out[1]), int(out[2])


def test_reexec_sets_the_tunables_and_cuts_page_faults():
  if hm.tuned_environment({}, hm.glibc_version(), hm.thp_mode()) is None:
    pytest.skip('the tunables would not take effect here (glibc '
                f'{hm.glibc_version()}, THP {hm.thp_mode()})')
  tunables, first, again = _child({})
  assert tunables == hm.SETTING
  default_tunables, default_first, default_again = _child(
      {hm.OPT_OUT: 'default'})
  assert default_tunables == '-'
  # 256 MiB is 65,536 pages of 4 KiB but 128 of 2 MiB; glibc's defaults
  # mmap it afresh (and munmap it) each time.
  assert default_first > 30_000 and default_again > 30_000
  assert first < default_first / 10
  # Kept in the process: the second block reuses the first's pages.
  assert again < 1_000


_BIG_CHILD = _LIBC + r'''
libc.sbrk.restype = ctypes.c_void_p
libc.sbrk.argtypes = [ctypes.c_ssize_t]
n = 5 << 30  # above the old 4 GiB threshold; never touched, so no RSS
p = libc.malloc(n)
from_heap = p < libc.sbrk(0)  # below the program break: the brk heap
libc.free(p)
q = libc.malloc(n)
print(int(from_heap), int(q == p))
'''


def test_a_step_sized_block_comes_from_the_heap_and_is_reused():
  # A BERT-large step's temporary buffer is one ~11 GB block: above the
  # mmap threshold it would be mapped and faulted in afresh every step.
  if hm.tuned_environment({}, hm.glibc_version(), hm.thp_mode()) is None:
    pytest.skip('the tunables would not take effect here')
  assert _run_child(_BIG_CHILD, {}) == ['1', '1']
  # glibc's defaults mmap it
  assert _run_child(_BIG_CHILD, {hm.OPT_OUT: 'default'})[0] == '0'


def test_describe_names_the_setting():
  assert 'keeping' not in hm.describe({})
  if hm.thp_mode() == 'madvise':
    assert 'huge pages' in hm.describe({'GLIBC_TUNABLES': hm.SETTING})
