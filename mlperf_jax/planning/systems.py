# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The accelerators `plan` knows: peak compute, memory and interconnect.

Per chip: dense bf16 peak FLOP/s, HBM capacity and bandwidth, the bandwidth
one chip can drive into its fast domain (TPU ICI: all links of the chip;
GPU: NVLink, one direction), and, for GPUs, the per-GPU bandwidth between
nodes (InfiniBand, one direction). Figures are the vendors' published
specifications (sources per row); interconnect figures are the link totals,
not measured collective throughput, which `plan` states as an assumption.

System names:
- TPU slices as Google names them: `tpu-v3-N`, `tpu-v4-N`, `tpu-v5p-N`
  count TensorCores (2 per chip, so `tpu-v4-64` is 32 chips, as MLPerf's
  `tpu-v4-6912` held 3456 chips); `tpu-v5e-N` counts chips.
- GPU systems: `a100-N`, `h100-N`, `h200-N` count GPUs, 8 per node.

Imports no JAX.
"""

from __future__ import annotations

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Chip:
  name: str
  peak_bf16_flops: float        # dense, per chip
  hbm_bytes: float
  hbm_bandwidth: float          # bytes/s
  fast_bandwidth: float         # bytes/s per chip inside the fast domain
  node_bandwidth: float | None  # bytes/s per chip between nodes (GPUs)
  chips_per_node: int | None    # GPUs: 8; TPUs: None (one ICI domain)
  cores_per_chip: int           # how the slice name counts
  source: str


_G = 1e9
_T = 1e12
_GIB = 2**30

CHIPS: dict[str, Chip] = {c.name: c for c in (
    Chip('tpu-v3', 123 * _T, 32 * _GIB, 900 * _G, 4 * 82 * _G, None, None, 2,
         'Google Cloud TPU v3 docs (123 TFLOP/s bf16, 32 GiB HBM2, 900 GB/s);'
         ' ICI 4 links x 656 Gbit/s (Jouppi et al., CACM 2020)'),
    Chip('tpu-v4', 275 * _T, 32 * _GIB, 1200 * _G, 300 * _G, None, None, 2,
         'Google Cloud TPU v4 docs (275 TFLOP/s bf16, 32 GiB, 1200 GB/s, ICI '
         '2400 Gbit/s per chip); Jouppi et al., ISCA 2023'),
    Chip('tpu-v5e', 197 * _T, 16 * _GIB, 819 * _G, 200 * _G, None, None, 1,
         'Google Cloud TPU v5e docs (197 TFLOP/s bf16, 16 GiB, 819 GB/s, ICI '
         '1600 Gbit/s per chip)'),
    Chip('tpu-v5p', 459 * _T, 95 * _GIB, 2765 * _G, 600 * _G, None, None, 2,
         'Google Cloud TPU v5p docs (459 TFLOP/s bf16, 95 GiB, 2765 GB/s, ICI '
         '4800 Gbit/s per chip)'),
    Chip('a100', 312 * _T, 80e9, 2039 * _G, 300 * _G, 25 * _G, 8, 1,
         'NVIDIA A100 80GB SXM datasheet (312 TFLOP/s bf16 dense, 2039 GB/s, '
         'NVLink 600 GB/s bidirectional); DGX A100: 8x HDR 200 Gbit/s'),
    Chip('h100', 989 * _T, 80e9, 3350 * _G, 450 * _G, 50 * _G, 8, 1,
         'NVIDIA H100 SXM datasheet (989 TFLOP/s bf16 dense, 3.35 TB/s, '
         'NVLink 900 GB/s bidirectional); DGX H100: 8x NDR 400 Gbit/s'),
    Chip('h200', 989 * _T, 141e9, 4800 * _G, 450 * _G, 50 * _G, 8, 1,
         'NVIDIA H200 SXM datasheet (989 TFLOP/s bf16 dense, 141 GB, 4.8 TB/s,'
         ' NVLink 900 GB/s bidirectional); DGX H200: 8x NDR 400 Gbit/s'),
)}


@dataclasses.dataclass(frozen=True)
class System:
  name: str
  chip: Chip
  chips: int

  @property
  def nodes(self) -> int:
    per = self.chip.chips_per_node
    return 1 if per is None else -(-self.chips // per)


class SystemNameError(ValueError):
  """A system name `plan` does not know."""


def names_help() -> str:
  return ('tpu-v3-N / tpu-v4-N / tpu-v5p-N (N TensorCores, 2 per chip), '
          'tpu-v5e-N (N chips), a100-N / h100-N / h200-N (N GPUs)')


def parse_system(text: str) -> System:
  """'tpu-v4-64' -> 32 TPU v4 chips; 'a100-8' -> 8 A100s."""
  m = re.fullmatch(r'(tpu-v3|tpu-v4|tpu-v5e|tpu-v5p|a100|h100|h200)-(\d+)',
                   text.strip().lower())
  if not m:
    raise SystemNameError(f'unknown system {text!r}; known: {names_help()}')
  chip = CHIPS[m.group(1)]
  count = int(m.group(2))
  if count < 1 or count % chip.cores_per_chip:
    raise SystemNameError(
        f'system {text!r}: {chip.name} slices count {chip.cores_per_chip} '
        'cores per chip; give a multiple of it')
  return System(name=text, chip=chip, chips=count // chip.cores_per_chip)


def with_chips(system: System, chips: int) -> System:
  """The same kind of system at another size (for `--sweep`)."""
  return System(name=f'{system.chip.name}-{chips * system.chip.cores_per_chip}',
                chip=system.chip, chips=chips)
