/** The convolution cases shared by the engine's kernel tests. */
import * as tf from '@tensorflow/tfjs';

export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
export type Rounding = 'floor' | 'round' | 'ceil';
export interface Case {
  n: number;
  h: number;
  w: number;
  c: number;
  k: number;
  stride: number;
  pad: Pad;
  /** Output channels for conv2d, channel multiplier for depthwise. */
  out: number;
  rounding?: Rounding;
}

export function outShape(c: Case, filterShape: number[], depthwise: boolean): number[] {
  return tf.backend_util.computeConv2DInfo(
    [c.n, c.h, c.w, c.c],
    filterShape as [number, number, number, number],
    c.stride,
    1,
    c.pad,
    c.rounding,
    depthwise,
  ).outShape;
}

/** kernel 1/3/5/7 × stride 1/2 × same/valid × three shape variants, plus odd paddings. */
export function cases(depthwise: boolean): Case[] {
  const variants = (k: number): Omit<Case, 'k' | 'stride' | 'pad'>[] => [
    { n: 1, h: k + 4, w: k + 4, c: 3, out: depthwise ? 1 : 4 },
    { n: 2, h: 9, w: 7, c: depthwise ? 2 : 1, out: 2 },
    { n: 3, h: 8, w: 11, c: depthwise ? 4 : 5, out: depthwise ? 2 : 3 },
  ];
  const out: Case[] = [];
  for (const k of [1, 3, 5, 7]) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        for (const v of variants(k)) out.push({ ...v, k, stride, pad });
      }
    }
  }
  out.push(
    // tfjs-core's Conv2D gradient drops dimRoundingMode (the cpu reference then misreads
    // dy), so conv2d's 'ceil' case is checked separately in wasmGradKernels.test.ts.
    { n: 2, h: 8, w: 9, c: 3, out: 2, k: 3, stride: 2, pad: 1, rounding: depthwise ? 'ceil' : 'floor' },
    { n: 1, h: 7, w: 10, c: 2, out: 2, k: 5, stride: 2, pad: 2, rounding: 'floor' },
    {
      n: 2,
      h: 7,
      w: 7,
      c: 2,
      out: 1,
      k: 3,
      stride: 1,
      pad: [
        [0, 0],
        [2, 0],
        [1, 2],
        [0, 0],
      ],
    },
    {
      n: 1,
      h: 9,
      w: 8,
      c: 3,
      out: 2,
      k: 3,
      stride: 2,
      pad: [
        [0, 0],
        [0, 1],
        [1, 1],
        [0, 0],
      ],
    },
    // Stride 3: phases with one tap, and (kernel 2 < stride 3) phases with none.
    { n: 2, h: 10, w: 11, c: 3, out: 2, k: 3, stride: 3, pad: 'same' },
    { n: 1, h: 10, w: 11, c: 2, out: 3, k: 2, stride: 3, pad: 'valid' },
  );
  return out;
}

export const label = (c: Case): string =>
  `n${c.n} ${c.h}x${c.w}x${c.c} k${c.k} s${c.stride} pad=${JSON.stringify(c.pad)}` +
  `${c.rounding ? `/${c.rounding}` : ''} out=${c.out}`;
