#!/usr/bin/env bash
# Copies a training run's selected model into samples/models/NAME: the model (BN statistics
# included), its classifier head, class names, the run's config and logs, and its LFW
# evaluation (eval-lfw.json). Usage: [TEACHERS=a,b] scripts/ship-model.sh RUN_DIR NAME
# TEACHERS: the teacher networks behind a combined distillation target (scripts/teacher-ensemble.mjs),
# written to teachers.json so that `leakage` marks those judges not independent (src/model/lineage.ts).
set -euo pipefail
run=$1; name=$2
dest=samples/models/$name
lfw=${LFW:-../shared/data/lfw}
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
cp "$run"/best/model.json "$run"/best/weights-*.bin "$run"/best/head.json "$run"/best/head.bin "$run"/best/classes.json "$run"/best/best.json "$dest.tmp"/
cp "$run"/config.json "$run"/train-log.jsonl "$dest.tmp"/
[ -f "$run"/eval-log.jsonl ] && cp "$run"/eval-log.jsonl "$dest.tmp"/
if [ -n "${TEACHERS:-}" ]; then
  node -e 'console.log(JSON.stringify({ teachers: process.argv[1].split(",") }, null, 2))' "$TEACHERS" > "$dest.tmp/teachers.json"
fi
node dist/cli/main.js eval --model "$dest.tmp" --pairs "$lfw/pairs.txt" --images "$lfw" --json | sed "s|$dest.tmp|$dest|" > "$dest.tmp/eval-lfw.json"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
du -sh "$dest"/*
