# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Reference BERT-large train-step throughput, utilisation and collectives.

Measures, in one process:
  1. the machine's f32 (or bf16) matmul peak: a jitted 4096^3 `jnp.dot`;
  2. the reference BERT-large pre-training step (the project's own sharded,
     donated, AOT-compiled step: LAMB with its global-norm clip, dropout 0.1,
     masked-LM + next-sentence losses) at a fixed global batch of synthetic
     sequences of length 512 with 76 masked positions;
and reports sequences/s, FLOPs per step from XLA's cost analysis and the
step's utilisation = achieved FLOP/s / measured matmul peak.

`--collectives` instead compiles the step of a small BERT (4 layers, width
256) on 8 devices for several meshes and counts the collectives in the
compiled HLO, showing what data, FSDP and tensor (Megatron) parallelism
communicate (on CPU: run with
XLA_FLAGS=--xla_force_host_platform_device_count=8).

  python benchmarks/bert_throughput.py [--batch 2] [--steps 2] \
      [--dtype float32|bfloat16] [--json out.json]
  python benchmarks/bert_throughput.py --collectives
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import time

import jax
import jax.numpy as jnp

from mlperf_jax.runtime import host_malloc
from mlperf_jax.runtime import sharding as shd
from mlperf_jax.runtime import steps as steps_lib
from mlperf_jax.models import bert as bert_model

import step_timing  # benchmarks/step_timing.py (this folder)
from mlperf_jax.workloads.bert import BertWorkload
from mlperf_jax.runtime import loop

_COLLECTIVES = ('all-reduce', 'all-gather', 'reduce-scatter',
                'collective-permute', 'all-to-all')


def _build(wl, batch, mesh):
  hp = wl.resolve_hparams({'global_batch_size': batch})
  tx, _ = wl.optimizer(hp).build(hp, loop.optimizer_context(wl, hp))
  return hp, steps_lib.build(wl, tx, hp, mesh, compile_eval=False)


def bert_step(batch: int, n_steps: int, dtype: str, fused: bool) -> dict:
  wl = _LargeBert('reference', synthetic=True, compute_dtype=dtype)
  wl.fused = fused
  t = time.perf_counter()
  hp, c = _build(wl, batch, shd.make_mesh())
  compile_s = time.perf_counter() - t
  flops = step_timing.step_flops(c)
  kernel = {}
  step_s, m = step_timing.time_train_step(c, wl, hp, n_steps, kernel)
  return {**kernel, 'batch': batch, 'compile_s': compile_s, 'step_s': step_s,
          'sequences_per_s': batch / step_s, 'flops_per_step': flops,
          'flops_per_sequence': flops / batch, 'achieved_flops': flops / step_s,
          'loss': float(m['loss'])}


class _LargeBert(BertWorkload):
  """The reference workload, optionally with the fused attention path."""
  fused = False

  def model_config(self):
    cfg = super().model_config()
    return bert_model.BertConfig(**{**cfg.__dict__,
                                    'fused_attention': self.fused})


class _SmallBert(BertWorkload):
  """BERT-large's structure at 4 layers x 256 wide, sequence 128."""

  def model_config(self):
    return bert_model.BertConfig(vocab_size=30522, hidden_size=256,
                                 num_hidden_layers=4, num_attention_heads=8,
                                 intermediate_size=1024,
                                 max_position_embeddings=128)

  def seq_length(self):
    return 128

  def max_predictions(self):
    return 20


def count_collectives(hlo_text: str) -> dict[str, int]:
  """Collective ops (start ops of async pairs counted once) in HLO text."""
  counts = collections.Counter()
  for line in hlo_text.splitlines():
    m = re.search(r'=\s*\S+\s+(' + '|'.join(_COLLECTIVES) +
                  r')(-start)?\(', line)
    if m:
      counts[m.group(1)] += 1
  return dict(counts)


def collectives_by_mesh(specs=('data=8', 'fsdp=8', 'data=4,tensor=2',
                               'data=2,fsdp=2,tensor=2', 'tensor=8')
                        ) -> dict[str, dict[str, int]]:
  out = {}
  for spec in specs:
    wl = _SmallBert('mini', synthetic=True)
    _, c = _build(wl, 16, shd.make_mesh(spec))
    out[spec] = count_collectives(c.train_step.as_text())
  return out


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--batch', type=int, default=2)
  p.add_argument('--steps', type=int, default=2)
  p.add_argument('--dtype', choices=('float32', 'bfloat16'), default='float32')
  p.add_argument('--fused-attention', action='store_true')
  p.add_argument('--collectives', action='store_true')
  p.add_argument('--json', default=None)
  args = p.parse_args()
  if args.collectives:
    r = collectives_by_mesh()
    print(f'{jax.device_count()} devices; collectives in the compiled train '
          'step of a 4-layer, 256-wide BERT (batch 16, sequence 128):')
    for spec, counts in r.items():
      print(f'  {spec:24s} ' + ', '.join(f'{k} {v}' for k, v in
                                          sorted(counts.items())))
    if args.json:
      with open(args.json, 'w') as f:
        json.dump(r, f, indent=1)
    return
  load_before = os.getloadavg()[0]
  peak = step_timing.matmul_peak(jnp.float32 if args.dtype == 'float32' else jnp.bfloat16)
  r = bert_step(args.batch, args.steps, args.dtype, args.fused_attention)
  # The peak again after the step: a shared VM's speed drifts, and the
  # utilisation is quoted against the higher of the two (conservative).
  peak_after = step_timing.matmul_peak(
      jnp.float32 if args.dtype == 'float32' else jnp.bfloat16)
  peak = max(peak, peak_after)
  r.update({'dtype': args.dtype, 'matmul_peak_flops': peak,
            'matmul_peak_after_flops': peak_after,
            'utilisation': r['achieved_flops'] / peak,
            'device': f'{jax.device_count()}x{jax.devices()[0].device_kind}',
            'jax': jax.__version__, 'loadavg_before': load_before,
            'loadavg_after': os.getloadavg()[0],
            'date': time.strftime('%Y-%m-%d'),
            'host_malloc': host_malloc.describe()})
  print(f"device {r['device']} jax {r['jax']} dtype {args.dtype} "
        f"batch {args.batch} x 512")
  print(f"matmul peak (4096^3, the higher of before/after the step): "
        f"{peak / 1e9:.1f} GFLOP/s")
  print(f"BERT-large train step: {r['step_s']:.3f} s -> "
        f"{r['sequences_per_s']:.3f} seq/s; "
        f"{r['flops_per_sequence'] / 1e9:.1f} GFLOP/seq (XLA cost analysis); "
        f"{r['achieved_flops'] / 1e9:.1f} GFLOP/s = "
        f"{100 * r['utilisation']:.1f} % of the matmul peak")
  print(f"kernel time per step {r['sys_s_per_step']:.2f} s, "
        f"{r['minor_faults_per_step']:.0f} minor page faults (medians)")
  print(f"host malloc: {r['host_malloc']}")
  step_timing.finish(r, load_before, args.json)


if __name__ == '__main__':
  host_malloc.reexec_with_tuned_malloc()  # as the CLI does; opt out:
  # MLPERF_JAX_HOST_MALLOC=default
  main()
