#!/usr/bin/env bash
# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
# One-shot accelerator suite: reference bf16 train steps of every workload
# (throughput, MFU), the ImageNet input pipeline on the host's cores, LoadGen
# Offline/Server with the ResNet SUT, and `pytest -m gpu`; JSON + a table in
# OUT_DIR. About 8 minutes on one H200 (--budget-s caps it).
#
#   benchmarks/gpu_suite.sh OUT_DIR [--dry] [--items step:resnet,pipeline]
#                                   [--budget-s 480]
# --dry: the same code on CPU at tiny size (mini variants), for tests.
set -euo pipefail
if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 OUT_DIR [--dry] [--items a,b] [--budget-s S]" >&2
  exit 2
fi
out=$1
shift
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" benchmarks/gpu_suite.py --out "$out" "$@"
