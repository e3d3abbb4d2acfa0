#!/usr/bin/env bash
# The artists' page's pictures (docs/GALLERY.md): the default model and the default settings,
# seed 0, written at the default 128-px output. Three runs: two random identities × 3 seeds,
# two of the model's training classes × 3 seeds, one LFW photo × 4 seeds; each run's sheet
# (a row per identity, a column per seed) becomes docs/gallery-*.jpg.
# Usage: scripts/gallery.sh   (DATA: the data folder, default ../shared/data; TMPDIR: scratch)
set -euo pipefail
data=${DATA:-../shared/data}
model=samples/models/default
tmp=${TMPDIR:-/tmp}/arcinvert-gallery
mkdir -p "$tmp"
jpeg() { node -e "require('sharp')('$1').jpeg({quality:85}).toFile('$2')"; }
run() {
  local name=$1; shift
  /usr/bin/time -f "$name: %e s" node dist/cli/main.js invert --model "$model" --out "$tmp/$name" --overwrite "$@" | tail -1
  jpeg "$tmp/$name/sheet.png" "docs/gallery-$name.jpg"
}

run random --random 2 --seeds 3
run class --class 15 16 --seeds 3   # cacd_Aishwarya_Rai_Bachchan, cacd_Alan_Cumming
run seeds --image "$data/lfw/Jennifer_Aniston/Jennifer_Aniston_0001.jpg" --align no --seeds 4
