#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967295:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=268435456 node
// The compiled CLI (built by `npm ci` through the `prepare` script).
// The first line runs it with glibc's malloc holding on to freed memory (no trimming, no fresh
// mmap per large buffer): the matrix products on onnxruntime (src/engine/nativeGemm.ts) hand back
// a new buffer per call, and memory returned to the kernel and faulted back in each time costs more
// than the products save (docs/PERFORMANCE.md, "Native matrix products"). Elsewhere it is unused.
import '../dist/cli/main.js';
