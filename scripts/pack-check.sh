#!/usr/bin/env sh
# The published package, as a user gets it: `npm pack` this checkout's build (run
# `npm run build` first; `npm test` does, and runs this through tests/pack.test.ts), unpack
# the tarball into node_modules/arcinvert of a fresh project in a temporary folder, whose other
# packages are links to this checkout's installed dependencies (no registry, no network), then:
#   - the tarball holds dist/, bin/ and the default model, and no benchmark, test or source;
#   - an ES module imports the library API from 'arcinvert', loads the packaged default model
#     and checks the exports are functions; a deep `arcinvert/dist/...` import is refused;
#   - tsc compiles a TypeScript file importing from 'arcinvert' (the types resolve).
# Prints "pack check: ok" and exits 0, or names the failing check and exits 1.
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$repo/dist/index.js" ] || { echo "pack check: no dist/index.js; run npm run build first" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "pack check: $*" >&2; exit 1; }

# --ignore-scripts: no `prepare` rebuild (it would replace dist/ under running tests).
tgz="$(cd "$repo" && npm pack --ignore-scripts --silent --pack-destination "$tmp" 2>/dev/null | tail -n 1)"
[ -f "$tmp/$tgz" ] || fail "npm pack wrote no tarball"
tar -tzf "$tmp/$tgz" > "$tmp/contents.txt"
for f in package/package.json package/dist/index.js package/dist/index.d.ts package/bin/arcinvert.js \
  package/samples/models/default/model.json; do
  grep -qx "$f" "$tmp/contents.txt" || fail "the tarball lacks $f"
done
if grep -E '^package/(src|tests|benchmarks|dist-bench|scripts)/|^package/dist/bench/' "$tmp/contents.txt"; then
  fail "the tarball holds the files above, which are not part of the product"
fi

proj="$tmp/project"
mkdir -p "$proj/node_modules/arcinvert"
for dep in "$repo"/node_modules/* "$repo"/node_modules/.bin; do
  name="$(basename "$dep")"
  [ "$name" = arcinvert ] || ln -s "$dep" "$proj/node_modules/$name"
done
tar -xzf "$tmp/$tgz" -C "$proj/node_modules/arcinvert" --strip-components=1
printf '{ "name": "pack-check", "private": true, "type": "module" }\n' > "$proj/package.json"

cat > "$proj/use.mjs" <<'EOF'
import * as tf from '@tensorflow/tfjs';
import { evaluate, importOnnx, invert, loadFaceModel, runLeakage, selectBackend, train, ArcinvertError } from 'arcinvert';

for (const [name, f] of Object.entries({ evaluate, importOnnx, invert, loadFaceModel, runLeakage, train, ArcinvertError }))
  if (typeof f !== 'function') throw new Error(`export ${name} is ${typeof f}, not a function`);
await selectBackend('wasm');
const fm = await loadFaceModel('node_modules/arcinvert/samples/models/default');
const d = fm.meta.embeddingSize;
if (!(d > 0) || fm.model.outputs[0].shape[1] !== d) throw new Error(`the default model's embedding size is ${d}`);
fm.model.dispose();
const deep = await import('arcinvert/dist/io/index.js').then(() => 'loaded', (e) => e.code);
if (deep !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw new Error(`a deep dist/ import gave ${deep}, not ERR_PACKAGE_PATH_NOT_EXPORTED`);
console.log(`import from 'arcinvert': ok (default model ${fm.meta.backbone}, ${d}-d; tensors ${tf.memory().numTensors})`);
EOF
(cd "$proj" && node use.mjs) || fail "use.mjs failed"

# The README's library example, type-checked as a user's file.
cat > "$proj/use.ts" <<'EOF'
import { invert, loadFaceModel, readEmbeddings, resolveInvertConfig, selectBackend } from 'arcinvert';

await selectBackend('auto');
const fm = await loadFaceModel('samples/models/default');
const { data: embeddings, dim } = await readEmbeddings('samples/vec.npy');
const result = await invert(fm, { embeddings, dim }, resolveInvertConfig({ steps: 500 }), {
  onProgress: (p) => console.log(p.step, p.cosine.mean),
  signal: AbortSignal.timeout(60_000),
});
const count: number = result.images.length;
console.log(count);
EOF
cat > "$proj/tsconfig.json" <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "skipLibCheck": true,
    "noEmit": true,
    "types": ["node"]
  },
  "files": ["use.ts"]
}
EOF
(cd "$proj" && node "$repo/node_modules/typescript/bin/tsc" -p tsconfig.json) || fail "tsc could not compile use.ts against the package's types"
echo "tsc against 'arcinvert' types: ok"
echo "pack check: ok ($tgz)"
