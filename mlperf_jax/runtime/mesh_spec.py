# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mesh specs ('data=4,tensor=2'): parsed and sized without importing JAX,
so that the CLI validates them before any backend starts."""

from __future__ import annotations

import math
from typing import Mapping

MESH_AXES: tuple[str, ...] = ('data', 'fsdp', 'tensor')
BATCH_AXES: tuple[str, ...] = ('data', 'fsdp')


class MeshSpecError(ValueError):
  """A mesh spec that cannot be parsed or does not fit the devices."""


def parse_mesh_spec(text: str | None) -> dict[str, int]:
  """'data=4,tensor=2' -> {'data': 4, 'fsdp': 1, 'tensor': 2}.

  Unnamed axes default to 1, except `data`, which defaults to -1 (fill the
  remaining devices). At most one axis may be -1.
  """
  sizes = {'data': -1, 'fsdp': 1, 'tensor': 1}
  if not text:
    return sizes
  seen = set()
  for part in text.split(','):
    name, sep, value = part.strip().partition('=')
    name = name.strip()
    if not sep or name not in MESH_AXES:
      raise MeshSpecError(
          f'bad mesh entry {part.strip()!r}: expected AXIS=SIZE with AXIS in '
          f'{list(MESH_AXES)}, e.g. --mesh data=4,tensor=2')
    try:
      size = int(value)
    except ValueError:
      raise MeshSpecError(f'mesh axis {name}: {value!r} is not an integer') from None
    if size == 0 or size < -1:
      raise MeshSpecError(f'mesh axis {name}: size must be >= 1 or -1 (fill)')
    sizes[name] = size
    seen.add(name)
  if 'data' not in seen and any(sizes[a] == -1 for a in seen):
    sizes['data'] = 1
  if sum(1 for s in sizes.values() if s == -1) > 1:
    raise MeshSpecError('at most one mesh axis may be -1')
  return sizes


def resolve_mesh_shape(sizes: Mapping[str, int], num_devices: int
                       ) -> tuple[int, ...]:
  """Fills a -1 axis and checks that the product equals `num_devices`."""
  fixed = math.prod(s for s in sizes.values() if s != -1)
  shape = []
  for a in MESH_AXES:
    s = sizes.get(a, 1)
    if s == -1:
      if num_devices % fixed:
        raise MeshSpecError(
            f'mesh {dict(sizes)} does not divide {num_devices} devices: the '
            f'fixed axes multiply to {fixed}')
      s = num_devices // fixed
    shape.append(s)
  if math.prod(shape) != num_devices:
    raise MeshSpecError(
        f'mesh {dict(zip(MESH_AXES, shape))} uses {math.prod(shape)} devices '
        f'but {num_devices} are available; use -1 for one axis to fill')
  return tuple(shape)


def fixed_size(sizes: Mapping[str, int]) -> int | None:
  """Devices the spec asks for, or None when an axis fills (-1)."""
  if any(s == -1 for s in sizes.values()):
    return None
  return math.prod(sizes.values())
