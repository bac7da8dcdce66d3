# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""The model name each workload hands LoadGen selects its section of the
official mlperf.conf: the effective settings of the official LoadGen (one
`FromConfig` per process, so one subprocess per model) are that model's."""

import subprocess
import sys

import pytest

_PROBE = '''
import sys
import mlperf_loadgen as lg
from mlperf_jax import workloads
from mlperf_jax.inference import run
name = run.loadgen_model_name(workloads.get(sys.argv[1], 'reference'))
s = lg.TestSettings()
s.scenario = lg.TestScenario.Server
s.FromConfig(sys.argv[2], name, 'Server')
print(name, s.server_target_latency_ns, s.performance_sample_count_override,
      s.server_target_qps)
'''


@pytest.mark.parametrize('workload, name, latency_ns, sample_count', [
    # The official harness passes "bert" (its mlperf.conf has no bert-99).
    ('bert', 'bert', 130_000_000, 10833),
    ('resnet', 'resnet50', 15_000_000, 1024)])
def test_official_effective_settings_are_the_models(tmp_path, workload, name,
                                                    latency_ns, sample_count):
  conf = tmp_path / 'user.conf'
  conf.write_text(f'{name}.Server.target_qps = 7\n')
  proc = subprocess.run([sys.executable, '-c', _PROBE, workload, str(conf)],
                        capture_output=True, text=True, timeout=120,
                        check=False)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  got = proc.stdout.split()
  # The user.conf line for the model applied, and mlperf.conf's bound and
  # sample count for it (not the defaults of an unknown model).
  assert got == [name, str(latency_ns), str(sample_count), '7.0']
