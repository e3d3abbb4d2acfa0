/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), limited to what arcinvert exchanges:
 * 1-D and 2-D float arrays, i.e. embedding vectors and matrices.
 *
 * Layout (numpy.lib.format): magic "\x93NUMPY", major/minor version bytes, header length
 * (uint16 LE in v1, uint32 LE in v2/v3), a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }` padded with spaces and a
 * newline so the data starts on a 64-byte boundary, then the raw C-order data.
 * Reading accepts '<f2' '<f4' '<f8' and their big-endian forms (and '=' / '|' meaning native
 * order, as NumPy does); float16, float64 and big-endian data are converted to float32. Writing
 * produces exactly the bytes `np.save` writes for a C-order float32 array, or for the same array
 * cast to float16 (`astype(np.float16)`: round to nearest, ties to even).
 */

import { endianness } from 'node:os';

import { ArcinvertError } from '../errors.js';
import { readFileChecked, writeFileAtomic } from './atomic.js';

/** A decoded .npy array: float32 data in C order. */
export interface NpyArray {
  /** Row-major values, `shape.reduce(*)` long. */
  data: Float32Array;
  /** `[n]` or `[rows, cols]`. */
  shape: number[];
  /** The element type stored in the file (float16 is widened, float64 narrowed, to float32 in `data`). */
  dtype: NpyDtype;
}

/** The element types a .npy file may hold here. */
export type NpyDtype = 'float16' | 'float32' | 'float64';

/** Embeddings ready for comparison: `n` rows of length `dim`, each with unit L2 norm. */
export interface Embeddings {
  /** `[n, dim]` row-major. */
  data: Float32Array;
  n: number;
  dim: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** NumPy pads the header so that the data starts on this boundary. */
const ARRAY_ALIGN = 64;
/** NumPy leaves room for the leading axis to grow to this many digits in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;
const HOST_LITTLE = endianness() === 'LE';

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** IEEE 754 binary16 bits → the number they hold (exactly representable in float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/**
 * A float32 value → IEEE 754 binary16 bits, rounded to nearest with ties to even, as NumPy's
 * `astype(np.float16)`: overflow gives ±Inf, values below half the smallest subnormal ±0.
 */
export function floatToHalf(x: number): number {
  F32[0] = x;
  const b = U32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal (or zero) in half precision: |x| / 2⁻²⁴ rounded, exact in a double.
    const v = Math.abs(F32[0]) * 2 ** 24;
    let r = Math.floor(v);
    const f = v - r;
    if (f > 0.5 || (f === 0.5 && r & 1)) r++;
    return sign | r;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) m++;
  return sign | ((e << 10) + m); // a carry out of the mantissa bumps the exponent (up to Inf)
}

type PyValue = string | number | boolean | null | PyValue[];

/** Formats a shape as Python's `repr` of a tuple: `()`, `(4,)`, `(2, 3)`. */
export function pyShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Describes a descr for messages: '<i4' → "'<i4' (int32)". */
function describeDescr(descr: string): string {
  const m = /^[<>|=]([fiucb])(\d+)$/.exec(descr);
  if (!m) return `'${descr}'`;
  const kind = { f: 'float', i: 'int', u: 'uint', c: 'complex', b: 'bool' }[m[1] as 'f'];
  return `'${descr}' (${kind === 'bool' ? 'bool' : kind + Number(m[2]) * 8})`;
}

/**
 * Parses the header's Python dict literal into its key/value pairs. Supports exactly the
 * literals NumPy writes: strings, True/False/None, integers, tuples and lists.
 */
function parseHeaderDict(text: string): Map<string, PyValue> {
  const tokens = text.match(/'[^']*'|"[^"]*"|-?\d+|[A-Za-z_]+|[{}()[\]:,]|\S/g) ?? [];
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(what);
  };
  const expect = (t: string) => (tokens[i++] === t ? undefined : fail(`expected '${t}'`));
  const value = (): PyValue => {
    const t = tokens[i++] ?? fail('unexpected end');
    if (t[0] === "'" || t[0] === '"') return t.slice(1, -1);
    if (/^-?\d+$/.test(t)) return Number(t);
    if (t === 'True' || t === 'False') return t === 'True';
    if (t === 'None') return null;
    if (t === '(' || t === '[') {
      const close = t === '(' ? ')' : ']';
      const items: PyValue[] = [];
      while (tokens[i] !== close) {
        items.push(value());
        if (tokens[i] === ',') i++;
        else if (tokens[i] !== close) fail(`expected ',' or '${close}'`);
      }
      i++;
      return items;
    }
    return fail(`unexpected ${JSON.stringify(t)}`);
  };
  const dict = new Map<string, PyValue>();
  expect('{');
  while (tokens[i] !== '}') {
    const key = value();
    if (typeof key !== 'string') fail('dict key is not a string');
    expect(':');
    dict.set(key as string, value());
    if (tokens[i] === ',') i++;
    else if (tokens[i] !== '}') fail("expected ',' or '}'");
  }
  if (++i !== tokens.length) fail('text after the dict');
  return dict;
}

/** The header of a .npy file: its text, its parsed dict, and where the data starts. */
function readNpyHeader(
  bytes: Uint8Array,
  source: string,
): { header: string; dict: Map<string, PyValue>; dataStart: number } {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    throw new ArcinvertError(`${source} is not a NumPy .npy file (bad magic bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  if (major < 1 || major > 3) {
    throw new ArcinvertError(`${source} uses .npy format version ${major}.${bytes[7]}; supported are 1.0, 2.0 and 3.0`);
  }
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new ArcinvertError(`${source} has a corrupt .npy header (file too short)`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > bytes.length) {
    throw new ArcinvertError(
      `${source} has a corrupt .npy header (header length ${headerLen} exceeds the file size ${bytes.length})`,
    );
  }
  const headerBytes = bytes.subarray(8 + lenBytes, dataStart);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes);

  let dict: Map<string, PyValue>;
  try {
    dict = parseHeaderDict(header);
  } catch (err) {
    throw new ArcinvertError(`${source} has a corrupt .npy header (${(err as Error).message})`);
  }
  return { header, dict, dataStart };
}

/**
 * Decodes a .npy file held in memory.
 *
 * @param bytes the whole file.
 * @param source the file name used in error messages.
 * @param opts.maxRank the highest rank accepted (default 2: embeddings; 4 for image batches).
 * @returns float32 data in C order, the shape (`[n]` or `[rows, cols]`) and the stored dtype.
 * @throws ArcinvertError (one line, naming `source`) for anything other than a complete
 *   1-D/2-D C-order float32/float64 array.
 */
export function parseNpy(bytes: Uint8Array, source = '<buffer>', opts: { maxRank?: number } = {}): NpyArray {
  const { header, dict, dataStart } = readNpyHeader(bytes, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (typeof descr !== 'string' && !Array.isArray(descr)) {
    throw new ArcinvertError(`${source} has a corrupt .npy header (missing 'descr')`);
  }
  if (typeof fortran !== 'boolean') {
    throw new ArcinvertError(`${source} has a corrupt .npy header (missing 'fortran_order')`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && d >= 0)) {
    throw new ArcinvertError(`${source} has a corrupt .npy header (missing or invalid 'shape')`);
  }
  const dims = shape as number[];

  const m = typeof descr === 'string' ? /^([<>|=])f([248])$/.exec(descr) : null;
  if (!m) {
    const what = typeof descr === 'string' ? describeDescr(descr) : 'a structured dtype';
    throw new ArcinvertError(
      `${source} has dtype ${what}; only float16, float32 and float64 ('<f2', '<f4', '<f8') are supported`,
    );
  }
  if (fortran) {
    throw new ArcinvertError(`${source} is stored in Fortran order; re-save it in C order (np.ascontiguousarray)`);
  }
  const maxRank = opts.maxRank ?? 2;
  if (dims.length < 1 || dims.length > maxRank) {
    throw new ArcinvertError(
      `${source} has shape ${pyShape(dims)}; expected ${maxRank === 2 ? 'a 1-D vector or a 2-D matrix' : `an array of rank 1–${maxRank}`}`,
    );
  }

  const itemSize = Number(m[2]);
  const dtype = ({ 2: 'float16', 4: 'float32', 8: 'float64' } as const)[itemSize as 2 | 4 | 8];
  const little = m[1] === '<' || (m[1] !== '>' && HOST_LITTLE);
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * itemSize;
  const actual = bytes.length - dataStart;
  if (!Number.isSafeInteger(expected)) {
    const shapeText = /'shape'\s*:\s*(\([^)]*\))/.exec(header)?.[1].replace(/\s+/g, ' ') ?? pyShape(dims);
    throw new ArcinvertError(
      `${source} has a corrupt .npy header: shape ${shapeText} ${dtype} is far larger than the file's ${actual} data bytes`,
    );
  }
  if (actual < expected) {
    throw new ArcinvertError(
      `${source} is truncated: expected ${expected} data bytes for shape ${pyShape(dims)} ${dtype}, found ${actual}`,
    );
  }
  if (actual > expected) {
    throw new ArcinvertError(
      `${source} has ${actual - expected} unexpected bytes after the data for shape ${pyShape(dims)} ${dtype}`,
    );
  }

  const data = new Float32Array(count);
  for (let k = 0, off = dataStart; k < count; k++, off += itemSize) {
    data[k] =
      itemSize === 4
        ? view.getFloat32(off, little)
        : itemSize === 8
          ? view.getFloat64(off, little)
          : halfToFloat(view.getUint16(off, little));
  }
  return { data, shape: dims.slice(), dtype };
}

/** Reads and decodes a .npy file; see `parseNpy` for what is accepted. */
export async function readNpy(file: string, opts: { maxRank?: number } = {}): Promise<NpyArray> {
  return parseNpy(await readFileChecked(file, '.npy file', 'npy'), file, opts);
}

/**
 * Encodes a float32 array as a .npy v1.0 file, byte-identical to `np.save` of a C-order
 * '<f4' array of the same shape (same header text, growth padding and 64-byte alignment), or
 * with `dtype` 'float16' of that array `.astype(np.float16)` ('<f2', half the bytes).
 *
 * @param data row-major values, `shape.reduce(*)` long.
 * @param shape any shape of non-negative integers (`[]` for a scalar).
 */
export function encodeNpy(
  data: Float32Array,
  shape: readonly number[],
  dtype: 'float32' | 'float16' = 'float32',
): Uint8Array {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ArcinvertError(`cannot encode .npy: invalid shape [${shape.join(', ')}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new ArcinvertError(`cannot encode .npy: shape ${pyShape(shape)} needs ${count} values, got ${data.length}`);
  }
  const itemSize = dtype === 'float16' ? 2 : 4;
  let header = `{'descr': '<f${itemSize}', 'fortran_order': False, 'shape': ${pyShape(shape)}, }`;
  if (shape.length > 0) header += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  // Same arithmetic as numpy.lib.format._wrap_header (a full 64 spaces when already aligned).
  const padLen = ARRAY_ALIGN - ((MAGIC.length + 2 + 2 + header.length + 1) % ARRAY_ALIGN);
  header += ' '.repeat(padLen) + '\n';
  if (header.length > 0xffff) throw new ArcinvertError(`cannot encode .npy: shape ${pyShape(shape)} is too long`);

  const out = new Uint8Array(10 + header.length + data.length * itemSize);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  view.setUint16(8, header.length, true);
  for (let k = 0; k < header.length; k++) out[10 + k] = header.charCodeAt(k);
  const dataStart = 10 + header.length;
  if (itemSize === 4) for (let k = 0; k < data.length; k++) view.setFloat32(dataStart + 4 * k, data[k], true);
  else for (let k = 0; k < data.length; k++) view.setUint16(dataStart + 2 * k, floatToHalf(data[k]), true);
  return out;
}

/** Writes `data` with `shape` as a float32 (or float16) .npy file, atomically (see `writeFileAtomic`). */
export async function writeNpy(
  file: string,
  data: Float32Array,
  shape: readonly number[],
  dtype: 'float32' | 'float16' = 'float32',
): Promise<void> {
  await writeFileAtomic(file, encodeNpy(data, shape, dtype));
}

/**
 * Validates a decoded array as embeddings and L2-normalises its rows.
 * A 1-D array is one embedding; a 2-D array `[n, dim]` is `n` embeddings.
 *
 * @param opts.dim the model's embedding size; a different dimension is rejected.
 * @throws ArcinvertError when empty, of the wrong dimension, or when a row (0-based index in the
 *   message) holds NaN/Inf or is all zeros.
 */
export function embeddingsFromNpy(array: NpyArray, source: string, opts: { dim?: number } = {}): Embeddings {
  const [n, dim] = array.shape.length === 1 ? [1, array.shape[0]] : [array.shape[0], array.shape[1]];
  if (n === 0 || dim === 0) {
    throw new ArcinvertError(`${source} holds no embeddings (shape ${pyShape(array.shape)})`);
  }
  if (opts.dim !== undefined && dim !== opts.dim) {
    throw new ArcinvertError(`${source} has dimension ${dim} but the model's embedding size is ${opts.dim}`);
  }
  const data = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    const row = array.data.subarray(r * dim, (r + 1) * dim);
    let sumSq = 0;
    for (let c = 0; c < dim; c++) {
      if (!Number.isFinite(row[c])) {
        throw new ArcinvertError(`${source} row ${r} (0-based) has a non-finite value (${row[c]}) at column ${c}`);
      }
      sumSq += row[c] * row[c];
    }
    if (sumSq === 0) throw new ArcinvertError(`${source} row ${r} (0-based) is a zero vector and cannot be normalised`);
    const inv = 1 / Math.sqrt(sumSq);
    for (let c = 0; c < dim; c++) data[r * dim + c] = row[c] * inv;
  }
  return { data, n, dim };
}

/**
 * Reads target embeddings from a .npy file: a 1-D vector (one embedding) or a 2-D matrix
 * `[n, dim]`, float32 or float64. Rows are returned L2-normalised; see `embeddingsFromNpy`.
 */
export async function readEmbeddings(file: string, opts: { dim?: number } = {}): Promise<Embeddings> {
  return embeddingsFromNpy(await readNpy(file), file, opts);
}
