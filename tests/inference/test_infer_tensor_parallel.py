# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""`infer --tensor-parallel N`: the argument checks made before anything is
trained, the serving mesh, and BERT's parameters placed on it (no compile:
the sharded logits are checked in test_bert_tensor_parallel.py)."""

import jax
import pytest

from mlperf_jax import infer, workloads
from mlperf_jax.inference import squad_finetune, tensor_parallel


def _problems(*argv):
  args = infer._parser().parse_args(['--workload', *argv])  # pylint: disable=protected-access
  return infer._problems(args, workloads)  # pylint: disable=protected-access


def test_tensor_parallel_arguments_checked_before_training():
  assert _problems('bert', '--tensor-parallel', '2') == []
  assert _problems('resnet') == []
  (msg,) = _problems('bert', '--tensor-parallel', '0')
  assert 'must be >= 1' in msg
  (msg,) = _problems('resnet', '--tensor-parallel', '2')
  assert "'resnet' has no tensor-parallel serving" in msg
  assert 'supported: bert' in msg
  (msg,) = _problems('bert', '--tensor-parallel', '2', '--precision', 'int8')
  assert '--precision int8' in msg and '--tensor-parallel 1' in msg


def test_serving_mesh_needs_n_dividing_the_devices():
  devices = jax.devices()[:6]
  mesh = tensor_parallel.serving_mesh(3, devices)
  assert dict(mesh.shape) == {'data': 1, 'fsdp': 1, 'tensor': 3}
  assert list(mesh.devices.flat) == devices[:3]
  for n in (4, 0, 7):
    with pytest.raises(ValueError, match='must divide the number of visible '
                       'devices, 6'):
      tensor_parallel.serving_mesh(n, devices)


def test_bert_parameters_placed_by_heads_and_bad_splits_named():
  wl = workloads.get('bert', 'mini')
  spec = wl.inference()
  cfg = wl.model_config()
  params = jax.eval_shape(lambda: squad_finetune.init_qa_params(cfg, None, 0))
  params = jax.tree.map(lambda s: jax.numpy.zeros(s.shape, s.dtype), params)
  got, placed, state, note = tensor_parallel.for_workload(
      wl, spec, params, {}, 2, jax.devices()[:4])
  assert 'tensor parallel over 2 devices' in note and state == {}
  assert got.predict is not spec.predict
  layer = placed['bert']['encoder']['layer_0']
  q = layer['attention']['self']['query']['kernel']  # [128, 2 heads, 64]
  assert {tuple(s.data.shape) for s in q.addressable_shards} == {(128, 1, 64)}
  assert len(q.sharding.device_set) == 2
  # 2 heads do not split 4 ways: the error names the parameter.
  with pytest.raises(ValueError, match=r'query/kernel: dimension 2 is not '
                     r'divisible by tensor=4'):
    tensor_parallel.for_workload(wl, spec, params, {}, 4, jax.devices()[:4])
  with pytest.raises(ValueError, match='no tensor-parallel serving'):
    tensor_parallel.for_workload(workloads.get('resnet', 'mini'), spec,
                                 params, {}, 2)
