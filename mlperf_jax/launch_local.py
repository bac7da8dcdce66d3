# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Several JAX processes on this machine, as on several hosts.

`python -m mlperf_jax.launch_local --num-processes 2 --devices-per-process 4
-- --workload resnet --seed 1` starts two `python -m mlperf_jax.train`
processes on CPU, each with 4 fake devices, joined by `jax.distributed`
through a coordinator on 127.0.0.1 (CPU collectives go over gloo). Output
lines are prefixed with `[pI]`. When one process fails, the others are given
`--grace` seconds to stop on their own (JAX stops them once the heartbeat
timeout notices the dead peer) and are then terminated. Exit code: the first
non-zero code of any process, else 0.

`--print-only` prints the commands and environment instead of running them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Sequence


def free_port() -> int:
  """A TCP port that was free a moment ago on 127.0.0.1."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def process_env(devices_per_process: int,
                base: dict[str, str] | None = None) -> dict[str, str]:
  """Environment of one CPU process with `devices_per_process` fake devices."""
  env = dict(os.environ if base is None else base)
  flags = [f for f in env.get('XLA_FLAGS', '').split()
           if not f.startswith('--xla_force_host_platform_device_count')]
  flags.append(f'--xla_force_host_platform_device_count={devices_per_process}')
  env['XLA_FLAGS'] = ' '.join(flags)
  env['JAX_PLATFORMS'] = 'cpu'
  env['PYTHONUNBUFFERED'] = '1'
  return env


def commands(num_processes: int, port: int, train_args: Sequence[str],
             *, module: str = 'mlperf_jax.train',
             heartbeat_timeout_s: int | None = None) -> list[list[str]]:
  """One `python -m mlperf_jax.train ...` command line per process."""
  out = []
  for i in range(num_processes):
    cmd = [sys.executable, '-m', module, *train_args,
           '--coordinator', f'127.0.0.1:{port}',
           '--num-processes', str(num_processes), '--process-id', str(i)]
    if heartbeat_timeout_s is not None:
      cmd += ['--heartbeat-timeout', str(heartbeat_timeout_s)]
    out.append(cmd)
  return out


def spawn(num_processes: int, devices_per_process: int,
          train_args: Sequence[str], *, port: int | None = None,
          heartbeat_timeout_s: int | None = None, stdout=subprocess.PIPE,
          stderr=subprocess.PIPE, cwd: str | None = None
          ) -> list[subprocess.Popen]:
  """Starts the processes and returns them (the caller waits)."""
  port = port or free_port()
  env = process_env(devices_per_process)
  return [subprocess.Popen(cmd, env=env, stdout=stdout, stderr=stderr,
                           text=True, cwd=cwd)
          for cmd in commands(num_processes, port, train_args,
                              heartbeat_timeout_s=heartbeat_timeout_s)]


def _pump(stream: IO[str], prefix: str, out: IO[str]) -> None:
  for line in stream:
    out.write(f'{prefix}{line}')
    out.flush()


def supervise(procs: list[subprocess.Popen], grace_s: float) -> int:
  """Waits for all processes; after the first failure, waits `grace_s` for
  the rest and terminates those still running. Returns the exit code."""
  first_bad, deadline = 0, None
  while True:
    codes = [p.poll() for p in procs]
    if all(c is not None for c in codes):
      break
    for i, c in enumerate(codes):
      if c not in (None, 0) and not first_bad:
        first_bad = c
        deadline = time.time() + grace_s
        print(f'launch_local: process {i} exited with code {c}; waiting up '
              f'to {grace_s:.0f} s for the others', file=sys.stderr,
              flush=True)
    if deadline is not None and time.time() > deadline:
      for i, p in enumerate(procs):
        if p.poll() is None:
          print(f'launch_local: terminating process {i} (still running '
                f'{grace_s:.0f} s after a peer failed)', file=sys.stderr,
                flush=True)
          p.terminate()
      deadline = time.time() + 10
      grace_s = 10
    time.sleep(0.2)
  if not first_bad:
    first_bad = next((c for c in codes if c), 0)
  return first_bad


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if '--' in argv:
    split = argv.index('--')
    own, train_args = argv[:split], argv[split + 1:]
  else:
    own, train_args = argv, []
  p = argparse.ArgumentParser(
      prog='python -m mlperf_jax.launch_local', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--num-processes', type=int, default=2)
  p.add_argument('--devices-per-process', type=int, default=4)
  p.add_argument('--port', type=int, default=None,
                 help='coordinator port (default: a free one)')
  p.add_argument('--heartbeat-timeout', type=int, default=30,
                 help='seconds before a silent process counts as dead')
  p.add_argument('--grace', type=float, default=60,
                 help='seconds the others get after one process fails')
  p.add_argument('--print-only', action='store_true',
                 help='print the commands instead of running them')
  args = p.parse_args(own)
  if args.num_processes < 1 or args.devices_per_process < 1:
    p.error('--num-processes and --devices-per-process must be >= 1')
  if not train_args:
    p.error('give the train arguments after --, e.g. -- --workload resnet')
  port = args.port or free_port()
  cmds = commands(args.num_processes, port, train_args,
                  heartbeat_timeout_s=args.heartbeat_timeout)
  if args.print_only:
    flag = ('--xla_force_host_platform_device_count='
            f'{args.devices_per_process}')
    for cmd in cmds:
      print(f'JAX_PLATFORMS=cpu XLA_FLAGS={flag} '
            + ' '.join(shlex.quote(c) for c in cmd) + ' &')
    print('wait')
    return 0
  env = process_env(args.devices_per_process)
  procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
           for c in cmds]
  pumps = [threading.Thread(target=_pump, args=(pr.stdout, f'[p{i}] ',
                                                sys.stdout), daemon=True)
           for i, pr in enumerate(procs)]
  for t in pumps:
    t.start()
  try:
    code = supervise(procs, args.grace)
  except KeyboardInterrupt:
    for pr in procs:
      pr.terminate()
    code = 130
  for t in pumps:
    t.join(timeout=5)
  return code


if __name__ == '__main__':
  sys.exit(main())
