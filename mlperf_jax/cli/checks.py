# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Checks of single command-line values shared by the commands.

Each returns None or one sentence naming the problem and the fix, so that a
command can collect all of them and report them together (exit 2) before
anything is imported, compiled or written. Imports no JAX.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any, Mapping, Sequence

def fail(p: argparse.ArgumentParser, problems: Sequence[str]) -> None:
  """Exit 2 with every problem in one message (`p.error`)."""
  p.error(problems[0] if len(problems) == 1 else
          'bad command line:\n  - ' + '\n  - '.join(problems))


# Seeds are drawn in [0, 2^31) (os.urandom & 0x7FFFFFFF) and must fit every
# RNG that consumes them (JAX keys, NumPy generators, the LoadGen's).
SEED_MAX = 2**31 - 1


def seed_problem(flag: str, seed: int | None) -> str | None:
  if seed is None or 0 <= seed <= SEED_MAX:
    return None
  return (f'{flag} {seed} is out of range: a seed is an integer in '
          f'0..{SEED_MAX}')


def writable_dir_problem(flag: str, path: str | None) -> str | None:
  """`path` is (or can be made) a writable directory; nothing is created."""
  if not path:
    return None
  if os.path.exists(path) and not os.path.isdir(path):
    return (f'{flag} {path!r} exists and is not a directory; give a '
            'directory (it is created if missing)')
  probe = os.path.abspath(path)
  while not os.path.exists(probe):
    parent = os.path.dirname(probe)
    if parent == probe:
      break
    probe = parent
  if not os.path.isdir(probe):
    return (f'{flag} {path!r} cannot be created: {probe!r} is a file, not a '
            'directory')
  if not os.access(probe, os.W_OK | os.X_OK):
    return (f'{flag} {path!r} is not writable ({probe!r} does not allow this '
            'user to write); choose a directory you can write to')
  return None


def name_problem(flag: str, name: str | None) -> str | None:
  """A name that becomes one path component (no separators, not '..')."""
  if name is None:
    return None
  if (not name.strip() or name in ('.', '..') or '/' in name
      or (os.sep != '/' and os.sep in name) or '\0' in name):
    return (f'{flag} {name!r} must be a plain name (one directory name, no '
            "'/' and not '.' or '..'), e.g. my_system")
  return None


def non_finite_hparams(hp: Mapping[str, Any]) -> list[str]:
  """Keys whose numeric value is NaN or infinite."""
  bad = []
  for k, v in hp.items():
    values = v if isinstance(v, (list, tuple)) else [v]
    if any(isinstance(x, float) and not math.isfinite(x) for x in values):
      bad.append(k)
  return bad
