/**
 * A protected face-recognition system and the two attacks on its stored templates, for the
 * leakage report (docs/PROTECTION.md).
 *
 * The system embeds a face with the attacked model, protects the embedding with its key, and
 * compares protected templates with the scheme's own function. As a `Judge` it returns unit
 * rows whose cosine orders pairs as that function does: bit strings become ±1 (cosine =
 * 1 − 2·Hamming/bits), other templates are normalised. A probe is protected with the key of the
 * identity it claims, so a zero-effort impostor meets the victim's key too: one key per system
 * gives the same thresholds as one key per user, and the same attack (the thief holds the
 * victim's key either way).
 *
 * The attacker holds a stolen protected template and recovers an embedding to invert
 * (`recover.ts`):
 *   - 'key-stolen': with the system's key;
 *   - 'key-unknown': with a key of its own (another seed): for keyless schemes (noise, quantize,
 *     sign) that is the same attack, since nothing in their key is secret.
 */
import type { Judge } from '../judge/types.js';
import type { RasterImage } from '../align/warp.js';
import { mixSeed } from '../util/random.js';
import { normalizeRows } from './linalg.js';
import { recoverEmbeddings, type RecoverOptions } from './recover.js';
import { protect, schemeInfo, similarity, type Protected, type ProtectionKey } from './schemes.js';

export const ATTACK_SCENARIOS = ['key-stolen', 'key-unknown'] as const;
export type AttackScenario = (typeof ATTACK_SCENARIOS)[number];

/** Schemes whose key holds nothing secret: the key-unknown attacker has it anyway. */
const KEYLESS = new Set(['noise', 'quantize', 'sign']);

export function isKeyless(key: ProtectionKey): boolean {
  return KEYLESS.has(key.scheme);
}

/** Protected templates as unit rows ordered by the scheme's comparison (see the module comment). */
export function comparableRows(p: Protected): Float32Array {
  const rows = p.comparison === 'hamming' ? p.data.map((b) => 2 * b - 1) : p.data;
  return normalizeRows(rows, p.dim);
}

/** One line naming the scheme and its options, e.g. `biohash bits=256`. */
export function describeKey(key: ProtectionKey): string {
  const opts = Object.entries(key.options).map(([k, v]) => `${k}=${v}`);
  return [key.scheme, ...opts].join(' ');
}

/**
 * The system `inner` protected with `key`, as a judge named `protected-<scheme>`. `draws` seeds
 * the per-call randomness (the noise scheme's noise), one fresh value per `embed` call: the
 * enrolled photos are protected afresh rather than compared with the very templates that were
 * stolen (for the deterministic schemes that is the same template; for `noise`, another draw of
 * the same noise). It does not own `inner` (the white-box row's judge, usually): disposing it
 * leaves `inner` alone.
 */
export function protectedJudge(inner: Judge, key: ProtectionKey, draws: number): Judge {
  const dim = protect(key, new Float32Array(key.dim), 1, 0).dim;
  let calls = 0;
  return {
    name: `protected-${key.scheme}`,
    dim,
    description: `${inner.name} protected by ${describeKey(key)}, compared by ${schemeInfo(key.scheme).comparison}`,
    async embed(crops: readonly RasterImage[]): Promise<Float32Array> {
      const x = await inner.embed(crops);
      return comparableRows(protect(key, x, crops.length, mixSeed(draws, calls++)));
    },
    dispose: () => undefined,
  };
}

/** What the attacker recovered from the stolen templates, and how close it is. */
export interface TemplateAttack {
  scenario: AttackScenario;
  /** The key the attacker recovered with (the system's when stolen). */
  attackerSeed: number;
  /** Recovered unit embeddings [n, key.dim]: the templates to invert. */
  recovered: Float32Array;
  /** Per target: cosine of the recovered to the true (unprotected) embedding. */
  cosineToTrue: number[];
  /** Per target: the system's similarity of the recovered embedding, protected with its key, to the stolen template. */
  protectedSimilarity: number[];
}

/**
 * Protects the true embeddings `x` [n, key.dim] (the stolen database; `draws` seeds noise),
 * then recovers embeddings from it as the attacker of `scenario` would.
 */
export function attackTemplates(
  key: ProtectionKey,
  x: Float32Array,
  n: number,
  scenario: AttackScenario,
  draws: number,
  options: Partial<RecoverOptions> = {},
): TemplateAttack {
  const stolen = protect(key, x, n, draws);
  const attackerSeed = scenario === 'key-stolen' || isKeyless(key) ? key.seed : mixSeed(key.seed, 0xa77ac);
  const recovered = recoverEmbeddings({ ...key, seed: attackerSeed }, stolen, options);
  const again = protect(key, recovered, n, mixSeed(draws, 1));
  const d = key.dim;
  const truth: Protected = { data: x, n, dim: d, comparison: 'cosine' };
  const mine: Protected = { data: recovered, n, dim: d, comparison: 'cosine' };
  return {
    scenario,
    attackerSeed,
    recovered,
    cosineToTrue: Array.from({ length: n }, (_, i) => similarity(mine, i, truth, i)),
    protectedSimilarity: Array.from({ length: n }, (_, i) => similarity(again, i, stolen, i)),
  };
}
