# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Tensor-parallel BERT serving (`mlperf_jax/inference/tensor_parallel.py`)
on 2 fake CPU devices: the parameters are split by their logical axes and
the served logits equal one device's."""

import json
import os
import subprocess
import sys

from support.devices import one_device_env

# Run in a child that sees 2 CPU devices (the session sees 8).
_CHILD = r'''
import dataclasses
import json
import jax, numpy as np
from mlperf_jax.inference import squad_finetune, tensor_parallel
from mlperf_jax.workloads import bert as bert_workload
assert jax.device_count() == 2, jax.devices()
wl = bert_workload.BertWorkload('mini')
cfg = wl.model_config()
predict = wl.serving_predict()
params = squad_finetune.init_qa_params(cfg, None, seed=7)
rng = np.random.default_rng(0)
t = cfg.max_position_embeddings
batch = {
    'input_ids': rng.integers(0, cfg.vocab_size, (4, t)).astype(np.int32),
    'input_mask': (np.arange(t) < rng.integers(20, t, (4, 1))).astype(np.int32),
    'segment_ids': (np.arange(t) >= 18).astype(np.int32)[None].repeat(4, 0)}
one = jax.device_put(params, jax.devices()[0])
want = np.asarray(jax.jit(predict)(one, {}, batch)['logits'])
served = tensor_parallel.shard(
    predict, params, {}, boxed_abstract=squad_finetune.boxed_qa_abstract(cfg),
    rules=wl.logical_axis_rules(), mesh=tensor_parallel.tensor_mesh(2))
got = np.asarray(served(batch)['logits'])
enc = served.params['bert']['encoder']['layer_0']

def desc(x):
  return {'spec': [list(a) if isinstance(a, tuple) else a
                   for a in x.sharding.spec],
          'shards': sorted({tuple(s.data.shape) for s in x.addressable_shards}),
          'devices': len(x.sharding.device_set)}
print('RESULT', json.dumps({
    'max_abs_diff': float(np.abs(got - want).max()),
    'max_abs': float(np.abs(want).max()),
    'query': desc(enc['attention']['self']['query']['kernel']),
    'attn_out': desc(enc['attention']['output']['dense']['kernel']),
    'intermediate': desc(enc['intermediate']['dense']['kernel']),
    'mlp_out': desc(enc['output']['dense']['kernel']),
    'word_emb': desc(served.params['bert']['embeddings']['word_embeddings'])}))
one_head = dataclasses.replace(cfg, num_attention_heads=1)
for name, p, c in (
    ('misfit', params, bert_workload.BertWorkload('reference').model_config()),
    ('one_head', squad_finetune.init_qa_params(one_head, None, 0), one_head)):
  try:
    tensor_parallel.shard(predict, p, {},
                          boxed_abstract=squad_finetune.boxed_qa_abstract(c),
                          rules=wl.logical_axis_rules(),
                          mesh=tensor_parallel.tensor_mesh(2))
  except ValueError as e:
    print('ERROR', name, str(e).replace(chr(10), ' '))
'''


def test_tensor_parallel_serving_splits_params_and_matches_one_device():
  env = one_device_env()
  env['XLA_FLAGS'] = (env.get('XLA_FLAGS', '')
                      + ' --xla_force_host_platform_device_count=2').strip()
  proc = subprocess.run([sys.executable, '-c', _CHILD], capture_output=True,
                        text=True, timeout=600, check=False, env=env,
                        cwd=os.getcwd())
  assert proc.returncode == 0, proc.stdout + proc.stderr
  out = json.loads(proc.stdout.split('RESULT ', 1)[1].splitlines()[0])
  # The same logits as on one device (the all-reduces add the partial sums
  # in another order: float32 rounding only).
  assert out['max_abs'] > 0.1
  assert out['max_abs_diff'] <= 1e-5 * out['max_abs']
  # Column-parallel: Q/K/V [embed, heads, kv] and the intermediate
  # [embed, mlp] split over tensor (2 heads -> 1 per device, 512 -> 256).
  assert out['query']['spec'][1] == 'tensor'
  assert out['query']['shards'] == [[128, 1, 64]]
  assert out['intermediate']['shards'] == [[128, 256]]
  # Row-parallel: attention output [heads, kv, embed] and the MLP output
  # [mlp, embed] split on their input dimension.
  assert out['attn_out']['shards'] == [[1, 64, 128]]
  assert out['mlp_out']['spec'][0] == 'tensor'
  assert out['mlp_out']['shards'] == [[256, 128]]
  # The vocabulary is not split (whole on both devices).
  assert out['word_emb']['shards'] == [[2048, 128]]
  assert {d['devices'] for d in out.values() if isinstance(d, dict)} == {2}
  errors = dict(line.split(' ', 2)[1:] for line in proc.stdout.splitlines()
                if line.startswith('ERROR '))
  assert 'do not fit' in errors['misfit']
  assert 'not divisible by tensor=2' in errors['one_head']
  assert 'query/kernel' in errors['one_head']
