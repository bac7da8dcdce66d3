# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Mesh specs, mesh construction and global batch assembly."""

import jax
import numpy as np
import pytest

from mlperf_jax.runtime import sharding as shd


def test_parse_mesh_spec_defaults_and_fill():
  assert shd.parse_mesh_spec(None) == {'data': -1, 'fsdp': 1, 'tensor': 1}
  assert shd.parse_mesh_spec('data=4,tensor=2') == {
      'data': 4, 'fsdp': 1, 'tensor': 2}
  # An explicit -1 elsewhere leaves data at 1.
  assert shd.parse_mesh_spec('fsdp=-1') == {'data': 1, 'fsdp': -1, 'tensor': 1}
  assert shd.resolve_mesh_shape(shd.parse_mesh_spec('tensor=2'), 8) == (4, 1, 2)


@pytest.mark.parametrize('spec, words', [
    ('data=4,model=2', ['model', 'data,fsdp,tensor'.split(',')[0]]),
    ('data=four', ['four', 'integer']),
    ('data', ['AXIS=SIZE']),
    ('data=-1,fsdp=-1', ['at most one']),
    ('data=0', ['>= 1']),
])
def test_parse_mesh_spec_errors(spec, words):
  with pytest.raises(shd.MeshSpecError) as e:
    shd.parse_mesh_spec(spec)
  for w in words:
    assert w in str(e.value)


def test_mesh_must_divide_devices():
  with pytest.raises(shd.MeshSpecError, match='does not divide|uses'):
    shd.make_mesh('data=3')
  with pytest.raises(shd.MeshSpecError, match='does not divide'):
    shd.make_mesh('data=-1,tensor=3')


def test_make_mesh_axes_and_types():
  mesh = shd.make_mesh('data=4,tensor=2')
  assert mesh.axis_names == ('data', 'fsdp', 'tensor')
  assert dict(mesh.shape) == {'data': 4, 'fsdp': 1, 'tensor': 2}
  assert all(t == jax.sharding.AxisType.Auto for t in mesh.axis_types)
  one = shd.make_mesh('data=1', devices=jax.devices()[:1])
  assert one.size == 1


def test_host_to_global_splits_batch_over_data_and_fsdp():
  mesh = shd.make_mesh('data=2,fsdp=2,tensor=2')
  x = np.arange(16 * 3, dtype=np.float32).reshape(16, 3)
  g = shd.host_to_global({'x': x}, shd.batch_sharding(mesh))['x']
  assert g.shape == (16, 3)
  np.testing.assert_array_equal(np.asarray(g), x)
  # 4 distinct batch shards (data x fsdp), each replicated over tensor.
  shards = {s.index[0].start for s in g.addressable_shards}
  assert len(shards) == 4
  assert all(s.data.shape == (4, 3) for s in g.addressable_shards)
