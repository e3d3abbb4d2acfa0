#!/usr/bin/env bash
# Copies a model into samples/models/NAME: from a training run (its selected best/, plus the run's
# config and logs) or from a model directory (e.g. an average, scripts/average-models.mjs: its
# files as they are); then its LFW evaluation (eval-lfw.json). Staged in NAME.tmp, then renamed.
# Refuses an existing NAME: move the model that is there first (git mv, with its card), so that no
# card, teachers.json or calibration is lost. The new model's MODEL_CARD.md is written by hand.
# Usage: [TEACHERS=a,b] scripts/ship-model.sh RUN_OR_MODEL_DIR NAME
# TEACHERS: the teacher networks behind a combined distillation target (scripts/teacher-ensemble.mjs),
# written to teachers.json (unless the source has one) so that `leakage` marks those judges not
# independent (src/model/lineage.ts).
set -euo pipefail
src=$1; name=$2
dest=samples/models/$name
lfw=${LFW:-../shared/data/lfw}
if [ -e "$dest" ]; then
  echo "$dest exists: move it first (git mv $dest samples/models/OTHER_NAME), its card with it" >&2
  exit 2
fi
if [ -f "$src/best/model.json" ]; then
  model=$src/best; meta=("$src"/config.json "$src"/train-log.jsonl); [ -f "$src"/eval-log.jsonl ] && meta+=("$src"/eval-log.jsonl)
elif [ -f "$src/model.json" ]; then
  model=$src; meta=()
else
  echo "$src is neither a training run (with best/model.json) nor a model directory (with model.json)" >&2
  exit 2
fi
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
for f in "$model"/*; do
  case $(basename "$f") in optimizer.* | state.json | MODEL_CARD.md) ;; *) cp -r "$f" "$dest.tmp"/ ;; esac
done
[ ${#meta[@]} -gt 0 ] && cp "${meta[@]}" "$dest.tmp"/
if [ -n "${TEACHERS:-}" ] && [ ! -f "$dest.tmp/teachers.json" ]; then
  node -e 'console.log(JSON.stringify({ teachers: process.argv[1].split(",") }, null, 2))' "$TEACHERS" > "$dest.tmp/teachers.json"
fi
node dist/cli/main.js eval --model "$dest.tmp" --pairs "$lfw/pairs.txt" --images "$lfw" --json | sed "s|$dest.tmp|$dest|" > "$dest.tmp/eval-lfw.json"
mv "$dest.tmp" "$dest"
du -sh "$dest"/*
