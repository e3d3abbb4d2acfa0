/**
 * Template-protection schemes (docs/PROTECTION.md): each turns unit-norm face embeddings into
 * protected templates with key material drawn from a seed (a user's token), and compares two
 * protected templates with its own function. Keys are plain JSON (`ProtectionKey`): the seed
 * and options regenerate every random matrix; fitted values (quantile thresholds) are stored.
 */
import { randomInt } from 'node:crypto';
import { ArcinvertError } from '../errors.js';
import { mixSeed, Mulberry32 } from '../util/random.js';
import { applyMatrix, gaussians, normalizeRows, orthonormalRows } from './linalg.js';

export const SCHEME_NAMES = ['noise', 'quantize', 'sign', 'project', 'biohash', 'mlphash', 'polyprotect'] as const;
export type SchemeName = (typeof SCHEME_NAMES)[number];

/** How two protected templates are compared: cosine, or 1 − normalised Hamming distance of bit strings. */
export type Comparison = 'cosine' | 'hamming';

/** Everything that protects templates of one dimension the same way (JSON). */
export interface ProtectionKey {
  format: 'arcinvert-protection-key/1';
  scheme: SchemeName;
  /** Input dimension. */
  dim: number;
  seed: number;
  options: Record<string, number | string>;
  /** Values fitted on enrolment data (per-dimension quantile thresholds). */
  fitted?: { thresholds?: number[] };
}

export interface Protected {
  data: Float32Array;
  n: number;
  dim: number;
  comparison: Comparison;
}

interface Scheme {
  citation: string;
  comparison: Comparison;
  /** Default options, and their checks. */
  defaults: (dim: number) => Record<string, number | string>;
  check: (o: Record<string, number | string>, dim: number) => void;
  /** Values fitted on enrolment templates, when the scheme needs any. */
  fit?: (o: Record<string, number | string>, x: Float32Array, n: number, dim: number) => ProtectionKey['fitted'];
  /** `draws` seeds whatever is random per call (the noise scheme's noise), not part of the key. */
  apply: (key: ProtectionKey, x: Float32Array, n: number, draws: number) => { data: Float32Array; dim: number };
}

const need = (ok: boolean, message: string): void => {
  if (!ok) throw new ArcinvertError(message);
};
const intIn = (v: unknown, lo: number, hi: number): boolean =>
  Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const bits = (y: Float32Array): Float32Array => y.map((v) => (v > 0 ? 1 : 0));

/** Per-dimension thresholds at the k/levels quantiles (k = 1 … levels − 1) of `x` [n, dim]. */
function quantileThresholds(x: Float32Array, n: number, dim: number, levels: number): number[] {
  const out: number[] = [];
  const col = new Float64Array(n);
  for (let j = 0; j < dim; j++) {
    for (let i = 0; i < n; i++) col[i] = x[i * dim + j];
    col.sort();
    for (let k = 1; k < levels; k++) out.push(col[Math.min(n - 1, Math.floor((k * n) / levels))]);
  }
  return out;
}

const SCHEMES: Record<SchemeName, Scheme> = {
  noise: {
    citation:
      'additive Gaussian noise of norm ≈ σ beside the unit template (SNR = −20·log10 σ dB), renormalised: the keyless baseline that trades accuracy for privacy',
    comparison: 'cosine',
    defaults: () => ({ sigma: 0.5 }),
    check: (o) =>
      need(
        typeof o.sigma === 'number' && o.sigma >= 0 && Number.isFinite(o.sigma),
        `noise: sigma must be a number ≥ 0, got ${o.sigma}`,
      ),
    // y = (x + σ·g/√d) / ‖·‖: the noise has norm ≈ σ next to a unit template (SNR = −20·log10 σ dB).
    // A fresh draw per template and per call (`draws`): the key holds no noise to subtract.
    apply: (key, x, n, draws) => {
      const d = key.dim;
      const sigma = key.options.sigma as number;
      const y = new Float32Array(x.length);
      for (let r = 0; r < n; r++) {
        const g = gaussians(d, mixSeed(draws, r));
        for (let k = 0; k < d; k++) y[r * d + k] = x[r * d + k] + (sigma * g[k]) / Math.sqrt(d);
      }
      return { data: normalizeRows(y, d), dim: d };
    },
  },
  quantize: {
    citation:
      'scalar quantisation of each dimension to b bits (uniform, or at per-dimension quantiles fitted on enrolment data)',
    comparison: 'cosine',
    defaults: () => ({ bits: 2, mode: 'quantile' }),
    check: (o) => {
      need(intIn(o.bits, 1, 8), `quantize: bits must be an integer in [1, 8], got ${o.bits}`);
      need(o.mode === 'uniform' || o.mode === 'quantile', `quantize: mode must be uniform or quantile, got ${o.mode}`);
    },
    fit: (o, x, n, dim) => {
      const levels = 2 ** (o.bits as number);
      if (o.mode === 'quantile') return { thresholds: quantileThresholds(x, n, dim, levels) };
      // Uniform over ±3 per-dimension standard deviations of unit templates (1/√d).
      const r = 3 / Math.sqrt(dim);
      return {
        thresholds: Array.from(
          { length: dim * (levels - 1) },
          (_, i) => -r + (2 * r * ((i % (levels - 1)) + 1)) / levels,
        ),
      };
    },
    // Each value becomes its level index, centred: (level − (levels − 1)/2).
    apply: (key, x, n) => {
      const d = key.dim;
      const levels = 2 ** (key.options.bits as number);
      const t = key.fitted!.thresholds!;
      const y = new Float32Array(n * d);
      for (let r = 0; r < n; r++)
        for (let j = 0; j < d; j++) {
          let level = 0;
          while (level < levels - 1 && x[r * d + j] > t[j * (levels - 1) + level]) level++;
          y[r * d + j] = level - (levels - 1) / 2;
        }
      return { data: y, dim: d };
    },
  },
  sign: {
    citation: 'one bit per dimension, the sign (binarised embeddings)',
    comparison: 'hamming',
    defaults: () => ({}),
    check: () => undefined,
    apply: (key, x) => ({ data: bits(x), dim: key.dim }),
  },
  project: {
    citation:
      'a user-keyed random projection to d′ dimensions with orthonormal rows (Johnson–Lindenstrauss; cancellable biometrics, Ratha et al., 2001)',
    comparison: 'cosine',
    defaults: (dim) => ({ dim: Math.floor(dim / 2) }),
    check: (o, dim) => need(intIn(o.dim, 1, dim), `project: dim must be an integer in [1, ${dim}], got ${o.dim}`),
    apply: (key, x, n) => {
      const out = key.options.dim as number;
      const m = orthonormalRows(out, key.dim, key.seed);
      return { data: normalizeRows(applyMatrix(m, out, x, n, key.dim), out), dim: out };
    },
  },
  biohash: {
    citation:
      'BioHashing: a token-seeded orthonormal projection, each coordinate thresholded at 0 into a bit (Teoh, Goh & Ngo, "Random multispace quantization as an analytic mechanism for BioHashing of biometric and random identity inputs", IEEE TPAMI 2006)',
    comparison: 'hamming',
    defaults: (dim) => ({ bits: Math.floor(dim / 2) }),
    check: (o, dim) => need(intIn(o.bits, 1, dim), `biohash: bits must be an integer in [1, ${dim}], got ${o.bits}`),
    apply: (key, x, n) => {
      const out = key.options.bits as number;
      return { data: bits(applyMatrix(orthonormalRows(out, key.dim, key.seed), out, x, n, key.dim)), dim: out };
    },
  },
  mlphash: {
    citation:
      'MLP-Hash: a user-seeded multi-layer perceptron with random weights and ReLU, its output binarised at 0 (Shahreza, Hahn & Marcel, "MLP-Hash: Protecting face templates via hashing of randomized multi-layer perceptron", EUSIPCO 2023)',
    comparison: 'hamming',
    defaults: (dim) => ({ layers: `${2 * dim}x${dim}` }),
    check: (o) =>
      need(
        (typeof o.layers === 'string' || typeof o.layers === 'number') &&
          String(o.layers)
            .split('x')
            .every((w) => intIn(Number(w), 1, 65536)),
        `mlphash: layers must be widths joined by x, e.g. 1024x512, got ${o.layers}`,
      ),
    apply: (key, x, n) => {
      const widths = String(key.options.layers).split('x').map(Number);
      let h = x;
      let d = key.dim;
      widths.forEach((w, l) => {
        const m = gaussians(w * d, mixSeed(key.seed, l));
        const y = applyMatrix(m, w, h, n, d);
        h = l < widths.length - 1 ? y.map((v) => Math.max(0, v)) : y;
        d = w;
      });
      return { data: bits(h), dim: d };
    },
  },
  polyprotect: {
    citation:
      'PolyProtect: each output is Σₖ cₖ·v_{i·s+k}^{eₖ} over a window of m consecutive embedding values (step s = m − overlap), with user-specific non-zero integer coefficients in [−50, 50] and a permutation of the exponents 1…m (Hahn & Marcel, "Towards protecting face embeddings in mobile face verification scenarios", IEEE T-BIOM 2022)',
    comparison: 'cosine',
    defaults: () => ({ window: 5, overlap: 2 }),
    check: (o, dim) => {
      need(intIn(o.window, 2, dim), `polyprotect: window must be an integer in [2, ${dim}], got ${o.window}`);
      need(
        intIn(o.overlap, 0, (o.window as number) - 1),
        `polyprotect: overlap must be an integer in [0, window − 1], got ${o.overlap}`,
      );
    },
    apply: (key, x, n) => {
      const { c, e } = polyKey(key);
      const m = c.length;
      const step = m - (key.options.overlap as number);
      const windows = Math.ceil(Math.max(0, key.dim - m) / step) + 1;
      const y = new Float32Array(n * windows);
      for (let r = 0; r < n; r++)
        for (let i = 0; i < windows; i++) {
          let s = 0;
          for (let k = 0; k < m; k++) {
            const j = i * step + k;
            // The last window is padded with zeros.
            if (j < key.dim) s += c[k] * x[r * key.dim + j] ** e[k];
          }
          y[r * windows + i] = s;
        }
      return { data: y, dim: windows };
    },
  },
};

/** PolyProtect's coefficients (non-zero integers in [−50, 50]) and exponents (a permutation of 1…m) from the key's seed. */
export function polyKey(key: ProtectionKey): { c: number[]; e: number[] } {
  const rng = new Mulberry32(mixSeed(key.seed, 0x9017));
  const m = key.options.window as number;
  const c = Array.from({ length: m }, () => {
    const v = rng.int(1, 50);
    return rng.chance(0.5) ? v : -v;
  });
  const e = Array.from({ length: m }, (_, i) => i + 1);
  for (let i = m - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [e[i], e[j]] = [e[j], e[i]];
  }
  return { c, e };
}

export function schemeInfo(name: SchemeName): { citation: string; comparison: Comparison } {
  return { citation: SCHEMES[name].citation, comparison: SCHEMES[name].comparison };
}

/** Checks `options` of `scheme` for templates of dimension `dim` (unknown or bad ones refused); returns them over the defaults. */
export function checkSchemeOptions(
  scheme: SchemeName,
  dim: number,
  options: Record<string, number | string> = {},
): Record<string, number | string> {
  const s = SCHEMES[scheme];
  if (!s) throw new ArcinvertError(`unknown protection scheme '${scheme}': one of ${SCHEME_NAMES.join(', ')}`);
  const defaults = s.defaults(dim);
  for (const k of Object.keys(options))
    if (!(k in defaults))
      throw new ArcinvertError(
        `${scheme}: unknown option '${k}' (options: ${Object.keys(defaults).join(', ') || 'none'})`,
      );
  const o = { ...defaults, ...options };
  s.check(o, dim);
  return o;
}

/**
 * A key for `scheme` on templates of dimension `dim`: `options` over the scheme's defaults
 * (unknown ones refused), checked; quantisation fits its thresholds on `enrolment` rows.
 */
export function makeKey(
  scheme: SchemeName,
  dim: number,
  seed: number,
  options: Record<string, number | string> = {},
  enrolment?: { data: Float32Array; n: number },
): ProtectionKey {
  const s = SCHEMES[scheme];
  const o = checkSchemeOptions(scheme, dim, options);
  const key: ProtectionKey = { format: 'arcinvert-protection-key/1', scheme, dim, seed, options: o };
  if (s.fit) {
    if (o.mode === 'quantile' && (!enrolment || enrolment.n < 2 ** (o.bits as number)))
      throw new ArcinvertError(
        `${scheme}: quantile thresholds need enrolment templates (at least ${2 ** (o.bits as number)})`,
      );
    key.fitted = s.fit(o, enrolment?.data ?? new Float32Array(0), enrolment?.n ?? 0, dim);
  }
  return key;
}

/** Checks a key read from a file (one line naming the problem). */
export function checkKey(key: unknown, source: string): ProtectionKey {
  const k = key as ProtectionKey;
  if (
    k?.format !== 'arcinvert-protection-key/1' ||
    !SCHEME_NAMES.includes(k.scheme) ||
    !Number.isInteger(k.dim) ||
    k.dim < 1 ||
    !Number.isInteger(k.seed) ||
    typeof k.options !== 'object' ||
    k.options === null
  )
    throw new ArcinvertError(`${source} is not an arcinvert protection key`);
  const s = SCHEMES[k.scheme];
  const known = Object.keys(s.defaults(k.dim));
  const unknown = Object.keys(k.options).find((o) => !known.includes(o));
  if (unknown !== undefined || known.some((o) => !(o in k.options)))
    throw new ArcinvertError(`${source}: the ${k.scheme} key's options must be exactly ${known.join(', ') || 'none'}`);
  s.check(k.options, k.dim);
  if (s.fit) {
    const t = k.fitted?.thresholds;
    const want = k.dim * (2 ** (k.options.bits as number) - 1);
    if (!Array.isArray(t) || t.length !== want || !t.every((v) => typeof v === 'number' && Number.isFinite(v)))
      throw new ArcinvertError(`${source}: the ${k.scheme} key needs ${want} finite fitted thresholds`);
  }
  return k;
}

/**
 * Protects the `n` rows of `x` [n, key.dim] with `key`. `draws` seeds what is random per call
 * rather than per key (only `noise` has any): a fresh random value by default; pass one for a
 * reproducible evaluation.
 */
export function protect(
  key: ProtectionKey,
  x: Float32Array,
  n: number,
  draws: number = randomInt(0x7fffffff),
): Protected {
  if (x.length !== n * key.dim)
    throw new ArcinvertError(
      `templates have dimension ${x.length / n}, the ${key.scheme} key is for dimension ${key.dim}`,
    );
  const { data, dim } = SCHEMES[key.scheme].apply(key, x, n, draws);
  return { data, n, dim, comparison: SCHEMES[key.scheme].comparison };
}

/**
 * A scheme with options as one string, `name[:key=value…]`, e.g. `biohash:bits=256`,
 * `quantize:bits=2:mode=uniform`, `mlphash:layers=1024x512`.
 */
export function parseSchemeSpec(spec: string): { scheme: SchemeName; options: Record<string, number | string> } {
  const [name, ...pairs] = spec.split(':');
  if (!SCHEME_NAMES.includes(name as SchemeName))
    throw new ArcinvertError(`unknown protection scheme '${name}' in '${spec}': one of ${SCHEME_NAMES.join(', ')}`);
  const options: Record<string, number | string> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z]+)=(.+)$/.exec(p);
    if (!m) throw new ArcinvertError(`scheme options are key=value, got '${p}' in '${spec}'`);
    const n = Number(m[2]);
    options[m[1]] = Number.isFinite(n) && m[2].trim() !== '' ? n : m[2];
  }
  return { scheme: name as SchemeName, options };
}

/** Similarity of row `i` of `a` and row `j` of `b` (same scheme): cosine, or 1 − Hamming distance / bits. */
export function similarity(a: Protected, i: number, b: Protected, j: number): number {
  const d = a.dim;
  if (a.comparison === 'hamming') {
    let diff = 0;
    for (let k = 0; k < d; k++) if (a.data[i * d + k] !== b.data[j * d + k]) diff++;
    return 1 - diff / d;
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < d; k++) {
    dot += a.data[i * d + k] * b.data[j * d + k];
    na += a.data[i * d + k] ** 2;
    nb += b.data[j * d + k] ** 2;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
