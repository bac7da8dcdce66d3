# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Theoretical peak FLOP/s: a CPU's from /proc/cpuinfo, an accelerator's
from its published dense figure.

CPU (float32): physical cores x FLOP/cycle x clock, where FLOP/cycle =
FMA units (2, the most any x86 core has) x float32 lanes of the vector
datapath x 2 (multiply + add) when the CPU has FMA. The datapath is the
widest vector flag (avx512f: 512 bits, avx: 256, sse: 128), except AMD Zen
1-4 (family 0x17 / 0x19), which run AVX-512 (Zen 4) and AVX2 on 256-bit
pipes (Zen 1: 128-bit). bfloat16 doubles it where the CPU has
`avx512_bf16` (VDPBF16PS: two products per float32 lane) or AMX.

The clock: the kernel's cpufreq maximum if it exposes one; else the
"@ x.xxGHz" of the model name, else the "cpu MHz" line, each times
`UNKNOWN_BOOST` by vendor (boost above the nominal clock is invisible in a VM) unless
`MLPERF_CPU_MAX_GHZ` gives the maximum. Both the nominal and the maximum
figure are reported; a measured peak above the maximum one is an error of
the measurement (`check`), not a fast machine.

  python benchmarks/peaks.py          # prints this machine's figures
"""

from __future__ import annotations

import dataclasses
import os
import re

# Largest boost/base clock ratio assumed when only the base clock is known,
# by vendor (server parts: EPYC 9654 2.4 -> 3.7 GHz = 1.54, EPYC 7763
# 2.45 -> 3.5 = 1.43; Xeon 8480+ 2.0 -> 3.8 GHz = 1.9). An upper bound.
UNKNOWN_BOOST = {'AuthenticAMD': 1.6}
UNKNOWN_BOOST_DEFAULT = 2.0
MAX_GHZ_ENV = 'MLPERF_CPU_MAX_GHZ'
FMA_UNITS = 2

# Dense bfloat16 tensor-core peaks (FLOP/s, no sparsity) from the vendors'
# data sheets, by `jax.Device.device_kind`.
ACCELERATOR_BF16_PEAK = {
    'NVIDIA H200': 989.4e12,
    'NVIDIA H100 80GB HBM3': 989.4e12,
    'NVIDIA H100 PCIe': 756.5e12,
    'NVIDIA A100-SXM4-80GB': 312e12,
    'NVIDIA A100-SXM4-40GB': 312e12,
    'TPU v4': 275e12,
    'TPU v5 lite': 197e12,
    'TPU v5': 459e12,
}


@dataclasses.dataclass(frozen=True)
class CpuPeak:
  """A CPU's theoretical peak and what it was computed from."""
  cores: int
  vector_bits: int
  fma: bool
  flop_per_cycle_f32: int
  bf16_factor: int
  nominal_ghz: float
  max_ghz: float
  clock_source: str

  def flops(self, dtype: str = 'float32', clock: str = 'max') -> float:
    ghz = self.max_ghz if clock == 'max' else self.nominal_ghz
    per_cycle = self.flop_per_cycle_f32 * (
        self.bf16_factor if dtype == 'bfloat16' else 1)
    return self.cores * per_cycle * ghz * 1e9

  def describe(self, dtype: str = 'float32') -> str:
    return (f'theoretical {dtype} peak {self.flops(dtype, "nominal") / 1e9:.0f}'
            f'-{self.flops(dtype) / 1e9:.0f} GFLOP/s = {self.cores} cores x '
            f'{self.flop_per_cycle_f32 * (self.bf16_factor if dtype == "bfloat16" else 1)}'
            f' FLOP/cycle ({self.vector_bits}-bit FMA x {FMA_UNITS}) x '
            f'{self.nominal_ghz:.2f}-{self.max_ghz:.2f} GHz ({self.clock_source})')


def _first(pattern: str, text: str) -> str | None:
  m = re.search(pattern, text, re.MULTILINE)
  return m.group(1) if m else None


def _processors(text: str) -> list[dict[str, str]]:
  out = []
  for block in text.strip().split('\n\n'):
    fields = {}
    for line in block.splitlines():
      if ':' in line:
        k, v = line.split(':', 1)
        fields[k.strip()] = v.strip()
    if 'processor' in fields:
      out.append(fields)
  return out


def _physical_cores(procs: list[dict[str, str]], cpus: set[int]) -> int:
  cores = {(p.get('physical id', '0'), p.get('core id', p['processor']))
           for p in procs if int(p['processor']) in cpus}
  return len(cores) or len(cpus)


def _vector_bits(flags: set[str], vendor: str, family: int,
                 model: int) -> int:
  bits = 512 if 'avx512f' in flags else 256 if 'avx' in flags else 128
  if vendor == 'AuthenticAMD' and family == 0x17 and model < 0x30:
    return min(bits, 128)  # Zen 1 / Zen+: 128-bit FP pipes
  if vendor == 'AuthenticAMD' and family in (0x17, 0x19):
    return min(bits, 256)  # Zen 2-4: 256-bit pipes (AVX-512 double-pumped)
  return bits


def _max_ghz_sysfs(cpus: set[int]) -> float | None:
  best = None
  for c in cpus:
    path = f'/sys/devices/system/cpu/cpu{c}/cpufreq/cpuinfo_max_freq'
    try:
      with open(path) as f:
        khz = int(f.read().strip())
    except (OSError, ValueError):
      continue
    best = max(best or 0.0, khz / 1e6)
  return best


def cpu_peak(cpuinfo: str | None = None, cpus: set[int] | None = None,
             max_ghz: float | None = None, sysfs: bool = True) -> CpuPeak:
  """This machine's theoretical peak (or that of the given cpuinfo text)."""
  if cpuinfo is None:
    with open('/proc/cpuinfo') as f:
      cpuinfo = f.read()
  procs = _processors(cpuinfo)
  if not procs:
    raise ValueError('no "processor" entries in the cpuinfo text')
  if cpus is None:
    cpus = (os.sched_getaffinity(0) if hasattr(os, 'sched_getaffinity')
            else {int(p['processor']) for p in procs})
  p0 = procs[0]
  flags = set(p0.get('flags', '').split())
  vendor = p0.get('vendor_id', '')
  family = int(p0.get('cpu family', '0'))
  model = int(p0.get('model', '0'))
  bits = _vector_bits(flags, vendor, family, model)
  fma = 'fma' in flags
  per_cycle = FMA_UNITS * (bits // 32) * (2 if fma else 1)
  bf16 = 2 if ({'avx512_bf16', 'amx_bf16'} & flags) else 1
  named = _first(r'@\s*([0-9.]+)\s*GHz', p0.get('model name', ''))
  mhz = p0.get('cpu MHz')
  nominal = float(named) if named else float(mhz) / 1e3 if mhz else None
  if nominal is None:
    raise ValueError('cpuinfo gives no clock (no "@ x GHz" model name, no '
                     f'"cpu MHz"); set {MAX_GHZ_ENV}')
  env = os.environ.get(MAX_GHZ_ENV)
  sys_max = _max_ghz_sysfs(cpus) if sysfs else None
  if max_ghz is not None:
    top, source = max_ghz, 'given maximum'
  elif env:
    top, source = float(env), f'{MAX_GHZ_ENV}'
  elif sys_max:
    top, source = sys_max, 'cpufreq maximum'
  else:
    boost = UNKNOWN_BOOST.get(vendor, UNKNOWN_BOOST_DEFAULT)
    top, source = nominal * boost, f'nominal clock x {boost:g} assumed boost'
  return CpuPeak(cores=_physical_cores(procs, cpus), vector_bits=bits,
                 fma=fma, flop_per_cycle_f32=per_cycle, bf16_factor=bf16,
                 nominal_ghz=nominal, max_ghz=max(top, nominal),
                 clock_source=source)


class ImpossiblePeakError(RuntimeError):
  """A measured peak above the theoretical one: the measurement is wrong."""


def check(measured_flops: float, dtype: str = 'float32',
          peak: CpuPeak | None = None) -> str:
  """The line printed beside a measured CPU peak; raises
  `ImpossiblePeakError` when the measurement exceeds the theoretical
  maximum (e.g. the compiler folded the benchmark, or more cores ran it
  than cpuinfo shows: set MLPERF_CPU_MAX_GHZ if the clock is the doubt)."""
  peak = peak or cpu_peak()
  top = peak.flops(dtype)
  line = (f'measured {measured_flops / 1e9:.1f} GFLOP/s = '
          f'{100 * measured_flops / top:.0f} % of the maximum; '
          f'{peak.describe(dtype)}')
  if measured_flops > top:
    raise ImpossiblePeakError(
        f'measured {dtype} matmul peak {measured_flops / 1e9:.1f} GFLOP/s '
        f'exceeds the theoretical {top / 1e9:.1f} GFLOP/s of this CPU '
        f'({peak.describe(dtype)}): the measurement is wrong (constant '
        'folding, a cached result, or more cores than cpuinfo shows).')
  return line


def accelerator_bf16_peak(device_kind: str) -> float | None:
  """Published dense bf16 FLOP/s of a device kind, None if unknown."""
  if device_kind in ACCELERATOR_BF16_PEAK:
    return ACCELERATOR_BF16_PEAK[device_kind]
  for kind, flops in ACCELERATOR_BF16_PEAK.items():
    if device_kind.startswith(kind):
      return flops
  return None


if __name__ == '__main__':
  p = cpu_peak()
  print(p.describe('float32'))
  print(p.describe('bfloat16'))
