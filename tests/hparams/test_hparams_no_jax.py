# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The hyperparameter registry works without importing JAX, optax or Flax.

Importing `mlperf_jax.hparams.*`, listing and getting optimizer entries and
resolving (and logging) every workload's hyperparameters must not import
them, so that the CLI can validate a command line before a backend starts;
only an entry's `build` may. Checked in a fresh interpreter, since this test
process has imported JAX long ago.
"""

import subprocess
import sys
import textwrap

EIGHT = ('resnet', 'bert', 'dlrm', 'ssd', 'maskrcnn', 'unet3d', 'rnnt',
         'minigo')

_SCRIPT = textwrap.dedent('''
    import importlib
    import sys

    from mlperf_jax.hparams import registry

    HEAVY = ('jax', 'optax', 'flax')
    seen = []
    for workload in {workloads!r}:
      module = importlib.import_module('mlperf_jax.hparams.' + workload)
      names = registry.names(workload)
      assert names, workload
      for name in names:
        entry = registry.get(workload, name)
        assert entry.build.__module__ == module.__name__, entry
        hps = module.hparams(name)
        for division in ('closed', 'open'):
          values = registry.resolve(hps, {{}}, {{}}, division=division)
          assert values['gradient_accumulation_steps'] == 1, workload
        assert registry.mllog_items(hps, values)
        seen.append((workload, name))
    # The label vocabulary is JAX-free too.
    ctx = registry.OptimizerContext(steps_per_epoch=1,
                                    param_labels=lambda p: p)
    ctx.mask(registry.KERNEL, registry.EMBEDDING)
    loaded = [m for m in HEAVY if m in sys.modules]
    assert 'jax' not in sys.modules, loaded
    assert 'optax' not in sys.modules, loaded
    assert 'flax' not in sys.modules, loaded
    print('OK', len(seen))
    ''')


def test_registry_imports_no_jax_for_all_eight_workloads():
  script = _SCRIPT.format(workloads=EIGHT)
  out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                       text=True, timeout=120, check=False)
  assert out.returncode == 0, out.stdout + out.stderr
  # One line: every entry of the eight workloads was resolved.
  assert out.stdout.split()[0] == 'OK', out.stdout
  assert int(out.stdout.split()[1]) >= len(EIGHT), out.stdout


def test_build_does_import_jax():
  # The check above is not vacuous: building an optimizer does load them.
  script = textwrap.dedent('''
      import sys
      from mlperf_jax.hparams import registry, resnet
      hp = registry.resolve(resnet.hparams('lars'), {}, {}, division='closed')
      resnet.LARS.build(hp, registry.OptimizerContext(
          steps_per_epoch=10, param_labels=lambda p: p))
      assert 'jax' in sys.modules and 'optax' in sys.modules
      ''')
  out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                       text=True, timeout=120, check=False)
  assert out.returncode == 0, out.stdout + out.stderr


def test_optimizer_context_mask_follows_labels():
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import pytest  # pylint: disable=import-outside-toplevel
  from mlperf_jax.hparams import registry  # pylint: disable=import-outside-toplevel
  params = {'dense': {'kernel': jnp.ones((2, 3)), 'bias': jnp.ones(3)},
            'ln': {'scale': jnp.ones(3)}, 'emb': jnp.ones((5, 2))}
  labels = {'dense': {'kernel': registry.KERNEL, 'bias': registry.BIAS},
            'ln': {'scale': registry.NORM}, 'emb': registry.EMBEDDING}
  ctx = registry.OptimizerContext(steps_per_epoch=1,
                                  param_labels=lambda p: labels)
  assert set(registry.PARAM_LABELS) == {'kernel', 'bias', 'norm', 'embedding'}
  assert ctx.mask(registry.KERNEL, registry.EMBEDDING)(params) == {
      'dense': {'kernel': True, 'bias': False}, 'ln': {'scale': False},
      'emb': True}
  assert jax.tree.leaves(ctx.mask()(params)) == [False] * 4
  with pytest.raises(ValueError, match='unknown parameter label'):
    ctx.mask('weights')
  bad = registry.OptimizerContext(
      steps_per_epoch=1, param_labels=lambda p: jax.tree.map(lambda _: 'w', p))
  with pytest.raises(ValueError, match="'w'"):
    bad.mask(registry.KERNEL)(params)
