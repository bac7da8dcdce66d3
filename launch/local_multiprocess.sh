#!/usr/bin/env bash
# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
#
# Several JAX processes on this machine (CPU, fake devices, gloo
# collectives), as on several hosts:
#
#   launch/local_multiprocess.sh [--print-only] [TRAIN ARGS...]
#
# NUM_PROCESSES (default 2) processes with DEVICES_PER_PROCESS (default 4)
# devices each; HEARTBEAT_TIMEOUT (default 30) seconds before a dead process
# stops the others. A thin wrapper over `python -m mlperf_jax.launch_local`.
set -euo pipefail

own=()
if [[ "${1:-}" == "--print-only" ]]; then
  own+=(--print-only)
  shift
fi
(($#)) || set -- --workload resnet

exec "${PYTHON:-python}" -m mlperf_jax.launch_local \
  --num-processes "${NUM_PROCESSES:-2}" \
  --devices-per-process "${DEVICES_PER_PROCESS:-4}" \
  --heartbeat-timeout "${HEARTBEAT_TIMEOUT:-30}" "${own[@]}" -- "$@"
