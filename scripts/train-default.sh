#!/usr/bin/env bash
# Trains (or, when the run directory exists, resumes) the default model shipped in
# samples/models/default: MobileFaceNet, 64×64 input, ArcFace (s 64, m 0.5), distilled from
# human-models' mobileface embeddings of the training images, made with
#   node scripts/teacher-embeddings.mjs <human-models>/models/mobileface.json ../shared/data/train RUNS/teacher/mobileface.npy --shard i/2   (i = 0, 1; then once without --shard)
# Checkpoints every 10 min; kill it at any moment and run this script again to continue.
# Usage: scripts/train-default.sh RUN_DIR TEACHER_NPY [WIDTH]
# Environment: EPOCHS (6), DISTILL_WEIGHT (64), LR (0.1), WARMUP (1 epoch), INIT (a saved model
# to warm-start from, e.g. samples/models/default; default none).
set -euo pipefail
run=$1; teacher=$2; width=${3:-64}
data=${DATA:-../shared/data}
if [ -f "$run/checkpoint.json" ]; then
  exec node dist/cli/main.js train --resume "$run" --workers 2
fi
exec node dist/cli/main.js train --data "$data/train" --out "$run" \
  --backbone mobilefacenet --width "$width" --input-size 64 --margin arcface --k 1 \
  --batch-size 64 --workers 2 --epochs "${EPOCHS:-6}" --lr "${LR:-0.1}" --warmup-epochs "${WARMUP:-1}" ${INIT:+--init "$INIT"} \
  --distill "$teacher" --distill-weight "${DISTILL_WEIGHT:-64}" \
  --eval-pairs "$data/lfw/pairs.txt" --eval-images "$data/lfw" --checkpoint-every 10
