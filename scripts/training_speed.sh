#!/usr/bin/env bash
# Training speed on this machine's first GPU: steps a minute of stage 19's network (the shipped
# protocol model's last stage, batch 128, fold 0, random weights), eagerly and with
# --cuda-graphs, one run alone and RUNS runs sharing the GPU. Each line is the one
# `nermo-ros train` prints at its end. Needs the CMU data ($NERMO_CMU_DIR or ../shared/data).
#   scripts/training_speed.sh [STEPS] [RUNS]
set -euo pipefail
steps=${1:-300} runs=${2:-3}
config=config/train_cmu25_cv_stage19_dropout_more.yaml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
speed() {  # NAME [FLAGS]: one run, its speed line
  CUDA_VISIBLE_DEVICES=0 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True OMP_NUM_THREADS=4 \
    python3 -m nermo_ros.cli train --config "$config" --fold 0 --folds 5 --steps "$steps" \
    --no-validate --device cuda --out "$out/$1" "${@:2}" 2>&1 | grep "steps a minute" | sed "s/^/$1: /"
}
speed eager1
speed graphs1 --cuda-graphs
for i in $(seq "$runs"); do speed "graphs${runs}_$i" --cuda-graphs & done; wait
for i in $(seq "$runs"); do speed "eager${runs}_$i" & done; wait
