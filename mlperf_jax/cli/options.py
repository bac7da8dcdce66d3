# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Command-line options shared by `train` (and later `submit`).

Turns argv into a workload, resolved hyperparameters and `RunOptions`, and
rejects every bad input before anything is compiled (argparse exits with
code 2 and a message naming the problem and the valid choices).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

import sys

from mlperf_jax import workloads
from mlperf_jax.api import SCALES, Workload
from mlperf_jax.cli import checks
from mlperf_jax.hparams import registry
from mlperf_jax.runtime import distributed
from mlperf_jax.runtime import mesh_spec
from mlperf_jax.runtime.run_options import RunOptions


# The per-device capacity to plan for (read by models/dlrm_embedding.py).
DEVICE_MEMORY_ENV = 'MLPERF_JAX_DEVICE_MEMORY_GIB'


@dataclasses.dataclass
class Parsed:
  args: argparse.Namespace
  workload: Workload
  hp: dict[str, Any]
  opts: RunOptions
  resume_meta: dict[str, Any] | None = None  # checkpoint being continued
  abstract_devices: int | None = None  # --dry-run on N fake CPU devices


def add_arguments(p: argparse.ArgumentParser) -> None:
  p.add_argument('--workload', required=True, metavar='NAME',
                 help=f'benchmark to train: {", ".join(workloads.names())}')
  p.add_argument('--scale', choices=SCALES, default='mini',
                 help='mini (default: small model and data, minutes on a CPU, '
                 'not an MLPerf result) or reference (the MLPerf benchmark)')
  p.add_argument('--data-dir', help='dataset directory (reference scale)')
  p.add_argument('--init-checkpoint', default=None, metavar='PATH',
                 help='start from these weights instead of a random init '
                 '(BERT: the MLPerf reference TF checkpoint prefix)')
  p.add_argument('--division', choices=('closed', 'open'), default='closed')
  p.add_argument('--seed', type=int, default=None,
                 help='run seed (default: drawn from os.urandom and logged)')
  p.add_argument('--output-dir', default='runs',
                 help='where the MLLOG log and run metrics go (default: runs)')
  p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                 help='override a hyperparameter by its MLLOG key, e.g. '
                 '--set lars_opt_base_learning_rate=9.5 (repeatable)')
  p.add_argument('--mesh', default=None, metavar='AXIS=SIZE,...',
                 help='device mesh over axes data,fsdp,tensor, e.g. '
                 'data=4,tensor=2 (-1 fills; default: data over all devices)')
  p.add_argument('--max-epochs', type=int, default=None,
                 help='epoch budget (default: the workload\'s)')
  p.add_argument('--max-steps', type=int, default=None, help='step budget')
  p.add_argument('--synthetic-data', action='store_true',
                 help='random data of the reference shapes (smoke and '
                 'throughput runs only; marked in the log, never a result)')
  p.add_argument('--dry-run', action='store_true',
                 help='print parameter count, FLOPs per step and memory per '
                 'device for the mesh, then exit without allocating the model '
                 '(with real data it also times a few input batches against '
                 'the estimated step: input- or compute-bound)')
  p.add_argument('--no-input-estimate', action='store_true',
                 help='--dry-run: skip timing a few batches of the training '
                 'input against the estimated step time')
  p.add_argument('--compute-dtype', choices=('float32', 'bfloat16'),
                 default='float32', help='activation/matmul dtype; parameters '
                 'stay float32')
  p.add_argument('--submission-org', default='mlperf_jax')
  p.add_argument('--submission-platform', default=None)
  p.add_argument('--submission-status', default='research',
                 choices=('cloud', 'onprem', 'preview', 'research'))
  p.add_argument('--quiet', action='store_true', help='no progress bars')
  p.add_argument('--list-hparams', action='store_true',
                 help='list the --set keys of --workload (value at --scale, '
                 'closed-division rule) and exit')
  g = p.add_argument_group(
      'checkpoints', 'off by default: saving counts toward time-to-train')
  g.add_argument('--checkpoint-dir', default=None, metavar='DIR',
                 help='save asynchronous checkpoints here (after every '
                 'evaluation; SIGTERM saves one and exits with code 3)')
  g.add_argument('--checkpoint-every-steps', type=int, default=None,
                 metavar='N', help='also save every N steps')
  g.add_argument('--resume', action='store_true',
                 help='continue the run of the latest checkpoint in '
                 '--checkpoint-dir (same settings; starts fresh if there is '
                 'none yet)')
  distributed.add_arguments(p)


fail = checks.fail  # exit 2 with every problem in one message


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> Parsed:
  """Parses and validates the command line without importing JAX.

  Every problem found is reported in one message (`p.error`, exit 2).
  Checks that need the devices (mesh size, batch divisibility, memory) and
  the checkpoint directory follow in `check_devices`.
  """
  args = p.parse_args(argv)
  problems: list[str] = []
  for name in ('max_epochs', 'max_steps'):
    if getattr(args, name) is not None and getattr(args, name) < 1:
      problems.append(f'--{name.replace("_", "-")} must be >= 1')
  if args.data_dir and not os.path.isdir(args.data_dir):
    problems.append(f'--data-dir {args.data_dir!r} is not a directory')
  problems += [q for q in (
      checks.seed_problem('--seed', args.seed),
      None if args.dry_run or args.list_hparams else
      checks.writable_dir_problem('--output-dir', args.output_dir)) if q]
  problems += checkpoint_problems(args)
  try:
    mesh_spec.parse_mesh_spec(args.mesh)
  except mesh_spec.MeshSpecError as e:
    problems.append(str(e))
  if args.init_checkpoint and not (
      os.path.exists(args.init_checkpoint)
      or os.path.exists(args.init_checkpoint + '.index')):
    problems.append(f'--init-checkpoint {args.init_checkpoint!r} does not '
                    'exist (for a TF checkpoint give the prefix before .index)')
  overrides = {}
  for item in args.set:
    key, sep, value = item.partition('=')
    if not sep or not key.strip():
      problems.append(f'--set {item!r}: expected KEY=VALUE with an MLLOG key, '
                      'e.g. --set global_batch_size=256')
    else:
      overrides[key.strip()] = value.strip()
  if args.workload not in workloads.names():
    problems.insert(0, f'unknown workload {args.workload!r}; valid workloads: '
                    f'{", ".join(workloads.names())}')
    fail(p, problems)
  workload = workloads.get(args.workload, args.scale, data_dir=args.data_dir,
                           synthetic=args.synthetic_data,
                           compute_dtype=args.compute_dtype)
  if args.list_hparams:
    print(hparams_listing(workload, overrides.get(
        'opt_name', workload.default_opt_name())))
    p.exit(0)
  if args.data_dir and not workload.variant.needs_data_dir:
    problems.append(f'--data-dir is not read at --scale {args.scale} (its '
                    'data ships with the project); drop --data-dir, or use '
                    '--scale reference for a prepared dataset')
  if (workload.variant.needs_data_dir and not args.dry_run
      and not (args.data_dir or args.synthetic_data)):
    problems.append(f'--scale {args.scale} needs --data-dir (the prepared '
                    'dataset) or --synthetic-data (--dry-run needs neither)')
  if args.init_checkpoint and not workload.starts_from_checkpoint():
    problems.append(f'workload {workload.name!r} does not start from a '
                    'checkpoint; drop --init-checkpoint')
  opt_name = overrides.get('opt_name', workload.default_opt_name())
  hp = None
  if opt_name not in workload.optimizer_names():
    problems.append(f'opt_name={opt_name!r} is not an optimizer of '
                    f'{workload.name!r}; valid: '
                    f'{", ".join(workload.optimizer_names())}')
  else:
    try:
      hp = registry.resolve(workload.hparams(opt_name),
                            workload.variant.defaults, overrides,
                            division=args.division)
    except registry.HParamError as e:
      problems.extend(f'{workload.name} hyperparameters ({args.division} '
                      f'division): {q}' for q in e.problems)
  if hp is not None:
    problems.extend(f'{k}={hp[k]!r}: a hyperparameter must be a finite '
                    'number' for k in checks.non_finite_hparams(hp))
    problems.extend(workload.check_request(
        hp, division=args.division, init_checkpoint=args.init_checkpoint,
        dry_run=args.dry_run))
  if problems:
    fail(p, problems)
  seed = args.seed
  if seed is None:
    seed = int.from_bytes(os.urandom(4), 'little') & 0x7FFFFFFF
  opts = RunOptions(
      seed=seed, division=args.division, mesh=args.mesh,
      max_epochs=args.max_epochs, max_steps=args.max_steps,
      submission_org=args.submission_org,
      submission_platform=args.submission_platform,
      submission_status=args.submission_status, progress=not args.quiet,
      checkpoint_dir=args.checkpoint_dir,
      checkpoint_every_steps=args.checkpoint_every_steps, resume=args.resume,
      init_checkpoint=args.init_checkpoint)
  return Parsed(args=args, workload=workload, hp=hp, opts=opts)


def hparams_listing(workload: Workload, opt_name: str) -> str:
  """The `--set` keys of `workload` with optimizer `opt_name`: value at
  this scale, kind and what the key is."""
  if opt_name not in workload.optimizer_names():
    opt_name = workload.default_opt_name()
  lines = [f'{workload.name} ({workload.scale} scale) hyperparameters for '
           f'--set KEY=VALUE, optimizer {opt_name} (others: '
           f'{", ".join(n for n in workload.optimizer_names() if n != opt_name) or "none"}'
           '; choose with --set opt_name=NAME):']
  entries = workload.hparams(opt_name)
  width = max(len(h.key) for h in entries)
  for h in entries:
    value = workload.variant.defaults.get(h.key, h.default)
    lines.append(f'  {h.key:<{width}}  {value!r:<12} {h.kind.__name__:<5} '
                 f'{h.doc}')
  return '\n'.join(lines)


def checkpoint_problems(args: argparse.Namespace) -> list[str]:
  """Checkpoint options that cannot work, found without JAX: a missing
  directory, a file in its place, a run that has already finished."""
  d, out = args.checkpoint_dir, []
  every = args.checkpoint_every_steps
  if every is not None and every < 1:
    out.append('--checkpoint-every-steps must be >= 1')
  if not d:
    if args.resume or every is not None:
      out.append('--resume and --checkpoint-every-steps need --checkpoint-dir '
                 '(where the checkpoints are)')
    return out
  if '://' in d:
    return out
  if os.path.exists(d) and not os.path.isdir(d):
    out.append(f'--checkpoint-dir {d!r} exists and is not a directory')
    return out
  finished = finished_run(d)
  if finished:
    out.append(f'--checkpoint-dir {d!r} belongs to a run that has finished '
               f'({finished}); a finished run is never resumed or changed: '
               'start a new run with another --checkpoint-dir')
  return out


FINISHED_FILE = 'run_finished.json'


def finished_run(checkpoint_dir: str) -> str | None:
  """What the run of `checkpoint_dir` ended with, if it has ended: the
  marker train writes after run_stop, or (older checkpoints) a run_stop in
  the log the latest checkpoint names."""
  import json  # pylint: disable=import-outside-toplevel
  marker = os.path.join(checkpoint_dir, FINISHED_FILE)
  if os.path.isfile(marker):
    try:
      with open(marker) as f:
        info = json.load(f)
      return f'run_stop status {info.get("status")}, log {info.get("log")}'
    except (OSError, ValueError):
      return f'{marker} exists'
  steps = sorted((int(n) for n in os.listdir(checkpoint_dir) if n.isdigit()),
                 reverse=True) if os.path.isdir(checkpoint_dir) else []
  for step in steps[:1]:
    meta_path = os.path.join(checkpoint_dir, str(step), 'meta', 'metadata')
    try:
      with open(meta_path) as f:
        meta = json.load(f)
    except (OSError, ValueError):
      return None  # unreadable: the checkpoint check reports it
    log = resolve_log_path(meta, checkpoint_dir)
    if log and os.path.isfile(log):
      with open(log, errors='replace') as f:
        if any('"key": "run_stop"' in line for line in f):
          return f'its log {log} has a run_stop'
  return None


def resolve_log_path(meta: dict[str, Any], checkpoint_dir: str) -> str | None:
  """The log a checkpoint continues: its absolute path, else the path
  relative to the checkpoint directory (a moved or copied run)."""
  path = meta.get('log_path')
  rel = meta.get('log_path_from_checkpoint_dir')
  if path and os.path.isabs(path) and os.path.isfile(path):
    return path
  if rel:
    candidate = os.path.normpath(os.path.join(checkpoint_dir, rel))
    if os.path.isfile(candidate):
      return candidate
  return path


def plan_devices(parsed: Parsed) -> None:
  """For `--dry-run`: a mesh of fixed size N is planned on N abstract CPU
  devices, whatever this machine has (call before JAX starts)."""
  if not parsed.args.dry_run:
    return
  n = mesh_spec.fixed_size(mesh_spec.parse_mesh_spec(parsed.args.mesh))
  if n is None or n < 1 or 'jax' in sys.modules:
    return
  flags = os.environ.get('XLA_FLAGS', '')
  flags = ' '.join(f for f in flags.split()
                   if not f.startswith('--xla_force_host_platform_device_count'))
  os.environ['XLA_FLAGS'] = (
      f'{flags} --xla_force_host_platform_device_count={n}').strip()
  os.environ['JAX_PLATFORMS'] = 'cpu'
  parsed.abstract_devices = n


def check_devices(p: argparse.ArgumentParser, parsed: Parsed) -> None:
  """The checks that need JAX's devices; `p.error` (exit 2) lists them."""
  import jax  # pylint: disable=import-outside-toplevel
  args, workload, hp = parsed.args, parsed.workload, parsed.hp
  problems = []
  shape = None
  try:
    shape = dict(zip(mesh_spec.MESH_AXES, mesh_spec.resolve_mesh_shape(
        mesh_spec.parse_mesh_spec(args.mesh), jax.device_count())))
  except mesh_spec.MeshSpecError as e:
    problems.append(str(e))
  if shape is not None:
    try:  # e.g. DLRM's tables on too few devices: fail before allocating
      workload.memory_report(hp, shape)
    except ValueError as e:
      # Abstract devices have no capacity unless one is named: a dry run
      # then reports the estimate instead.
      if not parsed.abstract_devices or os.environ.get(DEVICE_MEMORY_ENV):
        problems.append(str(e))
    split = shape['data'] * shape['fsdp']
    gbs = workload.global_batch_size(hp)
    if gbs % (split * jax.process_count()):
      problems.append(
          f'global_batch_size={gbs} is not divisible by the data x fsdp mesh '
          f'size {split} (x {jax.process_count()} processes); change '
          '--set global_batch_size or --mesh')
  if (args.resume or args.checkpoint_dir
      or args.checkpoint_every_steps is not None) and not problems:
    seed, parsed.resume_meta = _check_checkpoint_dir(p, args, workload, hp,
                                                     parsed.opts.seed)
    parsed.opts = dataclasses.replace(parsed.opts, seed=seed)
  if problems:
    fail(p, problems)


def _has_checkpoints(path: str) -> bool:
  return os.path.isdir(path) and any(n.isdigit() for n in os.listdir(path))


def _check_checkpoint_dir(p: argparse.ArgumentParser, args, workload, hp,
                          drawn_seed: int):
  """(seed, metadata of the checkpoint to resume or None); exit 2 if the
  directory cannot be used."""
  import jax  # pylint: disable=import-outside-toplevel
  from mlperf_jax.runtime import checkpoint  # pylint: disable=import-outside-toplevel
  problems = checkpoint_problems(args)
  if problems:
    fail(p, problems)
  d = args.checkpoint_dir
  if '://' in d or not _has_checkpoints(d):
    return drawn_seed, None
  if not args.resume:
    p.error(f'--checkpoint-dir {d!r} already holds checkpoints; pass --resume '
            'to continue that run, or choose another directory (existing '
            'checkpoints are never overwritten)')
  try:
    ckpt = checkpoint.Checkpointer(d)
    try:
      meta = ckpt.read_meta()
      seed = args.seed if args.seed is not None else meta.get(
          'identity', {}).get('seed', drawn_seed)
      ckpt.check(checkpoint.run_identity(workload, hp, seed, args.max_epochs,
                                         args.max_steps))
    finally:
      ckpt.close()
  except checkpoint.CheckpointError as e:
    p.error(str(e))
  log_path = resolve_log_path(meta, d)
  meta['log_path'] = log_path
  if log_path and jax.process_index() == 0 and not os.path.isfile(log_path):
    p.error(f'the checkpoint continues the run logged in {log_path}, which '
            'is missing; restore that run directory or start a fresh run '
            'with another --checkpoint-dir')
  return seed, meta
