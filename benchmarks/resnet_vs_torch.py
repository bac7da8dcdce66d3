# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""ResNet-50 v1.5 train step on CPU: ours (JAX) beside PyTorch, interleaved.

Both sides train the same network (ResNet-50 v1.5: 7x7/2 stem, 3x3/2
max-pool, bottlenecks (3, 4, 6, 3) with the stride on the 3x3, BatchNorm
momentum 0.9 / eps 1e-5, 1000 classes; 25,557,032 parameters, checked equal)
on the same batch of float32 224x224 images with SGD momentum 0.9 and weight
decay 1e-4 on every parameter, on the same number of threads:

* ours: `models/resnet.py` (NHWC; convolutions lowered per `--lowering`,
  `models/conv_lowering.py`), one jitted step with donated state;
* PyTorch: the same architecture written out below, channels-last, eager,
  `torch.set_num_threads(<cores>)` (oneDNN convolutions).

After one warm-up step each, `--rounds` rounds each time one step of every
contender in alternating order; medians, img/s, the ratio ours / PyTorch,
the achieved GFLOP/s (XLA's cost analysis of our step) against the measured
f32 matmul peak (printed beside the CPU's theoretical peak), and the load
average before and after. Each contender runs in its own child process
(spawned, driven over a pipe), interleaved the same way: in one process
PyTorch's and XLA's thread pools and heap interfere (on the 2-vCPU machine
ours' steps there were bimodal, 3.7 or 9 s); `--same-process` keeps the
one-process mode. Needs torch: `pip install 'mlperf_jax[bench]'`, or
the CPU wheel: pip install torch==2.13.0 --index-url
https://download.pytorch.org/whl/cpu.

`--net ssd` runs SSD's backbone instead (the issue's "the same for SSD's
backbone"): torchvision ResNet-34 to layer3 with layer3 at stride 1
(`models/resnet34_backbone.py`, 8,170,304 parameters on both sides) on
300x300 images, trained on the mean square of its 38x38x256 map (the
detection heads are not part of the trunk), same optimizer.

  python benchmarks/resnet_vs_torch.py [--net resnet50|ssd] [--batch 16] \
      [--rounds 3] [--lowering auto|xla|im2col|xla,auto,...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_HERE))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from mlperf_jax.models import conv_lowering  # noqa: E402
from mlperf_jax.models import resnet as resnet_model  # noqa: E402
from mlperf_jax.models import resnet34_backbone  # noqa: E402
from mlperf_jax.runtime import host_malloc  # noqa: E402

import step_timing  # noqa: E402  (benchmarks/step_timing.py)

MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
LR = 0.1
# Image side per network: ResNet-50 at ImageNet's 224, SSD's trunk at 300.
IMAGE_SIDE = {'resnet50': 224, 'ssd': 300}
TITLE = {'resnet50': 'ResNet-50 v1.5 train step',
         'ssd': 'SSD backbone (ResNet-34 to layer3, layer3 at stride 1) '
                'train step'}


def jax_step(batch: int, lowering: str, compile_step: bool = True,
             net: str = 'resnet50'):
  """(run one step -> seconds, FLOPs per step, parameter count, compile s).

  FLOPs: XLA's cost analysis of the compiled step; with compile_step=False
  only the lowered (unoptimised) step's, and no runner.
  """
  side = IMAGE_SIDE[net]
  if net == 'ssd':
    model = resnet34_backbone.ResNetTrunk(resnet34_backbone.BackboneConfig(
        conv_lowering=lowering))
  else:
    model = resnet_model.ResNet(resnet_model.resnet50_config(
        conv_lowering=lowering))
  x = jax.random.normal(jax.random.PRNGKey(1), (batch, side, side, 3))
  y = jax.random.randint(jax.random.PRNGKey(2), (batch,), 0, 1000)
  v = jax.jit(lambda r: model.init(r, x[:1], train=False))(
      jax.random.PRNGKey(0))
  tx = optax.chain(optax.add_decayed_weights(WEIGHT_DECAY),
                   optax.sgd(LR, MOMENTUM))

  def objective(out, y):
    if net == 'ssd':
      return jnp.mean(jnp.square(out))
    return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()

  def step(params, stats, opt, x, y):
    def loss(p):
      out, upd = model.apply({'params': p, 'batch_stats': stats}, x,
                             train=True, mutable=['batch_stats'])
      return objective(out, y), upd['batch_stats']
    (_, stats), g = jax.value_and_grad(loss, has_aux=True)(params)
    upd, opt = tx.update(g, opt, params)
    return optax.apply_updates(params, upd), stats, opt

  params, stats = v['params'], v['batch_stats']
  opt = tx.init(params)
  t = time.perf_counter()
  lowered = jax.jit(step, donate_argnums=(0, 1, 2)).lower(
      params, stats, opt, x, y)
  n_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
  if not compile_step:
    cost = lowered.cost_analysis()
    return None, float(cost['flops']), n_params, 0.0
  compiled = lowered.compile()
  compile_s = time.perf_counter() - t
  cost = compiled.cost_analysis()
  flops = float((cost[0] if isinstance(cost, (list, tuple)) else cost)['flops'])
  state = [params, stats, opt]

  def run() -> float:
    t = time.perf_counter()
    out = compiled(*state, x, y)
    jax.block_until_ready(out)
    state[:] = list(out)
    return time.perf_counter() - t

  return run, flops, n_params, compile_s


def _torch_ssd_trunk(nn, bn):
  """torchvision's ResNet-34 conv1..layer3, layer3's first block at stride 1
  (the reference's `_ModifyBlock`), written out so torchvision is not
  needed."""

  class Basic(nn.Module):
    def __init__(self, cin, width, stride):
      super().__init__()
      self.body = nn.Sequential(
          nn.Conv2d(cin, width, 3, stride, 1, bias=False), bn(width),
          nn.ReLU(True), nn.Conv2d(width, width, 3, 1, 1, bias=False),
          bn(width))
      self.short = (nn.Sequential(nn.Conv2d(cin, width, 1, stride,
                                            bias=False), bn(width))
                    if stride != 1 or cin != width else nn.Identity())

    def forward(self, x):
      return nn.functional.relu(self.body(x) + self.short(x))

  layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), bn(64), nn.ReLU(True),
            nn.MaxPool2d(3, 2, 1)]
  cin = 64
  for blocks, width, stride in resnet34_backbone.RESNET34_TO_LAYER3.layers:
    for b in range(blocks):
      layers.append(Basic(cin, width, stride if b == 0 else 1))
      cin = width
  return nn.Sequential(*layers)


def _torch_resnet50(torch, nn, bn):
  """ResNet-50 v1.5: the stride on the bottleneck's 3x3."""

  class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride):
      super().__init__()
      cout = 4 * width
      self.body = nn.Sequential(
          nn.Conv2d(cin, width, 1, bias=False), bn(width), nn.ReLU(True),
          nn.Conv2d(width, width, 3, stride, 1, bias=False), bn(width),
          nn.ReLU(True), nn.Conv2d(width, cout, 1, bias=False), bn(cout))
      self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                  bn(cout))
                    if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
      return torch.relu(self.body(x) + self.short(x))

  layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), bn(64), nn.ReLU(True),
            nn.MaxPool2d(3, 2, 1)]
  cin = 64
  for stage, (units, width) in enumerate(zip((3, 4, 6, 3),
                                             (64, 128, 256, 512))):
    for u in range(units):
      layers.append(Bottleneck(cin, width, 2 if u == 0 and stage else 1))
      cin = 4 * width
  layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000)]
  return nn.Sequential(*layers)


def torch_step(batch: int, threads: int, net: str = 'resnet50'):
  """(run one step -> seconds, parameter count)."""
  import torch  # pylint: disable=import-outside-toplevel
  from torch import nn  # pylint: disable=import-outside-toplevel
  torch.set_num_threads(threads)
  torch.manual_seed(0)

  def bn(c):
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)  # torch: 1 - 0.9

  side = IMAGE_SIDE[net]
  if net == 'ssd':
    model = _torch_ssd_trunk(nn, bn)
    loss_fn = lambda out, y: out.square().mean()
  else:
    model = _torch_resnet50(torch, nn, bn)
    loss_fn = nn.CrossEntropyLoss()
  model = model.to(memory_format=torch.channels_last)
  opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM,
                        weight_decay=WEIGHT_DECAY)
  x = torch.randn(batch, 3, side, side).contiguous(
      memory_format=torch.channels_last)
  y = torch.randint(0, 1000, (batch,))
  n_params = sum(p.numel() for p in model.parameters())

  def run() -> float:
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss_fn(model(x), y).backward()
    opt.step()
    return time.perf_counter() - t

  return run, n_params, torch.__version__


def _serve(conn, kind: str, batch: int, arg, net: str) -> None:
  """A contender in its own process: builds its step, reports what it is,
  then times one step per 'step' request until told to stop."""
  if kind == 'torch':
    try:
      run, n_params, version = torch_step(batch, arg, net)
    except ImportError:
      conn.send(None)
      return
    conn.send({'params': n_params, 'version': version})
  else:
    run, flops, n_params, compile_s = jax_step(batch, arg, net=net)
    conn.send({'params': n_params, 'compile_s': compile_s, 'flops': flops})
  while conn.recv() == 'step':
    conn.send(run())


class _Isolated:
  """A runner whose step runs in a child process (`_serve`), so that one
  framework's idle threads and heap never share a process with the other's."""

  def __init__(self, kind: str, batch: int, arg, net: str):
    ctx = multiprocessing.get_context('spawn')
    self.conn, child = ctx.Pipe()
    self.proc = ctx.Process(target=_serve,
                            args=(child, kind, batch, arg, net), daemon=True)
    self.proc.start()
    self.info = self.conn.recv()

  def __call__(self) -> float:
    self.conn.send('step')
    return self.conn.recv()

  def close(self) -> None:
    self.conn.send('stop')
    self.proc.join(timeout=60)


def main(argv=None) -> dict:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--net', default='resnet50', choices=sorted(IMAGE_SIDE),
                 help="ResNet-50 v1.5, or SSD's ResNet-34 trunk")
  p.add_argument('--batch', type=int, default=16)
  p.add_argument('--rounds', type=int, default=3)
  p.add_argument('--lowering', default='auto',
                 help="ours' convolution lowering(s), comma-separated: "
                 f"{', '.join(conv_lowering.LOWERINGS)} (e.g. xla,auto)")
  p.add_argument('--no-torch', action='store_true',
                 help='ours only (lowerings side by side)')
  p.add_argument('--json', default=None)
  p.add_argument('--same-process', action='store_true',
                 help='run every contender in this process (by default each '
                 'runs in its own child process, interleaved the same way)')
  args = p.parse_args(argv)
  threads = len(os.sched_getaffinity(0))
  load0 = os.getloadavg()
  peak = step_timing.matmul_peak(jnp.float32)
  lowerings = args.lowering.split(',')
  for low in lowerings:
    conv_lowering.resolve(low)  # a clear error for a bad name
  runs, info, flops = {}, {}, None
  children = []
  for low in lowerings:
    if args.same_process:
      run, low_flops, n_params, compile_s = jax_step(args.batch, low,
                                                     net=args.net)
    else:
      run = _Isolated('jax', args.batch, low, args.net)
      children.append(run)
      low_flops, n_params, compile_s = (run.info['flops'], run.info['params'],
                                        run.info['compile_s'])
    runs[f'ours:{low}'] = run
    info[f'ours:{low}'] = {'params': n_params, 'compile_s': compile_s}
    if low == 'xla':
      flops = low_flops
  if flops is None:
    # The network's FLOPs are those of its convolutions as convolutions
    # (im2col's backward adds the col2im sums on top).
    flops = jax_step(args.batch, 'xla', compile_step=False, net=args.net)[1]
  if not args.no_torch:
    try:
      if args.same_process:
        run, n_torch, torch_version = torch_step(args.batch, threads,
                                                 args.net)
      else:
        run = _Isolated('torch', args.batch, threads, args.net)
        children.append(run)
        if run.info is None:
          raise ImportError('torch')
        n_torch, torch_version = run.info['params'], run.info['version']
    except ImportError:
      print('error: torch is not installed; pip install torch==2.13.0 '
            '--index-url https://download.pytorch.org/whl/cpu (or '
            "'mlperf_jax[bench]'), or pass --no-torch", file=sys.stderr)
      sys.exit(2)
    if n_torch != n_params:
      raise AssertionError(f'architectures differ: torch {n_torch:,} vs ours '
                           f'{n_params:,} parameters')
    runs['torch'] = run
    info['torch'] = {'params': n_torch, 'version': torch_version}
  names = list(runs)
  for name in names:  # warm-up
    runs[name]()
  times = {n: [] for n in names}
  for r in range(args.rounds):
    for name in (names if r % 2 == 0 else names[::-1]):
      times[name].append(runs[name]())
  load1 = os.getloadavg()
  for child in children:
    child.close()
  # Measured again after the rounds: a shared VM's speed drifts, and the
  # utilisation is quoted against the higher of the two (conservative).
  peak = max(peak, step_timing.matmul_peak(jnp.float32))
  result = {'net': args.net, 'batch': args.batch, 'threads': threads, 'dtype': 'float32',
            'flops_per_step': flops, 'matmul_peak_flops': peak,
            'loadavg_before': load0, 'loadavg_after': load1,
            'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
            'jax': jax.__version__, 'rounds': args.rounds,
            'host_malloc': host_malloc.describe(),
            'processes': 'one' if args.same_process else 'one per contender',
            'contenders': {}}
  for name in names:
    med = statistics.median(times[name])
    result['contenders'][name] = dict(
        info[name], step_s=med, times=times[name],
        images_per_s=args.batch / med, gflops=flops / med / 1e9,
        utilisation=flops / med / peak)
  print(f'{TITLE[args.net]}, batch {args.batch}, float32, {threads} '
        f'threads, {flops / args.batch / 1e9:.2f} GFLOP/img (XLA cost '
        f'analysis, native convolutions), {args.rounds} interleaved rounds '
        f'(median), {result["processes"]} process')
  for name in names:
    if 'compile_s' in info[name]:
      print(f'  {name} compile {info[name]["compile_s"]:.1f} s')
  for name, c in result['contenders'].items():
    print(f'  {name:12s} {c["step_s"]:7.3f} s  {c["images_per_s"]:6.2f} img/s '
          f'{c["gflops"]:6.1f} GFLOP/s = {100 * c["utilisation"]:4.1f} % of '
          f'the measured matmul peak  (steps: '
          f'{", ".join(f"{t:.2f}" for t in times[name])})')
  if 'torch' in runs:
    t = result['contenders']['torch']['images_per_s']
    result['ratio_vs_torch'] = {
        n: result['contenders'][n]['images_per_s'] / t
        for n in names if n != 'torch'}
    for n, ratio in result['ratio_vs_torch'].items():
      print(f'  {n} / torch {info["torch"]["version"]}: {ratio:.2f}')
  print(f'load average before {load0[0]:.2f}/{load0[1]:.2f}, after '
        f'{load1[0]:.2f}/{load1[1]:.2f} (1/5 min)')
  print(f'host malloc (both contenders): {result["host_malloc"]}')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(result, f, indent=1)
  return result


if __name__ == '__main__':
  host_malloc.reexec_with_tuned_malloc()  # as the CLI does; opt out:
  # MLPERF_JAX_HOST_MALLOC=default
  main()
