#!/usr/bin/env bash
# Train one recipe on every GPU of this machine at once: the cross-validation folds of the
# protocol model and the all-trials models that ship (protocol and the node's model).
#   scripts/train_recipe.sh PROTOCOL_CONFIG NODE_CONFIG FOLDS RUNS_DIR
# e.g. scripts/train_recipe.sh config/train_cmu25_cv.yaml config/train_body17_cv.yaml 5 runs/cv
# Runs are spread round-robin over the GPUs (several small runs share one GPU well: the meta-
# gradient step is bound by kernel launches, not by the GPU's arithmetic). Each run writes
# RUNS_DIR/<name>/final.pt and RUNS_DIR/<name>.log; the script returns when all have ended.
set -euo pipefail
protocol_config=$1 node_config=$2 folds=$3 runs=$4
gpus=$(python3 -c 'import torch; print(max(torch.cuda.device_count(), 1))')
mkdir -p "$runs"
names=() commands=()
for k in $(seq 0 $((folds - 1))); do
  names+=("cmu25_fold$k")
  commands+=("--config $protocol_config --fold $k --folds $folds")
done
names+=("cmu25_all" "body17_all")
commands+=("--config $protocol_config --all-trials" "--config $node_config --all-trials")
for i in "${!names[@]}"; do
  gpu=$((i % gpus))
  # shellcheck disable=SC2086 # the flags are words
  CUDA_VISIBLE_DEVICES=$gpu OMP_NUM_THREADS=4 python3 -m nermo_ros.cli train ${commands[$i]} \
    --device cuda --out "$runs/${names[$i]}" >"$runs/${names[$i]}.log" 2>&1 &
  echo "started ${names[$i]} on GPU $gpu: ${commands[$i]}"
done
wait
echo "all runs ended"
