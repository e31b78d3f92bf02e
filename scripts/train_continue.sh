#!/usr/bin/env bash
# Run one stage of the recipe (config/train_cmu25_cv_$STAGE.yaml and
# config/train_body17_camera_$STAGE.yaml; STAGE=stage3 unless set) from earlier weights over this
# machine's GPUs, every run at once: the protocol folds (FROM/cmu25_fold<k>/final.pt), the
# all-trials protocol model (FROM/cmu25_all/final.pt, else models/nermo_cmu_protocol25.pt),
# the node model's twin (FROM/body17_camera_heldout/final.pt, trained without the held-out
# trials; it calibrates the shipped model) and the node model (FROM/body17_camera_all/final.pt,
# else models/nermo_body17.pt). Each runs STEPS steps with a fresh warm-up and decay (0: the
# stage's time budget).
# SEED must differ from every earlier run of the stage, so that the batches are new.
#   scripts/train_continue.sh FROM RUNS_DIR SEED [STEPS] [FOLDS]
# e.g. scripts/train_continue.sh runs/cv3 runs/cv3b 3 620   (stage 3's second slice)
#      STAGE=stage4 scripts/train_continue.sh runs/cv4 runs/cv4b 5 800   (stage 4)
# Memory: eight runs (six protocol runs at batch 128, two node runs at batch 1024) took
# 122 of one H200's 139 GiB. Each run writes RUNS_DIR/<name>/final.pt and RUNS_DIR/<name>.log.
set -euo pipefail
from=$1 runs=$2 seed=$3 steps=${4:-0} folds=${5:-5}
gpus=$(python3 -c 'import torch; print(max(torch.cuda.device_count(), 1))')
mkdir -p "$runs"
i=0
launch() {  # NAME FLAGS...
  local name=$1 gpu=$((i++ % gpus))
  shift
  CUDA_VISIBLE_DEVICES=$gpu OMP_NUM_THREADS=2 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True \
    python3 -m nermo_ros.cli train "$@" --seed "$seed" --steps "$steps" --device cuda \
    --out "$runs/$name" >"$runs/$name.log" 2>&1 &
  echo "started $name on GPU $gpu: $*"
}
either() { [ -f "$1" ] && echo "$1" || echo "$2"; }
stage=${STAGE:-stage3}
protocol=config/train_cmu25_cv_$stage.yaml node=config/train_body17_camera_$stage.yaml
for k in $(seq 0 $((folds - 1))); do
  launch "cmu25_fold$k" --config $protocol --fold "$k" --folds "$folds" \
    --init-from "$from/cmu25_fold$k/final.pt"
done
launch cmu25_all --config $protocol --all-trials \
  --init-from "$(either "$from/cmu25_all/final.pt" models/nermo_cmu_protocol25.pt)"
launch body17_camera_heldout --config $node --init-from "$from/body17_camera_heldout/final.pt"
launch body17_camera_all --config $node --all-trials \
  --init-from "$(either "$from/body17_camera_all/final.pt" models/nermo_body17.pt)"
wait
echo "all runs ended; the pooled table:"
echo "  nermo-ros evaluate --layout cmu_protocol25 --cv-models '$runs/cmu25_fold{k}/final.pt'" \
     "--folds $folds --sampling all --steps 3 --settings complete --mirror-average --device cuda"
