# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Packaging rules: repo folders are imported only under `mlperf_jax`."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
_BAD = re.compile(r'^\s*(from|import)\s+(models|input_pipelines)(\.|\s|$)',
                  re.M)


def test_no_top_level_models_or_input_pipelines_imports():
  offenders = []
  for path in ROOT.rglob('*.py'):
    if any(p.startswith('.') or p in ('build',) for p in path.parts):
      continue
    if _BAD.search(path.read_text(errors='ignore')):
      offenders.append(str(path.relative_to(ROOT)))
  assert not offenders, (
      'import these as mlperf_jax.models / mlperf_jax.input_pipelines: '
      f'{offenders}')


def test_rules_ship_with_the_package():
  import mlperf_jax.compliance as c  # pylint: disable=import-outside-toplevel
  assert pathlib.Path(c.RULES_DIR, 'mini_common.yaml').is_file()
  text = (ROOT / 'pyproject.toml').read_text()
  assert '"mlperf_jax.submission.rules" = ["*.yaml"' in text or \
      "'mlperf_jax.submission.rules'" in text or '"mlperf_jax.submission.rules" =' in text


def test_every_subpackage_is_listed_in_pyproject():
  text = (ROOT / 'pyproject.toml').read_text()
  listed = set(re.findall(r'"(mlperf_jax[\w.]*)"', text))
  roots = {'mlperf_jax': 'mlperf_jax', 'models': 'mlperf_jax.models',
           'input_pipelines': 'mlperf_jax.input_pipelines'}
  missing = []
  for folder, package in roots.items():
    for init in (ROOT / folder).rglob('__init__.py'):
      rel = init.parent.relative_to(ROOT / folder).parts
      name = '.'.join((package, *rel))
      if name not in listed:
        missing.append(name)
  assert not missing, f'add to [tool.setuptools] packages: {missing}'
