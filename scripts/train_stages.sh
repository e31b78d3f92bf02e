#!/usr/bin/env bash
# Run a staged recipe (config/recipe_*.yaml: stages in order, each from the one before) for
# every cross-validation fold and the every-trial model at once, each started on the least busy
# of this machine's GPUs. Finished stages are skipped, so the same command continues a lineage that an
# earlier slice (PAUSE_MINUTES) stopped. Each run writes RUNS_DIR/<name>/<nn>_<stage>/ and, when
# its last stage ends, RUNS_DIR/<name>/final.pt; its log is RUNS_DIR/<name>.log.
#   [TRAIN_FLAGS=...] scripts/train_stages.sh RECIPE RUNS_DIR [FOLDS] [PAUSE_MINUTES] [RUNS_PER_GPU]
# e.g. TRAIN_FLAGS="--last-stage 1" scripts/train_stages.sh config/recipe_cmu25_protocol.yaml runs/recipe 5 25
# TRAIN_FLAGS go to every `nermo-ros train --recipe` call: --last-stage N ends a slice at a
# stage's end, so the next machine needs each run's weights only (scripts/carry_weights.py), not
# its optimiser state. ALL_TRIALS=0 leaves out the every-trial model (folds only, e.g. to
# re-make the folds of a model already shipped). DEVICE=cpu runs a small recipe on the CPU as a
# check.
# On a GPU every run replays CUDA-graphed steps (--cuda-graphs; CUDA_GRAPHS=0 trains eagerly):
# a few per cent more steps a minute at three runs a GPU (BENCHMARKS.md, "Training speed").
# Memory: a protocol run at batch 128 takes about 24 GiB of an H200, 48 GiB at batch 256 (the
# first stage; three of those do not fit one H200); with CUDA graphs the later stages' runs
# held 23-35 GiB each, so four fit one H200 and five ran out of memory at their start. An H200
# does about 600 steps a minute however many runs share it. RUNS_PER_GPU (default 2) runs share a GPU,
# each started on the least busy one; the rest wait for a free place. Two graphed runs already
# keep an H200 busy (BENCHMARKS.md, "Training speed"). A run that fails is named at the end
# and the script exits with status 1. RUNS_DIR/summary.txt says where each run stands.
# GPUS="0 1": the GPUs to use (default: every one torch sees), e.g. to run an arm on one GPU
# while its base recipe's control runs on the other.
# SHARED_RUNS=DIR: for an arm recipe (base + arm), each run takes the stages before the arm
# from DIR/<name>, the same split's run of the base recipe (--shared-stages-from).
# CARRY_TO=DIR: at the end, scripts/carry_weights.py RUNS_DIR DIR and the summary beside it
# (what a lent machine gives back for the next slice).
set -euo pipefail
recipe=$1 runs=$2 folds=${3:-5} pause=${4:-0} per_gpu=${5:-2}
read -r -a gpus <<<"${GPUS:-$(python3 -c 'import torch; print(*range(max(torch.cuda.device_count(), 1)))')}"
mkdir -p "$runs"
names=() splits=()
for k in $(seq 0 $((folds - 1))); do names+=("fold$k"); splits+=("--fold $k --folds $folds"); done
if [ "${ALL_TRIALS:-1}" != 0 ]; then names+=("all"); splits+=("--all-trials"); fi
graphs=""
if [ "${DEVICE:-cuda}" = cuda ] && [ "${CUDA_GRAPHS:-1}" != 0 ]; then graphs=--cuda-graphs; fi
shared=()
declare -A gpu_of=() name_of=()
failed=()
reap() {  # forget the runs that ended, keeping the names of those that failed
  local running pid
  running=" $(jobs -rp | tr '\n' ' ') "
  for pid in "${!gpu_of[@]}"; do
    if [[ $running != *" $pid "* ]]; then
      wait "$pid" || failed+=("${name_of[$pid]}")
      unset "gpu_of[$pid]"
    fi
  done
}
least_busy_gpu() {  # the GPU running the fewest runs, if it has room
  local g pid count best=-1 best_count=$per_gpu
  for g in "${gpus[@]}"; do
    count=0
    for pid in "${!gpu_of[@]}"; do [ "${gpu_of[$pid]}" = "$g" ] && count=$((count + 1)); done
    if [ "$count" -lt "$best_count" ]; then best=$g best_count=$count; fi
  done
  echo "$best"
}
for i in "${!names[@]}"; do
  while reap; gpu=$(least_busy_gpu); [ "$gpu" -lt 0 ]; do sleep 5; done
  if [ -n "${SHARED_RUNS:-}" ]; then shared=(--shared-stages-from "$SHARED_RUNS/${names[$i]}"); fi
  # shellcheck disable=SC2086 # the split flags and TRAIN_FLAGS are words
  CUDA_VISIBLE_DEVICES=$gpu OMP_NUM_THREADS=4 PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True \
    python3 -m nermo_ros.cli train --recipe "$recipe" ${splits[$i]} ${TRAIN_FLAGS:-} ${shared[@]+"${shared[@]}"} $graphs --device "${DEVICE:-cuda}" \
    --pause-after-minutes "$pause" --out "$runs/${names[$i]}" >>"$runs/${names[$i]}.log" 2>&1 &
  gpu_of[$!]=$gpu name_of[$!]=${names[$i]}
  echo "started ${names[$i]} on GPU $gpu"
done
while reap; [ "${#gpu_of[@]}" -gt 0 ]; do sleep 5; done
for name in "${names[@]}"; do  # where each run stands, and its last speed
  stage=$(find "$runs/$name" -path '*/[0-9][0-9]_*/final.pt' 2>/dev/null | sort | tail -n 1 || true)
  speed=$(grep -h "steps a minute" "$runs/$name.log" 2>/dev/null | tail -n 1 || true)
  echo "$name: newest finished stage ${stage:-none}; ${speed:-no steps trained}"
done | tee "$runs/summary.txt"
if [ -n "${CARRY_TO:-}" ]; then  # each run's newest finished stage as 16-bit weights, and the summary
  python3 "$(dirname "$0")/carry_weights.py" "$runs" "$CARRY_TO" || echo "nothing to carry" >&2
  cp "$runs/summary.txt" "$CARRY_TO/" 2>/dev/null || true
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "runs that failed (see their logs in $runs): ${failed[*]}" >&2
  exit 1
fi
echo "all runs ended"
