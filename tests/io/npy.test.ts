/**
 * Tests for src/io/npy.ts against files written by NumPy 2.4 (`np.save`, see
 * tests/fixtures/make_npy_fixtures.py): decoding, byte-identical encoding, one-line errors and
 * the embedding loader.
 */

import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ArcinvertError } from '../../src/errors.js';
import {
  embeddingsFromNpy,
  encodeNpy,
  floatToHalf,
  halfToFloat,
  parseNpy,
  readEmbeddings,
  readNpy,
  writeNpy,
} from '../../src/io/npy.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/npy/', import.meta.url));
const fx = (name: string): string => path.join(FIXTURES, name);
const bytesOf = (name: string): Uint8Array => new Uint8Array(readFileSync(fx(name)));

/** The 3x4 matrix in f4_2d.npy; row norms 5, 13, 2. */
const M34 = [3, 4, 0, 0, 5, 0, 12, 0, -1, 1, -1, 1];

/** Asserts that `run` rejects with a one-line ArcinvertError matching `pattern`. */
async function expectUserError(run: () => unknown, pattern: RegExp | string): Promise<void> {
  let caught: unknown;
  try {
    await run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ArcinvertError);
  const message = (caught as Error).message;
  expect(message).not.toContain('\n');
  if (typeof pattern === 'string') expect(message).toBe(pattern);
  else expect(message).toMatch(pattern);
}

describe('parseNpy / readNpy on NumPy-written files', () => {
  test('float32 1-D', async () => {
    const a = await readNpy(fx('f4_1d.npy'));
    expect(a.shape).toEqual([4]);
    expect(a.dtype).toBe('float32');
    expect(Array.from(a.data)).toEqual([0, 3, 0, -4]);
  });

  test('float32 2-D', async () => {
    const a = await readNpy(fx('f4_2d.npy'));
    expect(a.shape).toEqual([3, 4]);
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(Array.from(a.data)).toEqual(M34);
  });

  test('float64 2-D is narrowed to float32', async () => {
    const a = await readNpy(fx('f8_2d.npy'));
    expect(a.dtype).toBe('float64');
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([0.5, -0.25, Math.fround(1e-3), 6, 8, 0]);
  });

  test('big-endian float32 and float64', async () => {
    expect(Array.from((await readNpy(fx('be_f4.npy'))).data)).toEqual(M34);
    const f8 = await readNpy(fx('be_f8.npy'));
    expect(f8.dtype).toBe('float64');
    expect(Array.from(f8.data)).toEqual([1.5, -2, 0, 3.25]);
  });

  test('float16 is widened to float32 exactly as NumPy widens it', async () => {
    const a = await readNpy(fx('f2.npy'));
    const widened = await readNpy(fx('f2_widened_f4.npy'));
    expect(a.dtype).toBe('float16');
    expect(a.shape).toEqual([4019]);
    expect(Array.from(a.data)).toEqual(Array.from(widened.data));
    // Spot values: 65519.996 rounds down to the largest half, 65520 up to Inf, 2⁻²⁵ ties to 0.
    expect(Array.from(a.data.subarray(3, 9))).toEqual([65504, 65504, Infinity, -Infinity, 2 ** -24, 0]);
    const be = await readNpy(fx('be_f2.npy'));
    expect(be.shape).toEqual([4, 4]);
    expect(Array.from(be.data)).toEqual(Array.from(widened.data.subarray(0, 16)));
  });

  test('format versions 2.0 and 3.0', async () => {
    const v2 = bytesOf('v2_f4.npy');
    expect([v2[6], v2[7]]).toEqual([2, 0]);
    expect(Array.from(parseNpy(v2).data)).toEqual(M34);
    const v3 = bytesOf('v3_f4.npy');
    expect([v3[6], v3[7]]).toEqual([3, 0]);
    expect(parseNpy(v3).shape).toEqual([4]);
  });

  test("native byte order '=' and '|' read as little-endian", () => {
    for (const order of ['=', '|']) {
      const b = bytesOf('f4_2d.npy');
      b[10 + "{'descr': '".length] = order.charCodeAt(0);
      expect(Array.from(parseNpy(b).data)).toEqual(M34);
    }
  });

  test('works on a Uint8Array view at an odd byte offset', () => {
    const raw = bytesOf('f4_2d.npy');
    const host = new Uint8Array(raw.length + 3);
    host.set(raw, 3);
    expect(Array.from(parseNpy(host.subarray(3)).data)).toEqual(M34);
  });
});

describe('parseNpy / readNpy errors', () => {
  test.each([
    ['fortran.npy', /fortran\.npy is stored in Fortran order; re-save it in C order/],
    ['i4.npy', /i4\.npy has dtype '<i4' \(int32\); only float16, float32 and float64/],
    ['f4_3d.npy', /f4_3d\.npy has shape \(2, 2, 2\); expected a 1-D vector or a 2-D matrix$/],
    ['f4_0d.npy', /f4_0d\.npy has shape \(\); expected a 1-D vector/],
    ['truncated.npy', /truncated\.npy is truncated: expected 48 data bytes for shape \(3, 4\) float32, found 44$/],
  ])('%s', async (name, pattern) => {
    await expectUserError(() => readNpy(fx(name)), pattern);
  });

  test('not an npy file', async () => {
    await expectUserError(
      () => parseNpy(new TextEncoder().encode('hello, world'), 'x.npy'),
      'x.npy is not a NumPy .npy file (bad magic bytes)',
    );
    await expectUserError(() => parseNpy(new Uint8Array(0), 'e.npy'), /^e\.npy is not a NumPy/);
  });

  test('corrupt headers', async () => {
    const good = bytesOf('f4_2d.npy');
    const mangle = (from: string, to: string): Uint8Array => {
      const text = new TextDecoder('latin1').decode(good).replace(from, to);
      return Uint8Array.from(text, (c) => c.charCodeAt(0));
    };
    await expectUserError(() => parseNpy(mangle('False', 'Fals!'), 'h.npy'), /^h\.npy has a corrupt \.npy header \(/);
    await expectUserError(() => parseNpy(mangle("'shape'", "'shapX'"), 'h.npy'), /missing or invalid 'shape'/);
    await expectUserError(() => parseNpy(mangle('(3, 4)', '(3, -4)'), 'h.npy'), /invalid 'shape'/);
    await expectUserError(() => parseNpy(mangle('}', ']'), 'h.npy'), /corrupt \.npy header/);
    // A shape whose byte count overflows: the message quotes the header's shape, not a float.
    const huge = mangle('(3, 4)', '(4611686018427387904, 4)');
    const err = await Promise.resolve()
      .then(() => parseNpy(huge, 'h.npy'))
      .catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(
      /^h\.npy has a corrupt \.npy header: shape \(4611686018427387904, 4\) float32 is far larger than the file's \d+ data bytes$/,
    );
    const longHeader = good.slice();
    longHeader[8] = 0xff;
    longHeader[9] = 0xff;
    await expectUserError(() => parseNpy(longHeader, 'h.npy'), /header length 65535 exceeds the file size 176/);
    const v4 = good.slice();
    v4[6] = 4;
    await expectUserError(
      () => parseNpy(v4, 'h.npy'),
      'h.npy uses .npy format version 4.0; supported are 1.0, 2.0 and 3.0',
    );
  });

  test('trailing bytes after the data', async () => {
    const good = bytesOf('f4_1d.npy');
    const longer = new Uint8Array(good.length + 8);
    longer.set(good);
    await expectUserError(
      () => parseNpy(longer, 't.npy'),
      /t\.npy has 8 unexpected bytes after the data for shape \(4,\) float32/,
    );
  });

  test('missing file', async () => {
    await expectUserError(
      () => readNpy(fx('nope.npy')),
      `cannot read .npy file ${fx('nope.npy')}: no such file or directory`,
    );
  });
});

describe('encodeNpy / writeNpy', () => {
  test.each([
    ['f4_1d.npy', [0, 3, 0, -4], [4]],
    ['f4_2d.npy', M34, [3, 4]],
    ['empty.npy', [], [0, 4]],
    ['f4_0d.npy', [1.5], []],
    ['f4_3d.npy', new Array(8).fill(0), [2, 2, 2]],
  ])('byte-identical to np.save: %s', (name, values, shape) => {
    expect(encodeNpy(new Float32Array(values), shape)).toEqual(bytesOf(name));
  });

  test("float16: byte-identical to np.save of NumPy's astype(np.float16), every rounding case", async () => {
    const src = await readNpy(fx('f2_source_f4.npy'));
    expect(encodeNpy(src.data, src.shape, 'float16')).toEqual(bytesOf('f2.npy'));
  });

  test('floatToHalf / halfToFloat by hand', () => {
    expect([1, -2, 65504, 2 ** -24, 2 ** -14, 0.5].map(floatToHalf)).toEqual([
      0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3800,
    ]);
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even mantissa 0
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even mantissa 2
    expect(floatToHalf(-0)).toBe(0x8000);
    expect(floatToHalf(NaN) & 0x7e00).toBe(0x7e00);
    expect([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00].map(halfToFloat)).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      1023 * 2 ** -24,
      Infinity,
      -Infinity,
    ]);
    expect(halfToFloat(0x7e00)).toBeNaN();
    for (let h = 0; h < 0x7c00; h += 7) expect(floatToHalf(halfToFloat(h))).toBe(h);
  });

  test('header is padded to 64-byte alignment', () => {
    const b = encodeNpy(new Float32Array(5 * 512), [5, 512]);
    const headerLen = b[8] | (b[9] << 8);
    expect((10 + headerLen) % 64).toBe(0);
    expect(b[10 + headerLen - 1]).toBe(0x0a);
  });

  test('rejects a shape that does not match the data', () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(
      'cannot encode .npy: shape (2, 3) needs 6 values, got 5',
    );
    expect(() => encodeNpy(new Float32Array(0), [-1])).toThrow(ArcinvertError);
  });

  test('writeNpy round trip, atomically', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-npy-'));
    try {
      const file = path.join(dir, 'emb.npy');
      const data = new Float32Array([0.1, -2.5, 3e-8, 1e30, -0, 7]);
      await writeNpy(file, data, [2, 3]);
      const back = await readNpy(file);
      expect(back.shape).toEqual([2, 3]);
      expect(back.data).toEqual(data);
      expect(await fsp.readdir(dir)).toEqual(['emb.npy']);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('readEmbeddings', () => {
  const expectRows = (data: Float32Array, rows: number[][]) => {
    expect(data.length).toBe(rows.flat().length);
    rows.flat().forEach((v, k) => expect(data[k]).toBeCloseTo(v, 6));
  };

  test('2-D float32: N rows, L2-normalised', async () => {
    const e = await readEmbeddings(fx('f4_2d.npy'), { dim: 4 });
    expect([e.n, e.dim]).toEqual([3, 4]);
    expectRows(e.data, [
      [0.6, 0.8, 0, 0],
      [5 / 13, 0, 12 / 13, 0],
      [-0.5, 0.5, -0.5, 0.5],
    ]);
  });

  test('1-D is one row; float64 is accepted', async () => {
    const v = await readEmbeddings(fx('f4_1d.npy'));
    expect([v.n, v.dim]).toEqual([1, 4]);
    expectRows(v.data, [[0, 0.6, 0, -0.8]]);
    const d = await readEmbeddings(fx('f8_2d.npy'));
    expect([d.n, d.dim]).toEqual([2, 3]);
    expectRows(d.data.subarray(3), [[0.6, 0.8, 0]]);
  });

  test('dimension mismatch names the file and both sizes', async () => {
    await expectUserError(
      () => readEmbeddings(fx('f4_2d.npy'), { dim: 512 }),
      `${fx('f4_2d.npy')} has dimension 4 but the model's embedding size is 512`,
    );
    await expectUserError(
      () => embeddingsFromNpy(parseNpy(encodeNpy(new Float32Array(128).fill(1), [128])), 'vec.npy', { dim: 512 }),
      "vec.npy has dimension 128 but the model's embedding size is 512",
    );
  });

  test('NaN, Inf and zero rows are reported by row', async () => {
    await expectUserError(
      () => readEmbeddings(fx('nan.npy')),
      /nan\.npy row 1 \(0-based\) has a non-finite value \(NaN\) at column 2$/,
    );
    await expectUserError(
      () => readEmbeddings(fx('inf.npy')),
      /inf\.npy row 2 \(0-based\) has a non-finite value \(-Infinity\) at column 0$/,
    );
    await expectUserError(() => readEmbeddings(fx('zero_row.npy')), /zero_row\.npy row 2 \(0-based\) is a zero vector/);
  });

  test('empty and non-float files are rejected', async () => {
    await expectUserError(() => readEmbeddings(fx('empty.npy')), /empty\.npy holds no embeddings \(shape \(0, 4\)\)$/);
    await expectUserError(() => readEmbeddings(fx('i4.npy')), /dtype '<i4'/);
  });
});
