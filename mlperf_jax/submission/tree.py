# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The MLPerf submission tree that `submit` writes and `check` reads.

  DIR/systems/<system>.json                          system description
  DIR/results/<system>/<benchmark>/result_<i>.txt    one MLLOG log per run
  DIR/benchmarks/<benchmark>/implementations/mlperf_jax/
                                    README.md, run_and_time.sh (the command)
  DIR/runs/<benchmark>/run_<i>_attempt<k>/           per-run work: stdout,
                                    metrics.json, convergence.png (kept, also
                                    for interrupted attempts)
  DIR/runs/<benchmark>/manifest.json                 options and seeds

A result file appears only once its run has ended (run_stop logged), written
under a temporary name and renamed, so an interrupted `submit` never leaves a
partial result; the results folder holds nothing but result files (and the
`scaling.json` of the RCP check) because the package checker warns about
anything else.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import shlex
from typing import Any, Sequence

_RESULT_RE = re.compile(r'^result_(\d+)\.txt$')
IMPLEMENTATION = 'mlperf_jax'


@dataclasses.dataclass(frozen=True)
class Tree:
  """Paths of one benchmark of one system in a submission directory."""
  root: str
  system: str
  benchmark: str

  @property
  def system_json(self) -> str:
    return os.path.join(self.root, 'systems', f'{self.system}.json')

  @property
  def results_dir(self) -> str:
    return os.path.join(self.root, 'results', self.system, self.benchmark)

  @property
  def implementation_dir(self) -> str:
    return os.path.join(self.root, 'benchmarks', self.benchmark,
                        'implementations', IMPLEMENTATION)

  @property
  def runs_dir(self) -> str:
    return os.path.join(self.root, 'runs', self.benchmark)

  @property
  def manifest(self) -> str:
    return os.path.join(self.runs_dir, 'manifest.json')

  def result_path(self, index: int) -> str:
    return os.path.join(self.results_dir, f'result_{index}.txt')

  def result_indices(self) -> list[int]:
    """Indices of the result files present (complete by construction)."""
    if not os.path.isdir(self.results_dir):
      return []
    out = []
    for name in os.listdir(self.results_dir):
      m = _RESULT_RE.match(name)
      if m:
        out.append(int(m.group(1)))
    return sorted(out)

  def new_attempt_dir(self, index: int) -> str:
    k = 1
    while os.path.exists(os.path.join(self.runs_dir,
                                      f'run_{index}_attempt{k}')):
      k += 1
    d = os.path.join(self.runs_dir, f'run_{index}_attempt{k}')
    os.makedirs(d)
    return d


def find_trees(root: str) -> list[Tree]:
  """Every results/<system>/<benchmark> folder under `root`."""
  out = []
  for d in sorted(glob.glob(os.path.join(root, 'results', '*', '*'))):
    if os.path.isdir(d):
      system, benchmark = d.split(os.sep)[-2:]
      out.append(Tree(root, system, benchmark))
  return out


def remove_stale_temporaries(tree: Tree) -> None:
  """Deletes `*.tmp` files a killed `submit` may have left behind."""
  for p in glob.glob(os.path.join(tree.results_dir, '*.tmp')):
    os.remove(p)


def write_atomic(path: str, data: str | bytes) -> None:
  """Writes to `path.tmp`, flushes to disk, then renames onto `path`."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + '.tmp'
  mode = 'wb' if isinstance(data, bytes) else 'w'
  with open(tmp, mode) as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


def read_manifest(tree: Tree) -> dict[str, Any] | None:
  if not os.path.exists(tree.manifest):
    return None
  with open(tree.manifest) as f:
    return json.load(f)


def write_manifest(tree: Tree, manifest: dict[str, Any]) -> None:
  write_atomic(tree.manifest, json.dumps(manifest, indent=1) + '\n')


def write_implementation(tree: Tree, *, workload: str,
                         train_args: Sequence[str],
                         submit_command: Sequence[str], notice: str | None
                         ) -> None:
  """README.md and run_and_time.sh of the implementation folder."""
  d = tree.implementation_dir
  os.makedirs(d, exist_ok=True)
  train_cmd = shlex.join(['python', '-m', 'mlperf_jax.train', *train_args])
  readme = [
      f'# {tree.benchmark}: mlperf_jax implementation',
      '',
      f'JAX/Flax/optax implementation of the `{workload}` workload from the '
      '`mlperf_jax` project.',
      '',
  ]
  if notice:
    readme += [f'**{notice}**', '']
  readme += [
      '## Reproduce this package', '',
      '```bash', 'pip install mlperf_jax', shlex.join(submit_command), '```',
      '',
      'Each run is a separate process (`run_and_time.sh SEED`):', '',
      '```bash', f'{train_cmd} --seed SEED', '```', '',
      'Check the package with `python -m mlperf_jax.check DIR`.', '']
  write_atomic(os.path.join(d, 'README.md'), '\n'.join(readme))
  script = ('#!/bin/bash\n'
            '# One timed run; the seed is the first argument (default: '
            'drawn from os.urandom and logged).\n'
            'set -euo pipefail\n'
            f'exec {train_cmd} ${{1:+--seed "$1"}}\n')
  path = os.path.join(d, 'run_and_time.sh')
  write_atomic(path, script)
  os.chmod(path, 0o755)
