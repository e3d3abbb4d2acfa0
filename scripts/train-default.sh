#!/usr/bin/env bash
# Trains (or, when the run directory exists, resumes) the default model: MobileFaceNet
# (width 64) at 112×112, ArcFace (s 64, m 0.5), distilled from the ensemble of human-models'
# faceres and mobileface embeddings of the training images, warm-started from the 64-px model:
#   for m in faceres mobileface; do   # i = 0, 1 in parallel, then once without --shard to merge
#     node scripts/teacher-embeddings.mjs <human-models>/models/$m.json ../shared/data/train RUNS/teachers/$m.npy --shard i/2
#   done
#   node scripts/teacher-ensemble.mjs training/teachers/ensemble-pca512.npy RUNS/teachers/faceres.npy RUNS/teachers/mobileface.npy --pca 512 --float16
# (training/README.md: the committed targets). Checkpoints every 10 min;
# kill it at any moment and run this script again to continue.
# Usage: scripts/train-default.sh RUN_DIR TEACHER_NPY [WIDTH]
# Environment: INPUT_SIZE (112), EPOCHS (16; on a resume, a new end for the run), K (sub-centres, 1), DISTILL_WEIGHT (64), LR (0.1),
# WARMUP (1 epoch), EVAL_EVERY (score LFW every N epochs and after the last; on a resume too), INIT (a saved model to warm-start from, e.g. samples/models/mobilefacenet-w64-64px;
# default none), DIST (the compiled CLI's folder, default dist).
set -euo pipefail
run=$1; teacher=$2; width=${3:-64}
data=${DATA:-../shared/data}
cli="${DIST:-dist}/cli/main.js"
if [ -f "$run/checkpoint.json" ]; then
  exec node "$cli" train --resume "$run" --workers 2 ${EPOCHS:+--epochs "$EPOCHS"} ${EVAL_EVERY:+--eval-every "$EVAL_EVERY"}
fi
exec node "$cli" train --data "$data/train" --out "$run" \
  --backbone mobilefacenet --width "$width" --input-size "${INPUT_SIZE:-112}" --margin arcface --k "${K:-1}" \
  --batch-size 64 --workers 2 --epochs "${EPOCHS:-16}" --lr "${LR:-0.1}" --warmup-epochs "${WARMUP:-1}" ${INIT:+--init "$INIT"} \
  --distill "$teacher" --distill-weight "${DISTILL_WEIGHT:-64}" \
  --eval-pairs "$data/lfw/pairs.txt" --eval-images "$data/lfw" --eval-every "${EVAL_EVERY:-1}" --checkpoint-every 10
