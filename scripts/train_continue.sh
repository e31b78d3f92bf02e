#!/usr/bin/env bash
# Continue the recipe's second stage from earlier weights over this machine's GPUs.
#   Wave 1, all at once: the protocol folds (FROM/cmu25_fold<k>/final.pt), the node model's
#   twin (FROM/body17_camera_heldout/final.pt, trained without the held-out trials; it
#   calibrates the shipped model) and the shipped node model (models/nermo_body17.pt), each
#   for the stage's time budget.
#   Wave 2: the shipped protocol model (models/nermo_cmu_protocol25.pt) for as many steps as
#   the folds reached on average, so that it is the recipe the folds measured.
# SEED must differ from every earlier run of the stage, so that the batches are new.
#   scripts/train_continue.sh FROM RUNS_DIR SEED [FOLDS]
# e.g. scripts/train_continue.sh runs/cv2 runs/cv3 2
# Memory: a protocol run peaks near 19 GiB (batch 160, 10 inner steps), a node run near
# 12 GiB (batch 1024): wave 1 filled 125 of one H200's 139 GiB. Each run writes
# RUNS_DIR/<name>/final.pt and RUNS_DIR/<name>.log.
set -euo pipefail
from=$1 runs=$2 seed=$3 folds=${4:-5}
gpus=$(python3 -c 'import torch; print(max(torch.cuda.device_count(), 1))')
mkdir -p "$runs"
launch() {  # GPU NAME FLAGS...
  local gpu=$1 name=$2
  shift 2
  CUDA_VISIBLE_DEVICES=$gpu OMP_NUM_THREADS=2 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True \
    python3 -m nermo_ros.cli train "$@" --seed "$seed" --device cuda --out "$runs/$name" \
    >"$runs/$name.log" 2>&1 &
  echo "started $name on GPU $gpu: $*"
}
i=0
for k in $(seq 0 $((folds - 1))); do
  launch $((i++ % gpus)) "cmu25_fold$k" --config config/train_cmu25_cv_stage2.yaml \
    --fold "$k" --folds "$folds" --init-from "$from/cmu25_fold$k/final.pt"
done
launch $((i++ % gpus)) body17_camera_heldout --config config/train_body17_camera.yaml \
  --init-from "$from/body17_camera_heldout/final.pt"
launch $((i++ % gpus)) body17_camera_all --config config/train_body17_camera.yaml --all-trials \
  --init-from models/nermo_body17.pt
wait
steps=$(python3 -c "
import sys
from nermo_ros.checkpoint import load_checkpoint
reached = [load_checkpoint(f'$runs/cmu25_fold{k}/final.pt').step for k in range($folds)]
print(round(sum(reached) / len(reached)))")
launch 0 cmu25_all --config config/train_cmu25_cv_stage2.yaml --all-trials \
  --init-from models/nermo_cmu_protocol25.pt --steps "$steps"
wait
echo "all runs ended; the pooled table:"
echo "  nermo-ros evaluate --layout cmu_protocol25 --cv-models '$runs/cmu25_fold{k}/final.pt'" \
     "--folds $folds --sampling all protocol8 --steps 3 10 --settings complete --device cuda"
