# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Several JAX processes on this machine, as on several hosts.

`python -m mlperf_jax.launch_local --num-processes 2 --devices-per-process 4
-- --workload NAME --seed 1` starts two `python -m mlperf_jax.train`
processes on CPU, each with 4 fake devices, joined by `jax.distributed`
through a coordinator on 127.0.0.1 (CPU collectives go over gloo). Output
lines are prefixed with `[pI]`. When one process fails, the others are given
`--grace` seconds to stop on their own (JAX stops them once the heartbeat
timeout notices the dead peer) and are then terminated. Exit code: the first
non-zero code of any process, else 0 (2: bad input).

`--print-only` prints the commands and environment instead of running them.
"""

from __future__ import annotations

import argparse
import sys

from mlperf_jax import workloads
from mlperf_jax.runtime import launch


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
  if args.port is not None and not 1 <= args.port <= 65535:
    p.error(f'--port {args.port}: a TCP port is 1-65535')
  if args.heartbeat_timeout < 1 or args.grace < 0:
    p.error('--heartbeat-timeout must be >= 1 and --grace >= 0 (seconds)')
  if not train_args:
    p.error('give the train arguments after --, e.g. -- --workload NAME '
            f'(workloads: {", ".join(workloads.names())})')
  cmds = launch.commands(args.num_processes, args.port or launch.free_port(),
                         train_args,
                         heartbeat_timeout_s=args.heartbeat_timeout)
  if args.print_only:
    print('\n'.join(launch.shell_lines(cmds, args.devices_per_process)))
    return 0
  return launch.run(cmds, args.devices_per_process, args.grace)


if __name__ == '__main__':
  from mlperf_jax.runtime import host_malloc
  host_malloc.reexec_with_tuned_malloc()
  sys.exit(main())
