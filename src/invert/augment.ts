/**
 * Augmentation of the images being optimised (DeepInversion: random roll jitter and random
 * horizontal flip each step; feature visualisation's transformation robustness adds a random
 * zoom; Plug-In Inversion adds a random colour shift), so that the solution does not depend on
 * exact pixel positions, scale or colour balance.
 * The random choices are drawn by the caller from a seeded `Rng` and passed in: these
 * functions are pure.
 */
import * as tf from '@tensorflow/tfjs';
import { resizeBilinear } from '../engine/resize.js';
import type { Mulberry32 } from '../util/random.js';

/** One step's augmentation: a zoom about the centre, a circular shift (rows, columns) and whether to mirror. */
export interface Augmentation {
  dy: number;
  dx: number;
  flip: boolean;
  /** Zoom factor (absent or 1: none). */
  scale?: number;
  /** Colour shift (absent: none): per channel, pixels become x·gain[c] + offset[c]. */
  gain?: [number, number, number];
  offset?: [number, number, number];
}

/**
 * Draws a step's augmentation: shifts uniform in [−jitter, jitter], flip with p = 0.5; when
 * `scaleJitter` > 0, a zoom uniform in [1 − scaleJitter, 1 + scaleJitter]; when `colourShift`
 * > 0, Plug-In Inversion's ColorShift (Ghiasi et al. 2022): per channel a gain e^u and an
 * offset v, u and v uniform in [−colourShift, colourShift]. Each optional part is drawn after
 * the ones before it, so runs without it draw what they always drew.
 */
export function drawAugmentation(
  rng: Mulberry32,
  jitter: number,
  flip: boolean,
  scaleJitter = 0,
  colourShift = 0,
): Augmentation {
  const a: Augmentation = { dy: rng.int(-jitter, jitter), dx: rng.int(-jitter, jitter), flip: flip && rng.chance(0.5) };
  if (scaleJitter > 0) a.scale = 1 + (2 * rng.next() - 1) * scaleJitter;
  if (colourShift > 0) {
    const u = (): number => (2 * rng.next() - 1) * colourShift;
    a.gain = [Math.exp(u()), Math.exp(u()), Math.exp(u())];
    a.offset = [u(), u(), u()];
  }
  return a;
}

/**
 * Zoom about the centre by `scale`, keeping the size: bilinear resize (half-pixel centres,
 * exact gradient) to round(scale·size),
 * then the centre crop (zoom in) or a grey (0) border (zoom out).
 */
export function zoom(x: tf.Tensor4D, scale: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  const nh = Math.max(1, Math.round(h * scale));
  const nw = Math.max(1, Math.round(w * scale));
  if (nh === h && nw === w) return x;
  return tf.tidy(() => {
    const r = resizeBilinear(x, [nh, nw]);
    const oy = Math.floor((nh - h) / 2);
    const ox = Math.floor((nw - w) / 2);
    // Crop what is larger, pad what is smaller (each axis on its own).
    const cropped = tf.slice(r, [0, Math.max(0, oy), Math.max(0, ox), 0], [-1, Math.min(nh, h), Math.min(nw, w), -1]);
    const py = Math.max(0, h - nh);
    const px = Math.max(0, w - nw);
    return tf.pad(cropped, [
      [0, 0],
      [Math.floor(py / 2), py - Math.floor(py / 2)],
      [Math.floor(px / 2), px - Math.floor(px / 2)],
      [0, 0],
    ]) as tf.Tensor4D;
  });
}

/** Circular shift along `axis` by `shift` (torch.roll): out[i] = x[(i − shift) mod n]. */
export function roll(x: tf.Tensor4D, shift: number, axis: 1 | 2): tf.Tensor4D {
  const n = x.shape[axis];
  const s = ((shift % n) + n) % n;
  if (s === 0) return x;
  return tf.tidy(() => {
    const [head, tail] = tf.split(x, [n - s, s], axis);
    return tf.concat([tail, head], axis) as tf.Tensor4D;
  });
}

/**
 * Applies an augmentation to a batch.
 *
 * @param x [B, H, W, 3] when the augmentation shifts colour, else [B, H, W, C].
 * @returns [B, H, W, C], zoomed, shifted, maybe mirrored, then colour-shifted (differentiable).
 */
export function augment(x: tf.Tensor4D, a: Augmentation): tf.Tensor4D {
  return tf.tidy(() => {
    const zoomed = a.scale === undefined || a.scale === 1 ? x : zoom(x, a.scale);
    const shifted = roll(roll(zoomed, a.dy, 1), a.dx, 2);
    const mirrored = a.flip ? (tf.reverse(shifted, 2) as tf.Tensor4D) : shifted;
    if (!a.gain || !a.offset) return mirrored;
    return tf.add(tf.mul(mirrored, tf.tensor1d(a.gain)), tf.tensor1d(a.offset)) as tf.Tensor4D;
  });
}
