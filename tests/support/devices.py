# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
"""Environments for subprocesses that must see one CPU device."""

import os
import re


def one_device_env() -> dict[str, str]:
  """os.environ without the fake-device count the test session sets."""
  flags = re.sub(r'--xla_force_host_platform_device_count=\d+', '',
                 os.environ.get('XLA_FLAGS', '')).strip()
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  if flags:  # XLA reads a blank XLA_FLAGS as a file name
    env['XLA_FLAGS'] = flags
  return env
