# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Several JAX processes on this machine, as on several hosts.

Each process is a `python -m mlperf_jax.train` on CPU with fake devices
(`--xla_force_host_platform_device_count`), joined to the others by
`jax.distributed` through a coordinator on 127.0.0.1 (CPU collectives go
over gloo). `supervise` turns the processes' exit codes into one: after the
first failure the others get a grace period to stop on their own (JAX stops
them once the heartbeat timeout notices the dead peer) and are then
terminated. Imports no JAX (the processes do).
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Iterable, Iterator, Sequence

_DEVICE_COUNT_FLAG = '--xla_force_host_platform_device_count'


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
           if not f.startswith(_DEVICE_COUNT_FLAG)]
  flags.append(f'{_DEVICE_COUNT_FLAG}={devices_per_process}')
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


def shell_lines(cmds: Sequence[Sequence[str]],
                devices_per_process: int) -> list[str]:
  """The commands as shell lines run in the background, then `wait`."""
  flag = f'{_DEVICE_COUNT_FLAG}={devices_per_process}'
  return [f'JAX_PLATFORMS=cpu XLA_FLAGS={flag} '
          + ' '.join(shlex.quote(c) for c in cmd) + ' &'
          for cmd in cmds] + ['wait']


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


# A native (C++) stack trace: what the JAX runtime prints when it aborts a
# process, e.g. after the coordinator found a peer dead. Its fatal line
# (before the trace) says why; the frames help nobody running a benchmark.
_TRACE_START = re.compile(r'\*\*\* (Check failure stack trace|Begin stack '
                          r'trace|SIG[A-Z]+ received)')
_TRACE_FRAME = re.compile(r'^\s*(@\s+0x|PC: @|\*\*\* End stack trace|'
                          r'#\d+\s+0x|0x[0-9a-f]+\s)')


def filter_native_traces(lines: Iterable[str]) -> Iterator[str]:
  """The lines, with each native stack trace replaced by one line saying
  it was left out (the fatal message before it is kept)."""
  in_trace = False
  for line in lines:
    if _TRACE_START.search(line):
      in_trace = True
      yield ('(native stack trace of the JAX runtime left out; the line '
             'before it says why the process stopped)\n')
      continue
    if in_trace and (_TRACE_FRAME.match(line) or not line.strip()):
      continue
    in_trace = False
    yield line


def _pump(stream: IO[str], prefix: str, out: IO[str]) -> None:
  for line in filter_native_traces(stream):
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


def run(cmds: Sequence[Sequence[str]], devices_per_process: int,
        grace_s: float) -> int:
  """Runs the commands, their output lines prefixed with `[pI] ` on this
  stdout, under `supervise`; returns the exit code (130: interrupted)."""
  env = process_env(devices_per_process)
  procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
           for c in cmds]
  pumps = [threading.Thread(target=_pump, args=(pr.stdout, f'[p{i}] ',
                                                sys.stdout), daemon=True)
           for i, pr in enumerate(procs)]
  for t in pumps:
    t.start()
  try:
    code = supervise(procs, grace_s)
  except KeyboardInterrupt:
    for pr in procs:
      pr.terminate()
    code = 130
  for t in pumps:
    t.join(timeout=5)
  return code
