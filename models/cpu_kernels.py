# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Host-compiled XLA FFI kernels for the CPU: build, cache and register.

Every kernel source here (`direct_conv.cc`: stride-1 3x3 convolutions,
`batch_norm_kernels.cc`: BatchNorm's per-channel sums and a residual block's
end, `max_pool_kernels.cc`: max pooling forward and backward,
`im2col_kernels.cc`: convolution patches and their transpose) and the
header they
share (`cpu_kernel_support.h`) are compiled on first use, together, with the
host's C++ compiler (`$CXX`, else `g++`) for the host's CPU (`-march=native`)
into one library in a cache directory (`$MLPERF_JAX_KERNEL_CACHE`, else
`~/.cache/mlperf_jax/kernels`), keyed by the sources, the compiler, jaxlib
and the CPU; the library's FFI targets are then registered for the 'cpu'
platform. Without a compiler, or where the build fails, `available()` is
False and `unavailable_reason()` says why; the callers (`direct_conv`,
`batch_norm`, `max_pool`, `conv_lowering`) then keep XLA's own forms. Each
caller has its own switch to turn its kernels off
(`MLPERF_JAX_DIRECT_CONV=off`, `MLPERF_JAX_BN_SUMS=off`,
`MLPERF_JAX_MAX_POOL_KERNEL=off`, `MLPERF_JAX_IM2COL_KERNEL=off`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import jax

_HERE = Path(__file__).parent
SOURCES = (_HERE / 'direct_conv.cc', _HERE / 'batch_norm_kernels.cc',
           _HERE / 'max_pool_kernels.cc', _HERE / 'im2col_kernels.cc')
HEADERS = (_HERE / 'cpu_kernel_support.h',)
TARGETS = ('mlperf_jax_direct_conv_forward',
           'mlperf_jax_direct_conv_kernel_grad',
           'mlperf_jax_batch_norm_sums',
           'mlperf_jax_batch_norm_residual_relu',
           'mlperf_jax_max_pool_forward',
           'mlperf_jax_max_pool_backward',
           'mlperf_jax_im2col',
           'mlperf_jax_col2im')
CACHE_ENV = 'MLPERF_JAX_KERNEL_CACHE'
_OFF = ('0', 'off', 'false', 'no')


class _Status:
  reason = 'not loaded yet'


def switched_off(env: str) -> bool:
  """Whether the environment variable `env` turns a kernel family off."""
  return os.environ.get(env, '').lower() in _OFF


def enabled(env: str) -> bool:
  """Whether a kernel family may be used: built, and not switched off by
  its environment variable `env`."""
  return not switched_off(env) and available()


def window_attrs(window, strides, pad_before) -> dict:
  """The FFI attributes of a pooling or patch window (kh, kw, sh, sw, pt,
  pl: the `MLPERF_JAX_WINDOW_ATTRS` of cpu_kernel_support.h)."""
  return dict(kh=int(window[0]), kw=int(window[1]), sh=int(strides[0]),
              sw=int(strides[1]), pt=int(pad_before[0]),
              pl=int(pad_before[1]), threads=int(threads()))


def _cpu_signature() -> str:
  try:
    text = Path('/proc/cpuinfo').read_text()
  except OSError:
    return 'unknown-cpu'
  keep = [line for line in text.splitlines()
          if line.startswith(('model name', 'flags'))][:2]
  return '\n'.join(keep)


def _compiler() -> str | None:
  return shutil.which(os.environ.get('CXX', 'g++'))


def _build(cxx: str) -> Path:
  import jaxlib
  version = subprocess.run([cxx, '--version'], capture_output=True,
                           text=True, check=True).stdout
  key = hashlib.sha256('\0'.join(
      [p.read_text() for p in SOURCES + HEADERS]
      + [version, jaxlib.__version__, _cpu_signature()]
  ).encode()).hexdigest()[:16]
  cache = Path(os.environ.get(CACHE_ENV) or
               Path.home() / '.cache' / 'mlperf_jax' / 'kernels')
  target = cache / f'cpu_kernels-{key}.so'
  if target.exists():
    return target
  cache.mkdir(parents=True, exist_ok=True)
  # Build beside the target and rename: concurrent builders (pytest-xdist
  # workers) each produce a whole file and the last rename wins.
  fd, tmp = tempfile.mkstemp(dir=cache, suffix='.so.tmp')
  os.close(fd)
  try:
    proc = subprocess.run(
        [cxx, '-O3', '-march=native', '-ffp-contract=fast', '-std=c++17',
         '-shared', '-fPIC', '-w', '-I', jax.ffi.include_dir(),
         '-I', str(_HERE), *map(str, SOURCES), '-o', tmp, '-lpthread'],
        capture_output=True, text=True)
    if proc.returncode != 0:
      raise RuntimeError(f'{cxx} failed on {", ".join(p.name for p in SOURCES)}'
                         f': {proc.stderr.strip()[-2000:]}')
    os.replace(tmp, target)
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)
  return target


def _load():
  cxx = _compiler()
  if cxx is None:
    _Status.reason = (f'no C++ compiler ({os.environ.get("CXX", "g++")}) on '
                      'PATH: install g++ (apt-get install -y g++) or set $CXX')
    return None
  try:
    lib = ctypes.CDLL(str(_build(cxx)))
  except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
    _Status.reason = f'build failed: {e}'
    return None
  for name in TARGETS:
    jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(lib, name)),
                                platform='cpu')
  _Status.reason = ''
  return lib


@functools.cache
def library():
  """The loaded library (built once per process), or None."""
  return _load()


def available() -> bool:
  """Whether the kernels are built and registered (builds them once)."""
  return library() is not None


def unavailable_reason() -> str:
  """Why `available()` is False ('' when it is True)."""
  library()
  return _Status.reason


def threads() -> int:
  """Threads per call: the CPUs this process may run on."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


def one_device() -> bool:
  """Whether the kernels may run: XLA's SPMD partitioner knows nothing of
  the custom calls and would gather a sharded batch onto every device, so
  with several devices the callers keep XLA's forms."""
  return jax.device_count() == 1
