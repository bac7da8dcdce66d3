#!/usr/bin/env bash
# Copyright 2026 The mlperf_jax Authors. Licensed under the Apache License 2.0.
#
# Train on a Cloud TPU pod slice: one JAX process per TPU VM worker.
#
#   launch/tpu_pod.sh [--print-only] [create|install|run|log|delete|all] \
#       [-- TRAIN ARGS...]
#
# create   gcloud creates the slice (TPU_NAME, ZONE, ACCELERATOR, TPU_VERSION)
# install  copies this checkout to every worker and pip-installs it with
#          JAX's TPU runtime (JAX_TPU_SPEC, default jax[tpu]==0.10.2)
# run      starts `python -m mlperf_jax.train TRAIN ARGS` on all workers at
#          once; jax.distributed finds the workers from the TPU metadata
# log      copies the run directory (MLLOG log, metrics, final parameters)
#          from worker 0, the only writer
# delete   deletes the slice
# all      create, install, run, log (the default)
#
# --print-only prints the gcloud commands instead of running them.
set -euo pipefail

TPU_NAME="${TPU_NAME:-mlperf-jax}"
ZONE="${ZONE:-us-central2-b}"
ACCELERATOR="${ACCELERATOR:-v4-32}"
TPU_VERSION="${TPU_VERSION:-tpu-ubuntu2204-base}"
PROJECT="${PROJECT:-}"
REMOTE_DIR="${REMOTE_DIR:-mlperf_jax}"
OUTPUT_DIR="${OUTPUT_DIR:-runs}"
LOCAL_LOG_DIR="${LOCAL_LOG_DIR:-tpu_runs}"
JAX_TPU_SPEC="${JAX_TPU_SPEC:-jax[tpu]==0.10.2}"

print_only=0
actions=()
train_args=()
while (($#)); do
  case "$1" in
    --print-only) print_only=1 ;;
    --) shift; train_args=("$@"); break ;;
    create|install|run|log|delete|all) actions+=("$1") ;;
    *) echo "unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
((${#actions[@]})) || actions=(all)
((${#train_args[@]})) || train_args=(--workload resnet --scale reference \
  --data-dir "${DATA_DIR:-/mnt/imagenet}")

project_flag=()
[[ -n "$PROJECT" ]] && project_flag=(--project "$PROJECT")

run() {
  # Prints the command (shell-quoted); runs it unless --print-only.
  printf '%q ' "$@"
  printf '\n'
  if ((!print_only)); then "$@"; fi
}

ssh_all() {
  run gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" \
    "${project_flag[@]}" --worker=all --command "$1"
}

do_create() {
  run gcloud compute tpus tpu-vm create "$TPU_NAME" --zone "$ZONE" \
    "${project_flag[@]}" --accelerator-type "$ACCELERATOR" \
    --version "$TPU_VERSION"
}

do_install() {
  local root
  root="$(cd "$(dirname "$0")/.." && pwd)"
  run gcloud compute tpus tpu-vm scp --recurse "$root" \
    "$TPU_NAME:$REMOTE_DIR" --zone "$ZONE" "${project_flag[@]}" --worker=all
  ssh_all "cd $REMOTE_DIR && pip install -e . '$JAX_TPU_SPEC'"
}

do_run() {
  local args
  args="$(printf '%q ' "${train_args[@]}")"
  ssh_all "cd $REMOTE_DIR && python -m mlperf_jax.train $args --output-dir $OUTPUT_DIR"
}

do_log() {
  run mkdir -p "$LOCAL_LOG_DIR"
  run gcloud compute tpus tpu-vm scp --recurse \
    "$TPU_NAME:$REMOTE_DIR/$OUTPUT_DIR" "$LOCAL_LOG_DIR" --zone "$ZONE" \
    "${project_flag[@]}" --worker=0
}

do_delete() {
  run gcloud compute tpus tpu-vm delete "$TPU_NAME" --zone "$ZONE" \
    "${project_flag[@]}" --quiet
}

for action in "${actions[@]}"; do
  case "$action" in
    all) do_create; do_install; do_run; do_log ;;
    *) "do_$action" ;;
  esac
done
