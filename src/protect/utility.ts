/**
 * What a protection scheme costs in accuracy: verification of LFW-style pairs with protected
 * templates (protected enrolment against protected probe, the scheme's own comparison), beside
 * the unprotected embeddings. Two key policies:
 *   - `user`: every identity holds its own key (seeded by the run's seed and the identity), the
 *     scheme's normal operating scenario; impostor pairs compare templates made with different
 *     keys, which key-based schemes separate easily (the "token advantage");
 *   - `shared`: one key for everyone — the stolen-token scenario, where only the template's
 *     information separates identities.
 * Quantile thresholds are fitted once, on every evaluated template, and shared by all keys.
 */
import { tarAtFar, tenFoldAccuracy, type TarAtFarResult } from '../metrics/verification.js';
import { mixSeed } from '../util/random.js';
import { makeKey, protect, similarity, type Protected, type ProtectionKey, type SchemeName } from './schemes.js';

export type KeyPolicy = 'user' | 'shared';

/** A verification pair by row of the template matrix, with its identities and fold. */
export interface RowPair {
  a: number;
  b: number;
  same: boolean;
  fold: number;
}

export interface Utility {
  accuracy: number;
  std: number;
  tarAtFar1e2: TarAtFarResult;
  tarAtFar1e3: TarAtFarResult;
  pairs: number;
}

/** FNV-1a of a string: an identity's share of the key seed. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function verification(scores: number[], pairs: readonly RowPair[]): Utility {
  const same = pairs.map((p) => p.same);
  const r = tenFoldAccuracy(
    scores,
    same,
    pairs.map((p) => p.fold),
  );
  return {
    accuracy: r.accuracy,
    std: r.std,
    tarAtFar1e2: tarAtFar(scores, same, 1e-2),
    tarAtFar1e3: tarAtFar(scores, same, 1e-3),
    pairs: pairs.length,
  };
}

/** Verification of the unprotected unit embeddings `x` [n, dim] (cosine). */
export function unprotectedUtility(x: Float32Array, dim: number, pairs: readonly RowPair[]): Utility {
  const p: Protected = { data: x, n: x.length / dim, dim, comparison: 'cosine' };
  return verification(
    pairs.map((q) => similarity(p, q.a, p, q.b)),
    pairs,
  );
}

/**
 * Verification of `x` [n, dim] protected with `scheme` under `policy`; `identities[i]` is row i's
 * identity (its key under `user`).
 */
export function protectedUtility(
  x: Float32Array,
  dim: number,
  identities: readonly string[],
  pairs: readonly RowPair[],
  spec: { scheme: SchemeName; options: Record<string, number | string>; seed: number; policy: KeyPolicy },
): Utility {
  const n = identities.length;
  // The fitted part (quantile thresholds) once, for every key.
  const base = makeKey(spec.scheme, dim, spec.seed, spec.options, { data: x, n });
  const keyOf = (identity: string): ProtectionKey => ({ ...base, seed: mixSeed(spec.seed, fnv1a(identity)) });
  if (spec.policy === 'shared') {
    const all = protect(base, x, n, mixSeed(spec.seed, 0xd4a3));
    return verification(
      pairs.map((q) => similarity(all, q.a, all, q.b)),
      pairs,
    );
  }
  // Each row protected with its identity's key, rows of one identity together.
  const rowsOf = new Map<string, number[]>();
  identities.forEach((id, i) => rowsOf.set(id, [...(rowsOf.get(id) ?? []), i]));
  let out: Protected | undefined;
  for (const [id, rows] of rowsOf) {
    const sub = new Float32Array(rows.length * dim);
    rows.forEach((r, k) => sub.set(x.subarray(r * dim, (r + 1) * dim), k * dim));
    const p = protect(keyOf(id), sub, rows.length, mixSeed(spec.seed, fnv1a(id), 0xd4a3));
    out ??= { data: new Float32Array(n * p.dim), n, dim: p.dim, comparison: p.comparison };
    rows.forEach((r, k) => out!.data.set(p.data.subarray(k * p.dim, (k + 1) * p.dim), r * p.dim));
  }
  return verification(
    pairs.map((q) => similarity(out!, q.a, out!, q.b)),
    pairs,
  );
}
