# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Collectives of a compiled (SPMD-partitioned) step, read from its HLO text.

Each collective becomes one record: its kind, the bytes of its result on one
device, the device groups it runs over, and which mesh axes those groups
span. `wire_bytes` is what one device sends for it with the textbook ring
algorithm (all-reduce 2(g-1)/g of the buffer, all-gather and reduce-scatter
(g-1)/g of the full buffer, all-to-all (g-1)/g, a permute the whole buffer),
the model `plan` uses for communication time. Imports no JAX.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Mapping, Sequence

import numpy as np

_KINDS = ('all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all',
          'collective-permute')
_BYTES = {'pred': 1, 's8': 1, 'u8': 1, 'f8e4m3fn': 1, 'f8e5m2': 1,
          'bf16': 2, 'f16': 2, 's16': 2, 'u16': 2, 'f32': 4, 's32': 4,
          'u32': 4, 'f64': 8, 's64': 8, 'u64': 8, 'c64': 8, 'c128': 16}
_INSTR = re.compile(
    r'^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(?P<type>.+?)\s+'
    r'(?P<op>' + '|'.join(_KINDS) + r')(?P<start>-start)?\(')
_SHAPE = re.compile(r'\b([a-z]+\d*(?:e\d+m\d+(?:fn)?)?)\[([\d,]*)\]')
_GROUPS_LIST = re.compile(r'replica_groups=\{((?:\{[\d,\s]*\},?\s*)*)\}')
_GROUPS_IOTA = re.compile(
    r'replica_groups=\[([\d,]+)\]<=\[([\d,]+)\](?:T\(([\d,]+)\))?')
_GROUPS_MESH = re.compile(
    r"replica_groups=mesh\[([^\]]*)\]\s*\{([^}]*)\}")
_PAIRS = re.compile(r'source_target_pairs=\{((?:\{\d+,\d+\},?)*)\}')


@dataclasses.dataclass(frozen=True)
class Collective:
  kind: str
  bytes: int                    # result bytes on one device
  groups: tuple[tuple[int, ...], ...]
  axes: tuple[str, ...]         # mesh axes the groups span

  @property
  def group_size(self) -> int:
    return len(self.groups[0]) if self.groups else 1

  def wire_bytes(self, group_size: int | None = None) -> float:
    """Bytes one device sends (ring algorithm) for a group of this size."""
    g = self.group_size if group_size is None else group_size
    if g <= 1:
      return 0.0
    if self.kind == 'all-reduce':
      return 2.0 * (g - 1) / g * self.bytes
    if self.kind == 'reduce-scatter':  # result is 1/g of the input
      return (g - 1) * float(self.bytes)
    if self.kind in ('all-gather', 'all-to-all'):
      return (g - 1) / g * self.bytes
    return float(self.bytes)  # collective-permute


def _result_bytes(type_text: str, started: bool) -> int:
  shapes = [(_BYTES.get(dt, 4), math.prod(int(d) for d in dims.split(',') if d))
            for dt, dims in _SHAPE.findall(type_text) if dt in _BYTES]
  sizes = [b * n for b, n in shapes]
  if started and len(sizes) > 1:
    # `*-start` results are (operand, result[, scratch...]) tuples.
    return sizes[1]
  return sum(sizes)


def _groups(line: str, num_devices: int) -> tuple[tuple[int, ...], ...]:
  """Device groups in any of XLA's three spellings: explicit lists, iota
  (`[2,4]<=[4,2]T(1,0)`) and mesh axes (`mesh['axis_0'=4,'axis_1'=2]
  {'axis_0'}`: groups vary the listed axes of a row-major device iota)."""
  m = _GROUPS_MESH.search(line)
  if m:
    axes = re.findall(r"'([^']+)'=(\d+)", m.group(1))
    names = [a for a, _ in axes]
    sizes = [int(n) for _, n in axes]
    inner = [names.index(a) for a in re.findall(r"'([^']+)'", m.group(2))]
    outer = [i for i in range(len(names)) if i not in inner]
    ids = np.arange(math.prod(sizes)).reshape(sizes).transpose(outer + inner)
    width = math.prod(sizes[i] for i in inner)
    return tuple(tuple(int(i) for i in row) for row in ids.reshape(-1, width))
  m = _GROUPS_IOTA.search(line)
  if m:
    shape = [int(x) for x in m.group(1).split(',')]
    dims = [int(x) for x in m.group(2).split(',')]
    ids = np.arange(math.prod(dims)).reshape(dims)
    if m.group(3):
      ids = ids.transpose([int(x) for x in m.group(3).split(',')])
    return tuple(tuple(int(i) for i in row) for row in ids.reshape(shape))
  m = _GROUPS_LIST.search(line)
  if m and m.group(1).strip():
    return tuple(tuple(int(i) for i in g.split(',') if i.strip())
                 for g in re.findall(r'\{([\d,\s]*)\}', m.group(1)))
  m = _PAIRS.search(line)
  if m:
    return tuple(tuple(int(i) for i in p.split(','))
                 for p in re.findall(r'\{(\d+,\d+)\}', m.group(1)))
  return (tuple(range(num_devices)),)  # empty groups: every device


def _axes(groups, coords: Mapping[int, Mapping[str, int]],
          axis_names: Sequence[str]) -> tuple[str, ...]:
  spanned = set()
  for g in groups:
    for a in axis_names:
      if len({coords[d][a] for d in g if d in coords}) > 1:
        spanned.add(a)
  return tuple(a for a in axis_names if a in spanned)


def parse(hlo_text: str, device_coords: Mapping[int, Mapping[str, int]],
          axis_names: Sequence[str]) -> list[Collective]:
  """The collectives of `hlo_text`.

  Args:
    hlo_text: a compiled executable's `as_text()`.
    device_coords: position in the executable's device assignment (the
      mesh's devices, flattened) -> {mesh axis: index}.
    axis_names: the mesh's axis names, in order.
  """
  out = []
  for line in hlo_text.splitlines():
    m = _INSTR.match(line)
    if not m:
      continue
    groups = _groups(line, len(device_coords))
    out.append(Collective(
        kind=m.group('op'),
        bytes=_result_bytes(m.group('type'), bool(m.group('start'))),
        groups=groups, axes=_axes(groups, device_coords, axis_names)))
  return out
