# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Multi-process runs: `jax.distributed` set-up and the per-host picture.

One JAX process runs per host (TPU VM worker, Slurm task or local process);
JAX's own distributed runtime connects them and XLA's collectives do the rest.
`initialize` must run before anything else touches a JAX backend.

How the processes are found, in order:

1. explicit `--coordinator HOST:PORT --num-processes N --process-id I`;
2. Slurm (`SLURM_JOB_ID`, `SLURM_STEP_NODELIST`, `SLURM_NTASKS` > 1,
   `SLURM_PROCID`, `SLURM_LOCALID`): JAX's Slurm detection, coordinator on the
   first node of the step, port from `JAX_COORDINATOR_PORT` or derived from the
   job id;
3. a Cloud TPU VM (libtpu installed and TPU chips under /dev): JAX's TPU
   detection (worker list from the TPU metadata server);
4. otherwise a single process, no initialisation.

JAX aborts the process from C++ when it cannot connect; a watchdog exits
first, with code 2 and a message naming the coordinator, once
`--init-timeout` seconds have passed.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import importlib.util
import os
import sys
import threading
from typing import Any, Mapping

EXIT_BAD_INPUT = 2
# JAX is given this much longer than the watchdog, so the watchdog's message
# is the one users see.
_JAX_TIMEOUT_MARGIN_S = 30


@dataclasses.dataclass(frozen=True)
class Cluster:
  """How this process joins the others.

  Attributes:
    method: 'explicit', 'slurm', 'tpu' or 'single'.
    coordinator: HOST:PORT of process 0's coordination service, when known
      before initialisation.
    num_processes: number of processes, when known before initialisation.
    process_id: this process's index, when known before initialisation.
  """
  method: str
  coordinator: str | None = None
  num_processes: int | None = None
  process_id: int | None = None


def add_arguments(p: argparse.ArgumentParser) -> None:
  g = p.add_argument_group(
      'multi-process runs', 'one process per host; detected automatically on '
      'Cloud TPU VMs and under Slurm (see launch/README.md)')
  g.add_argument('--coordinator', metavar='HOST:PORT', default=None,
                 help='address of process 0 (it listens there)')
  g.add_argument('--num-processes', type=int, default=None, metavar='N')
  g.add_argument('--process-id', type=int, default=None, metavar='I')
  g.add_argument('--init-timeout', type=int, default=300, metavar='S',
                 help='seconds to wait for all processes to join (default '
                 '300); then exit 2')
  g.add_argument('--heartbeat-timeout', type=int, default=100, metavar='S',
                 help='seconds after which a silent process counts as dead '
                 'and the others stop with an error (default 100)')
  g.add_argument('--no-distributed', action='store_true',
                 help='never initialise jax.distributed (ignore Slurm/TPU '
                 'detection)')


def _slurm_tasks(env: Mapping[str, str]) -> int:
  keys = ('SLURM_JOB_ID', 'SLURM_STEP_NODELIST', 'SLURM_NTASKS',
          'SLURM_PROCID', 'SLURM_LOCALID')
  if not all(k in env for k in keys):
    return 0
  try:
    return int(env['SLURM_NTASKS'])
  except ValueError:
    return 0


def _on_tpu_vm() -> bool:
  chips = glob.glob('/dev/accel*') + glob.glob('/dev/vfio/[0-9]*')
  return bool(chips) and importlib.util.find_spec('libtpu') is not None


def detect(args: argparse.Namespace, env: Mapping[str, str] | None = None,
           on_tpu_vm: bool | None = None) -> Cluster:
  """Decides how (and whether) this process joins a multi-process run.

  Raises:
    ValueError: inconsistent explicit options (message names the fix).
  """
  env = os.environ if env is None else env
  given = [args.coordinator is not None, args.num_processes is not None,
           args.process_id is not None]
  if any(given):
    if not all(given):
      raise ValueError('--coordinator, --num-processes and --process-id go '
                       'together: give all three (or none, to auto-detect '
                       'Slurm / Cloud TPU)')
    host, sep, port = args.coordinator.rpartition(':')
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
      raise ValueError(f'--coordinator {args.coordinator!r}: expected '
                       'HOST:PORT, e.g. --coordinator 10.0.0.2:8476')
    if args.num_processes < 1:
      raise ValueError('--num-processes must be >= 1')
    if not 0 <= args.process_id < args.num_processes:
      raise ValueError(f'--process-id {args.process_id} must be in [0, '
                       f'{args.num_processes}) for --num-processes '
                       f'{args.num_processes}')
    return Cluster('explicit', args.coordinator, args.num_processes,
                   args.process_id)
  if args.no_distributed:
    return Cluster('single')
  tasks = _slurm_tasks(env)
  if tasks > 1:
    return Cluster('slurm', None, tasks, int(env['SLURM_PROCID']))
  if _on_tpu_vm() if on_tpu_vm is None else on_tpu_vm:
    return Cluster('tpu')
  return Cluster('single')


def _watchdog(cluster: Cluster, timeout_s: int) -> threading.Event:
  """Exits the process with code 2 unless the returned event is set in time."""
  done = threading.Event()

  def watch():
    if done.wait(timeout_s):
      return
    who = ('process 0 (the coordinator): the other processes did not all '
           'join' if cluster.process_id == 0 else
           f'process {cluster.process_id}: could not register with the '
           'coordinator')
    sys.stderr.write(
        f'error: jax.distributed did not connect within {timeout_s} s '
        f'({cluster.method} cluster, coordinator '
        f'{cluster.coordinator or "auto-detected"}, '
        f'{cluster.num_processes or "?"} processes). {who}. Check that every '
        'process was started with the same --coordinator/--num-processes, '
        'that the coordinator host and port are reachable (firewall), and '
        'raise --init-timeout for slow starts.\n')
    sys.stderr.flush()
    os._exit(EXIT_BAD_INPUT)  # pylint: disable=protected-access

  threading.Thread(target=watch, daemon=True, name='dist-watchdog').start()
  return done


def initialize(cluster: Cluster, *, init_timeout_s: int = 300,
               heartbeat_timeout_s: int = 100) -> None:
  """Initialises `jax.distributed` for `cluster` (no-op for 'single')."""
  if cluster.method == 'single':
    return
  import jax  # pylint: disable=import-outside-toplevel
  kwargs: dict[str, Any] = dict(
      initialization_timeout=init_timeout_s + _JAX_TIMEOUT_MARGIN_S,
      heartbeat_timeout_seconds=heartbeat_timeout_s)
  if cluster.method == 'explicit':
    kwargs.update(coordinator_address=cluster.coordinator,
                  num_processes=cluster.num_processes,
                  process_id=cluster.process_id)
  done = _watchdog(cluster, init_timeout_s)
  try:
    jax.distributed.initialize(**kwargs)
  except Exception as e:  # e.g. a port that cannot be bound
    sys.stderr.write(f'error: jax.distributed.initialize failed '
                     f'({cluster.method} cluster, coordinator '
                     f'{cluster.coordinator or "auto-detected"}): {e}\n')
    sys.stderr.flush()
    os._exit(EXIT_BAD_INPUT)  # pylint: disable=protected-access
  done.set()


def setup(parser: argparse.ArgumentParser, argv: list[str] | None) -> Cluster:
  """Parses the multi-process options and initialises; exit 2 on bad input."""
  args = parser.parse_args(argv)
  try:
    cluster = detect(args)
  except ValueError as e:
    parser.error(str(e))
  for name in ('init_timeout', 'heartbeat_timeout'):
    if getattr(args, name) < 1:
      parser.error(f'--{name.replace("_", "-")} must be >= 1 second')
  initialize(cluster, init_timeout_s=args.init_timeout,
             heartbeat_timeout_s=args.heartbeat_timeout)
  return cluster


def is_leader() -> bool:
  """True on process 0, the only one that writes logs, files and output."""
  import jax  # pylint: disable=import-outside-toplevel
  return jax.process_index() == 0


def sync(name: str) -> None:
  """Barrier across processes (no-op with one), e.g. before a timed line."""
  import jax  # pylint: disable=import-outside-toplevel
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
    multihost_utils.sync_global_devices(name)


def peer_failure(e: BaseException) -> str | None:
  """A clear message when `e` is a collective that failed because another
  process died (JAX then stops this one too), else None."""
  import jax  # pylint: disable=import-outside-toplevel
  text = str(e)
  if jax.process_count() == 1 or not any(
      w in text for w in ('Gloo', 'NCCL', 'unhealthy', 'heartbeat',
                          'coordination service', 'Connection reset')):
    return None
  return (f'process {jax.process_index()}: a collective across processes '
          'failed because another process died or became unreachable (see '
          'its output); this run cannot continue. Restart all processes '
          '(with --resume to continue from the last checkpoint). Cause: '
          f'{text.splitlines()[0][:300]}')


def broadcast_str(text: str | None, max_len: int = 4096) -> str:
  """Process 0's `text` on every process (e.g. the run directory)."""
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  if jax.process_count() == 1:
    return text or ''
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
  raw = (text or '').encode()[:max_len]
  buf = np.zeros(max_len + 1, np.uint8)
  buf[:len(raw)] = np.frombuffer(raw, np.uint8)
  out = np.asarray(multihost_utils.broadcast_one_to_all(buf))
  return bytes(out[:int(np.argmin(out))]).decode()  # NUL-terminated


def topology_report(mesh, global_batch_size: int) -> str:
  """Per-host and per-device picture of `mesh` (for `--dry-run`)."""
  import jax  # pylint: disable=import-outside-toplevel
  n_proc = jax.process_count()
  split = mesh.shape['data'] * mesh.shape['fsdp']
  lines = [f'processes: {n_proc} (this is process {jax.process_index()}); '
           f'{jax.local_device_count()} local / {jax.device_count()} global '
           'devices',
           f'batch: global {global_batch_size}, per process '
           f'{global_batch_size // n_proc}, per data shard '
           f'{global_batch_size // split} (data x fsdp = {split}; '
           f'tensor = {mesh.shape["tensor"]} devices share each shard)']
  by_proc: dict[int, list[str]] = {}
  names = tuple(mesh.shape)
  for idx, dev in _mesh_positions(mesh):
    coord = ','.join(f'{a}={i}' for a, i in zip(names, idx))
    by_proc.setdefault(dev.process_index, []).append(
        f'{dev.platform}:{dev.id}[{coord}]')
  for p in sorted(by_proc):
    lines.append(f'  process {p}: ' + ' '.join(by_proc[p]))
  return '\n'.join(lines)


def _mesh_positions(mesh):
  import numpy as np  # pylint: disable=import-outside-toplevel
  for idx in np.ndindex(mesh.devices.shape):
    yield idx, mesh.devices[idx]
