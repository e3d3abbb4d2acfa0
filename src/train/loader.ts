/**
 * Batch loader for ArcFace training (Deng et al. 2019, Sec. 3.1: 112×112 aligned crops):
 * seeded shuffle per epoch, sharp decoding to RGB, optional resize to the model input, random
 * horizontal flip (the only augmentation arcface_torch uses, `dataset.py`:
 * RandomHorizontalFlip + Normalize(0.5, 0.5)), pixels mapped to (x − 127.5)/127.5 ∈ [−1, 1].
 *
 * Batch b of epoch e holds the samples at positions [b·B, (b+1)·B) of `shuffledEpochOrder(n,
 * seed, e)`, flipped by a generator seeded with (seed, e, b): a batch's content is a function of
 * (seed, e, b) alone, which is what makes resuming at (epoch, batch) exact. Up to `prefetch`
 * batches decode ahead while the caller computes. An image that fails to decode is dropped
 * from its batch (the batch is then smaller; an empty batch is not yielded) and recorded in
 * `skipped`; it is never fatal. Tensors are only created when a batch is handed out, so
 * stopping early leaks nothing; the caller disposes each batch's tensors.
 */
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { ArcinvertError } from '../errors.js';
import type { Dataset } from '../io/imageFolder.js';
import { Mulberry32, mixSeed, shuffledEpochOrder } from '../util/random.js';

/** Loader options. */
export interface BatchLoaderConfig {
  /** Samples per batch B (arcface_torch: 128 per GPU). */
  batchSize: number;
  /** Model input [H, W]; images of another size are resized (bilinear-ish, sharp's default). */
  imageSize: [number, number];
  /** Random horizontal flip with probability 1/2. */
  flip: boolean;
  /** Seed of the shuffle and the flips. */
  seed: number;
  /** Batches decoded ahead of the consumer. */
  prefetch: number;
  /** Drop the last, incomplete batch of each epoch (arcface_torch: drop_last=True; keeps BN sane). */
  dropLast: boolean;
}

export const DEFAULT_BATCH_LOADER_CONFIG: Readonly<BatchLoaderConfig> = {
  batchSize: 128,
  imageSize: [112, 112],
  flip: true,
  seed: 0,
  prefetch: 4,
  dropLast: true,
};

/**
 * Fills defaults and validates loader options.
 * @throws ArcinvertError on unknown keys or invalid values.
 */
export function resolveBatchLoaderConfig(partial: Partial<BatchLoaderConfig> = {}): BatchLoaderConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_BATCH_LOADER_CONFIG)) throw new ArcinvertError(`unknown loader option "${key}"`);
  }
  const cfg: BatchLoaderConfig = { ...DEFAULT_BATCH_LOADER_CONFIG, ...partial };
  const posInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;
  if (!posInt(cfg.batchSize)) throw new ArcinvertError(`batchSize must be a positive integer, got ${cfg.batchSize}`);
  if (!posInt(cfg.prefetch)) throw new ArcinvertError(`prefetch must be a positive integer, got ${cfg.prefetch}`);
  if (!Array.isArray(cfg.imageSize) || cfg.imageSize.length !== 2 || !cfg.imageSize.every(posInt)) {
    throw new ArcinvertError(`imageSize must be [height, width] in pixels, got ${JSON.stringify(cfg.imageSize)}`);
  }
  if (!Number.isInteger(cfg.seed)) throw new ArcinvertError(`seed must be an integer, got ${cfg.seed}`);
  if (typeof cfg.flip !== 'boolean' || typeof cfg.dropLast !== 'boolean') {
    throw new ArcinvertError('flip and dropLast must be true or false');
  }
  return { ...cfg, imageSize: [cfg.imageSize[0], cfg.imageSize[1]] };
}

/** A place in the data stream: batch `batch` of epoch `epoch` is the next one to load. */
export interface LoaderPosition {
  epoch: number;
  batch: number;
}

/** One training batch; dispose `images` and `labels` when done. */
export interface Batch {
  /** [b, H, W, 3] float32 in [−1, 1]; b ≤ batchSize when images were skipped. */
  images: tf.Tensor4D;
  /** [b] int32 class indices. */
  labels: tf.Tensor1D;
  paths: string[];
  epoch: number;
  batch: number;
  /** Where to resume after this batch. */
  next: LoaderPosition;
}

/** An image left out because it could not be decoded. */
export interface SkippedImage {
  path: string;
  reason: string;
}

interface RawBatch {
  pixels: Float32Array;
  labels: Int32Array;
  paths: string[];
}

/** Decodes `file` to H·W·3 values in [−1, 1] at `out[offset…]`, mirrored when `flip`. */
async function decodeInto(
  file: string,
  h: number,
  w: number,
  flip: boolean,
  out: Float32Array,
  offset: number,
): Promise<void> {
  const decoded = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const info = decoded.info;
  let data = decoded.data;
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
  if (info.width !== w || info.height !== h) {
    data = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
      .resize(w, h, { fit: 'fill' })
      .raw()
      .toBuffer();
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (y * w + (flip ? w - 1 - x : x)) * 3;
      const dst = offset + (y * w + x) * 3;
      out[dst] = data[src] / 127.5 - 1;
      out[dst + 1] = data[src + 1] / 127.5 - 1;
      out[dst + 2] = data[src + 2] / 127.5 - 1;
    }
  }
}

/** Seeded, prefetching, resumable batch iterator over a `Dataset`. */
export class BatchLoader {
  readonly config: BatchLoaderConfig;
  /** Batches per epoch: ⌊n/B⌋ with `dropLast`, else ⌈n/B⌉. */
  readonly batchesPerEpoch: number;
  private readonly bad = new Map<string, string>();
  private dropped = 0;

  constructor(
    private readonly dataset: Dataset,
    config: Partial<BatchLoaderConfig> = {},
  ) {
    this.config = resolveBatchLoaderConfig(config);
    const n = dataset.items.length;
    const b = this.config.batchSize;
    this.batchesPerEpoch = this.config.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
    if (this.batchesPerEpoch === 0) throw new ArcinvertError(`dataset of ${n} images gives no batch of ${b}`);
  }

  /** Images that failed to decode (each listed once, with the decoder's reason). */
  get skipped(): SkippedImage[] {
    return Array.from(this.bad, ([path, reason]) => ({ path, reason }));
  }

  /** How many times an image was dropped from a batch (a bad image counts once per epoch). */
  get skippedCount(): number {
    return this.dropped;
  }

  /**
   * Yields batches from `start` up to (not including) epoch `endEpoch`.
   * @param start first batch to load; `{epoch, batch}` from a checkpoint's `Batch.next`.
   * @param endEpoch stop before this epoch; default: the end of `start.epoch`.
   */
  async *batches(start: LoaderPosition = { epoch: 0, batch: 0 }, endEpoch = start.epoch + 1): AsyncGenerator<Batch> {
    if (
      !Number.isInteger(start.epoch) ||
      start.epoch < 0 ||
      !Number.isInteger(start.batch) ||
      start.batch < 0 ||
      start.batch > this.batchesPerEpoch
    ) {
      throw new ArcinvertError(
        `cannot resume at epoch ${start.epoch} batch ${start.batch} (${this.batchesPerEpoch} batches per epoch)`,
      );
    }
    const positions: LoaderPosition[] = [];
    const pending: Promise<RawBatch>[] = [];
    let epoch = start.epoch;
    let batch = start.batch;
    let order = shuffledEpochOrder(this.dataset.items.length, this.config.seed, epoch);
    const fill = (): void => {
      while (pending.length < this.config.prefetch && epoch < endEpoch) {
        if (batch >= this.batchesPerEpoch) {
          epoch++;
          batch = 0;
          if (epoch >= endEpoch) break;
          order = shuffledEpochOrder(this.dataset.items.length, this.config.seed, epoch);
        }
        positions.push({ epoch, batch });
        pending.push(this.loadBatch(order, epoch, batch));
        batch++;
      }
    };
    try {
      fill();
      while (pending.length > 0) {
        const raw = await pending.shift()!;
        const pos = positions.shift()!;
        fill();
        if (raw.labels.length === 0) {
          // The many-images policy: skip and list, but a dataset with no usable image is bad input.
          if (this.bad.size === this.dataset.items.length) {
            const [path, reason] = this.bad.entries().next().value!;
            throw new ArcinvertError(
              `none of the ${this.bad.size} training image(s) could be used: ${path}: ${reason}${this.bad.size > 1 ? ` (and ${this.bad.size - 1} more)` : ''}`,
            );
          }
          continue;
        }
        const [h, w] = this.config.imageSize;
        const last = pos.batch + 1 >= this.batchesPerEpoch;
        yield {
          images: tf.tensor4d(raw.pixels, [raw.labels.length, h, w, 3]),
          labels: tf.tensor1d(raw.labels, 'int32'),
          paths: raw.paths,
          epoch: pos.epoch,
          batch: pos.batch,
          next: last ? { epoch: pos.epoch + 1, batch: 0 } : { epoch: pos.epoch, batch: pos.batch + 1 },
        };
      }
    } finally {
      // Let in-flight decodes finish so nothing runs after the iterator returns.
      await Promise.allSettled(pending);
    }
  }

  /** Decodes batch `batch` of `epoch`; never rejects (bad images are dropped and recorded). */
  private async loadBatch(order: Uint32Array, epoch: number, batch: number): Promise<RawBatch> {
    const { batchSize, imageSize, flip, seed } = this.config;
    const [h, w] = imageSize;
    const idx = Array.from(order.subarray(batch * batchSize, Math.min((batch + 1) * batchSize, order.length)));
    const rng = new Mulberry32(mixSeed(seed, epoch, batch));
    const flips = idx.map(() => flip && rng.next() < 0.5);
    const pixels = new Float32Array(idx.length * h * w * 3);
    const ok = await Promise.all(
      idx.map(async (i, slot) => {
        const file = this.dataset.items[i].path;
        if (this.bad.has(file)) return false;
        try {
          await decodeInto(file, h, w, flips[slot], pixels, slot * h * w * 3);
          return true;
        } catch (err) {
          if (!this.bad.has(file)) this.bad.set(file, String((err as Error).message ?? err).split('\n')[0]);
          return false;
        }
      }),
    );
    const keep = idx.map((_, slot) => slot).filter((slot) => ok[slot]);
    this.dropped += idx.length - keep.length;
    const size = h * w * 3;
    keep.forEach((slot, j) => {
      if (slot !== j) pixels.copyWithin(j * size, slot * size, (slot + 1) * size);
    });
    return {
      pixels: pixels.subarray(0, keep.length * size),
      labels: Int32Array.from(keep, (slot) => this.dataset.items[idx[slot]].label),
      paths: keep.map((slot) => this.dataset.items[idx[slot]].path),
    };
  }
}
