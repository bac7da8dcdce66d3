# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The theoretical CPU peak from cpuinfo text (benchmarks/peaks.py)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..',
                                'benchmarks'))
import peaks  # noqa: E402


def _cpuinfo(n, vendor, family, model, name, mhz, flags, smt=1):
  blocks = []
  for i in range(n):
    blocks.append('\n'.join([
        f'processor\t: {i}', f'vendor_id\t: {vendor}',
        f'cpu family\t: {family}', f'model\t\t: {model}',
        f'model name\t: {name}', f'cpu MHz\t\t: {mhz}', 'physical id\t: 0',
        f'core id\t\t: {i // smt}', f'flags\t\t: {flags}']))
  return '\n\n'.join(blocks) + '\n'


ZEN4 = _cpuinfo(2, 'AuthenticAMD', 25, 17, 'AMD EPYC', '2596.130',
                'fpu sse sse2 fma avx avx2 avx512f avx512_bf16')
SKX = _cpuinfo(4, 'GenuineIntel', 6, 85,
               'Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz', '2400.000',
               'sse sse2 fma avx avx2 avx512f', smt=2)


def test_zen4_runs_avx512_on_256_bit_pipes(monkeypatch):
  monkeypatch.delenv(peaks.MAX_GHZ_ENV, raising=False)
  p = peaks.cpu_peak(ZEN4, cpus={0, 1}, sysfs=False)
  assert (p.cores, p.vector_bits, p.flop_per_cycle_f32) == (2, 256, 32)
  # 2 cores x 32 FLOP/cycle x 2.596 GHz nominal; x 1.6 assumed boost (AMD).
  assert p.flops('float32', 'nominal') == pytest.approx(2 * 32 * 2.59613e9)
  assert p.flops('float32') == pytest.approx(1.6 * 2 * 32 * 2.59613e9)
  assert p.flops('bfloat16') == pytest.approx(2 * p.flops('float32'))


def test_intel_avx512_smt_siblings_and_named_clock(monkeypatch):
  monkeypatch.setenv(peaks.MAX_GHZ_ENV, '3.7')
  p = peaks.cpu_peak(SKX, cpus={0, 1, 2, 3}, sysfs=False)
  # Four logical CPUs on two physical cores; 512-bit x 2 FMA units.
  assert (p.cores, p.vector_bits, p.flop_per_cycle_f32) == (2, 512, 64)
  assert p.nominal_ghz == 2.4 and p.max_ghz == 3.7
  assert p.bf16_factor == 1  # no avx512_bf16
  assert p.flops() == pytest.approx(2 * 64 * 3.7e9)
  # Only the CPUs this process may run on count.
  assert peaks.cpu_peak(SKX, cpus={0}, sysfs=False).cores == 1


def test_a_measured_peak_above_the_theoretical_one_is_refused():
  p = peaks.cpu_peak(ZEN4, cpus={0, 1}, max_ghz=3.7, sysfs=False)
  assert p.flops() == pytest.approx(236.8e9)
  line = peaks.check(170e9, peak=p)
  assert '170.0 GFLOP/s' in line and '72 %' in line and '166-237' in line
  # The 416 GFLOP/s once recorded on this 2-core machine.
  with pytest.raises(peaks.ImpossiblePeakError, match='416.6 GFLOP/s'):
    peaks.check(416.6e9, peak=p)


def test_accelerator_peaks_by_device_kind():
  assert peaks.accelerator_bf16_peak('NVIDIA H200') == 989.4e12
  assert peaks.accelerator_bf16_peak('NVIDIA H200 NVL') == 989.4e12
  assert peaks.accelerator_bf16_peak('cpu') is None
