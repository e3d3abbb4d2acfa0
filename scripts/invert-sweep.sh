#!/usr/bin/env bash
# Inverts 8 LFW targets (first photo of 8 identities, given as a .npy) with several prior
# settings and prints one line per setting: mean best cosine to the targets and seconds.
# Usage: scripts/invert-sweep.sh MODEL_DIR OUT_DIR [extra invert flags…]
# Outputs (sheets, reports) go under OUT_DIR; the data is read from ../shared/data.
set -euo pipefail
model=$1; out=$2; shift 2
lfw=${LFW:-../shared/data/lfw}
mkdir -p "$out"
imgs=()
for name in Aaron_Peirsol Alejandro_Toledo Colin_Powell Gloria_Macapagal_Arroyo Jennifer_Aniston Serena_Williams Tony_Blair Venus_Williams; do
  imgs+=("$lfw/$name/$(ls "$lfw/$name" | head -1)")
done
node dist/cli/main.js embed --model "$model" --images "${imgs[@]}" --out "$out/targets.npy" --align no 2>/dev/null
run() {
  local name=$1; shift
  node dist/cli/main.js invert --model "$model" --embedding "$out/targets.npy" --out "$out/$name" --overwrite --batch-size 8 --workers 1 "$@" 2>/dev/null | tail -1 | sed "s|^|$name: |"
}
run default "$@"
run no-bn-prior --no-bn-prior "$@"
for w in 0.001 0.01 0.03; do run "bn-$w" --bn-weight "$w" "$@"; done
run bn-mean-0.1 --bn-reduction mean --bn-weight 0.1 "$@"
run arcface-form --bn-form arcface --bn-weight 0.05 "$@"
run tv-1 --tv-l2 1 "$@"
run multires --multi-resolution "$@"
