/**
 * The classifier head's weight files inside a model directory: a raw little-endian float32
 * `.bin` (the [D, C·K] centres, then the [D, T] distillation projection if any) plus a `.json`
 * with the shapes (`HeadWeightsMeta`), each written to a temporary file and renamed into place
 * (atomic on POSIX). The head itself (ArcFace Sec. 2.1) is `arcface/head.ts`.
 */
import { promises as fsp } from 'node:fs';
import { endianness } from 'node:os';
import { ArcFaceHead } from '../arcface/head.js';
import { ArcinvertError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';

/** Contents of the `.json` written beside the weights. */
export interface HeadWeightsMeta {
  format: 'arcinvert-head';
  dtype: 'float32';
  /** [D, C·K]. */
  shape: [number, number];
  numClasses: number;
  k: number;
  /** [D, T] of the distillation projection, stored after the centres in the `.bin`; absent = none. */
  projection?: [number, number];
}

/** Float32Array views use the host byte order; the file format is little-endian. */
function ensureLittleEndian(): void {
  if (endianness() !== 'LE') throw new ArcinvertError('head weight files need a little-endian host');
}

/**
 * Writes `<basePath>.bin` (raw float32, little-endian, row-major [D, C·K]) and then
 * `<basePath>.json` (`HeadWeightsMeta`); each lands by an atomic rename.
 */
export async function saveHeadWeights(head: ArcFaceHead, basePath: string): Promise<void> {
  ensureLittleEndian();
  const centres = (await head.weight.data()) as Float32Array;
  const proj = head.projection ? ((await head.projection.data()) as Float32Array) : new Float32Array(0);
  const values = new Float32Array(centres.length + proj.length);
  values.set(centres);
  values.set(proj, centres.length);
  const meta: HeadWeightsMeta = {
    format: 'arcinvert-head',
    dtype: 'float32',
    shape: [head.config.embeddingDim, head.config.numClasses * head.config.k],
    numClasses: head.config.numClasses,
    k: head.config.k,
    ...(head.projection
      ? { projection: [head.config.embeddingDim, head.config.projectionDim] as [number, number] }
      : {}),
  };
  await writeFileAtomic(`${basePath}.bin`, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  await writeFileAtomic(`${basePath}.json`, `${JSON.stringify(meta, null, 2)}\n`);
}

/**
 * Reads weights written by `saveHeadWeights`.
 * @throws ArcinvertError if a file is missing, the JSON is malformed, or the sizes disagree.
 */
export async function loadHeadWeights(
  basePath: string,
): Promise<{ meta: HeadWeightsMeta; values: Float32Array; projection: Float32Array | null }> {
  ensureLittleEndian();
  let meta: HeadWeightsMeta;
  let bytes: Buffer;
  try {
    meta = JSON.parse(await fsp.readFile(`${basePath}.json`, 'utf8')) as HeadWeightsMeta;
    bytes = await fsp.readFile(`${basePath}.bin`);
  } catch (err) {
    throw new ArcinvertError(`cannot read head weights ${basePath}.{json,bin}: ${(err as Error).message}`);
  }
  const shape = meta?.shape;
  if (
    meta?.format !== 'arcinvert-head' ||
    meta.dtype !== 'float32' ||
    !Array.isArray(shape) ||
    shape.length !== 2 ||
    !shape.every((n) => Number.isInteger(n) && n > 0) ||
    shape[1] !== meta.numClasses * meta.k ||
    (meta.projection !== undefined &&
      !(
        Array.isArray(meta.projection) &&
        meta.projection.length === 2 &&
        meta.projection[0] === shape[0] &&
        Number.isInteger(meta.projection[1]) &&
        meta.projection[1] > 0
      ))
  ) {
    throw new ArcinvertError(`${basePath}.json is not an arcinvert head description`);
  }
  const n = shape[0] * shape[1];
  const np = meta.projection ? meta.projection[0] * meta.projection[1] : 0;
  if (bytes.byteLength !== (n + np) * 4) {
    throw new ArcinvertError(`${basePath}.bin has ${bytes.byteLength} bytes, expected ${(n + np) * 4}`);
  }
  const all = new Float32Array(n + np);
  new Uint8Array(all.buffer).set(bytes);
  return { meta, values: all.subarray(0, n), projection: np > 0 ? all.subarray(n) : null };
}

/** Builds a head from saved weights (the seed/initStd of `config` are irrelevant then). */
export async function loadArcFaceHead(basePath: string): Promise<ArcFaceHead> {
  const { meta, values, projection } = await loadHeadWeights(basePath);
  return new ArcFaceHead(
    { embeddingDim: meta.shape[0], numClasses: meta.numClasses, k: meta.k, projectionDim: meta.projection?.[1] ?? 0 },
    values,
    projection ?? undefined,
  );
}
