# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Packaging rules: repo folders are imported only under `mlperf_jax`."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
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


def _site_packages() -> list[str]:
  import site  # pylint: disable=import-outside-toplevel
  return [p for p in site.getsitepackages() if pathlib.Path(p).is_dir()]


def _run_without_editable_install(target, cwd, *args):
  """`python -S -m mlperf_jax.train ARGS` seeing a non-editable install in
  `target` and the dependencies, but not the editable install's finder
  (directories on PYTHONPATH get no .pth processing; -S skips site)."""
  import os  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [str(target), *_site_packages()]))
  return subprocess.run(
      [sys.executable, '-S', '-m', 'mlperf_jax.train', *args], cwd=cwd,
      env=env, capture_output=True, text=True, timeout=600, check=False)


def test_non_editable_install_works_from_any_directory(tmp_path):
  """`pip install .` then `python -m mlperf_jax.train` from the repository
  root (where the source folder `mlperf_jax/` shadows the installed package)
  and from elsewhere."""
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  import shutil  # pylint: disable=import-outside-toplevel
  target = tmp_path / 'site'
  # Built from a copy: setuptools writes build/ next to the sources.
  src = tmp_path / 'src'
  shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
      '.git', '.jax_cache', 'build', '*.egg-info', 'runs', '__pycache__',
      '.pytest_cache'))
  build = subprocess.run(
      [sys.executable, '-m', 'pip', 'install', '--no-deps',
       '--target', str(target), '-q', str(src)],
      capture_output=True, text=True, timeout=600, check=False)
  assert build.returncode == 0, build.stdout + build.stderr
  assert (target / 'mlperf_jax' / 'models' / '__init__.py').is_file()
  assert not (target / 'models').exists()  # never a top-level `models`
  for cwd in (ROOT, tmp_path):
    r = _run_without_editable_install(
        target, cwd, '--workload', 'resnet', '--max-steps', '1', '--quiet',
        '--seed', '1', '--output-dir', str(tmp_path / 'runs'))
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]  # budget
    assert 'step budget of 1 steps exhausted' in r.stdout
    bad = _run_without_editable_install(target, cwd, '--workload', 'nosuch')
    assert bad.returncode == 2 and 'unknown workload' in bad.stderr
