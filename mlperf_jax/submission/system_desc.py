# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The MLPerf system description (`systems/<name>.json`) from JAX and the host.

Every one of the 33 fields the official `system_desc_checker` requires is
filled, all as strings (the checker joins some of them into CSV), with the
counts the result summarizer converts with `int()` as integer strings. What
cannot be measured says so ("unknown"), so that the user can edit the file;
`write` never overwrites fields a user already set.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from typing import Any

REQUIRED_FIELDS: tuple[str, ...] = (
    'submitter', 'division', 'status', 'system_name', 'number_of_nodes',
    'host_processors_per_node', 'host_processor_model_name',
    'host_processor_core_count', 'host_processor_vcpu_count',
    'host_processor_frequency', 'host_processor_caches',
    'host_processor_interconnect', 'host_memory_capacity', 'host_storage_type',
    'host_storage_capacity', 'host_networking', 'host_networking_topology',
    'host_memory_configuration', 'accelerators_per_node',
    'accelerator_model_name', 'accelerator_host_interconnect',
    'accelerator_frequency', 'accelerator_on-chip_memories',
    'accelerator_memory_configuration', 'accelerator_memory_capacity',
    'accelerator_interconnect', 'accelerator_interconnect_topology',
    'cooling', 'hw_notes', 'framework', 'other_software_stack',
    'operating_system', 'sw_notes')
# The summarizer applies int() to these.
INTEGER_FIELDS = ('number_of_nodes', 'host_processors_per_node',
                  'accelerators_per_node')
# Valid for every training ruleset (4.0+ checks the list; 1.x takes any text).
STATUS_RDI = 'Research, Development, or Internal (RDI)'
UNKNOWN = 'unknown'


def _cpuinfo() -> dict[str, str]:
  info = {'model': platform.processor() or UNKNOWN, 'sockets': '1',
          'mhz': '', 'cache': ''}
  try:
    with open('/proc/cpuinfo') as f:
      text = f.read()
  except OSError:
    return info
  sockets = set()
  for line in text.splitlines():
    k, _, v = line.partition(':')
    k, v = k.strip(), v.strip()
    if k == 'model name':
      info['model'] = v
    elif k == 'physical id':
      sockets.add(v)
    elif k == 'cpu MHz' and not info['mhz']:
      info['mhz'] = f'{float(v):.0f} MHz'
    elif k == 'cache size' and not info['cache']:
      info['cache'] = v
  info['sockets'] = str(max(1, len(sockets)))
  return info


def _memory_gb() -> str:
  try:
    with open('/proc/meminfo') as f:
      for line in f:
        if line.startswith('MemTotal:'):
          return f'{int(line.split()[1]) / 1024 ** 2:.0f} GB'
  except OSError:
    pass
  return UNKNOWN


def _accelerators() -> dict[str, str]:
  import jax  # pylint: disable=import-outside-toplevel
  devices = jax.local_devices()
  d = devices[0]
  if d.platform == 'cpu':
    # Fake CPU devices (XLA_FLAGS) are not accelerators.
    return {'count': '0', 'model': 'none (CPU only)', 'memory': 'N/A',
            'platform': 'cpu'}
  mem = UNKNOWN
  try:
    limit = (d.memory_stats() or {}).get('bytes_limit')
    if limit:
      mem = f'{limit / 1024 ** 3:.0f} GB'
  except Exception:  # pylint: disable=broad-except
    pass  # not every backend reports memory statistics
  return {'count': str(len(devices)), 'model': d.device_kind, 'memory': mem,
          'platform': d.platform}


def describe(system_name: str, *, submitter: str, division: str,
             status: str = STATUS_RDI, notes: str = '') -> dict[str, str]:
  """A complete system description of this machine.

  Args:
    system_name: the system_desc_id (file name without .json).
    submitter: the organisation (the logs' `submission_org`).
    division: 'closed' or 'open' (the package checker runs the seed and RCP
      checks for 'closed').
    status: availability category.
    notes: appended to `sw_notes` (e.g. that a package is a mini or smoke
      package and not an MLPerf result).

  Returns:
    Field -> string, with every field of `REQUIRED_FIELDS`.
  """
  import jax  # pylint: disable=import-outside-toplevel
  import flax  # pylint: disable=import-outside-toplevel
  import optax  # pylint: disable=import-outside-toplevel
  cpu = _cpuinfo()
  acc = _accelerators()
  vcpus = os.cpu_count() or 1
  try:
    disk = f'{shutil.disk_usage("/").total / 1024 ** 3:.0f} GB'
  except OSError:
    disk = UNKNOWN
  import numpy  # pylint: disable=import-outside-toplevel
  desc = {
      'submitter': submitter,
      'division': division,
      'status': status,
      'system_name': system_name,
      'number_of_nodes': str(jax.process_count()),
      'host_processors_per_node': cpu['sockets'],
      'host_processor_model_name': cpu['model'],
      'host_processor_core_count': str(max(1, vcpus // 2)),
      'host_processor_vcpu_count': str(vcpus),
      'host_processor_frequency': cpu['mhz'] or UNKNOWN,
      'host_processor_caches': cpu['cache'] or UNKNOWN,
      'host_processor_interconnect': UNKNOWN,
      'host_memory_capacity': _memory_gb(),
      'host_storage_type': UNKNOWN,
      'host_storage_capacity': disk,
      'host_networking': UNKNOWN,
      'host_networking_topology': 'N/A' if jax.process_count() == 1
                                  else UNKNOWN,
      'host_memory_configuration': UNKNOWN,
      'accelerators_per_node': acc['count'],
      'accelerator_model_name': acc['model'],
      'accelerator_host_interconnect': 'N/A' if acc['count'] == '0'
                                       else UNKNOWN,
      'accelerator_frequency': 'N/A' if acc['count'] == '0' else UNKNOWN,
      'accelerator_on-chip_memories': 'N/A' if acc['count'] == '0'
                                      else UNKNOWN,
      'accelerator_memory_configuration': 'N/A' if acc['count'] == '0'
                                          else UNKNOWN,
      'accelerator_memory_capacity': acc['memory'],
      'accelerator_interconnect': 'N/A' if acc['count'] == '0' else UNKNOWN,
      'accelerator_interconnect_topology': 'N/A' if acc['count'] == '0'
                                           else UNKNOWN,
      'cooling': UNKNOWN,
      'hw_notes': f'JAX platform {acc["platform"]}, '
                  f'{jax.device_count()} devices',
      'framework': f'JAX {jax.__version__}',
      'other_software_stack': (
          f'mlperf_jax, flax {flax.__version__}, optax {optax.__version__}, '
          f'numpy {numpy.__version__}, Python {sys.version.split()[0]}'),
      'operating_system': f'{platform.system()} {platform.release()}',
      'sw_notes': notes,
  }
  assert set(desc) == set(REQUIRED_FIELDS)
  return desc


def write(path: str, desc: dict[str, str]) -> dict[str, Any]:
  """Writes `desc` to `path`, keeping every field already in the file.

  A user may edit the JSON (e.g. fill in the cooling or the interconnect);
  rerunning `submit` only adds fields that are missing.

  Returns:
    The description as written.
  """
  merged: dict[str, Any] = dict(desc)
  if os.path.exists(path):
    with open(path) as f:
      merged.update(json.load(f))
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(merged, f, indent=2)
    f.write('\n')
  os.replace(tmp, path)
  return merged
