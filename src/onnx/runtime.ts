/**
 * Forward passes on onnxruntime: a face model exported to ONNX in memory (`export.ts`) and run
 * by onnxruntime-node's native, multi-threaded CPU engine — several times faster than tfjs on
 * WebAssembly for inference (docs/PERFORMANCE.md, "Inference on onnxruntime"). Serves the
 * commands that only embed (`embed`, `eval`, the held-out and benchmark scores of `train`);
 * gradients (inversion, training) stay on tfjs. Its embeddings equal tfjs's to float rounding
 * (tests/onnx/runtime.test.ts: cosine ≥ 1 − 1e-5).
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import type { Embedder } from '../model/embed.js';
import type { FaceModel } from '../model/types.js';
import { exportOnnx, ONNX_INPUT, ONNX_OUTPUT, padFeedsPool } from './export.js';

interface OrtTensor {
  data: Float32Array;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options: object): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array | number[], dims: number[]) => unknown;
}

async function loadOrt(): Promise<OrtModule | null> {
  try {
    const mod = (await import('onnxruntime-node')) as unknown as OrtModule & { default?: OrtModule };
    return mod.InferenceSession ? mod : (mod.default ?? null);
  } catch {
    return null;
  }
}

/** Which runtime embeds: `auto` is onnxruntime where it is installed and the model exports, else tfjs. */
export type EmbedRuntime = 'auto' | 'tfjs' | 'onnx';
export const EMBED_RUNTIMES: readonly EmbedRuntime[] = ['auto', 'tfjs', 'onnx'];

/** A face model served by onnxruntime; `dispose()` releases the session. */
export class OnnxEmbedder implements Embedder {
  readonly runtime = 'onnxruntime';

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    private readonly fm: FaceModel,
  ) {}

  /**
   * Opens `fm` in onnxruntime with `threads` threads (default: the cores): `bytes`, its export
   * when the caller already has it, else `exportOnnx(fm)` of its current weights.
   * @throws ArcinvertError when onnxruntime-node is not installed or the model has a layer with no ONNX mapping.
   */
  static async create(fm: FaceModel, threads = availableParallelism(), bytes?: Uint8Array): Promise<OnnxEmbedder> {
    const ort = await loadOrt();
    if (!ort) throw new ArcinvertError('onnxruntime-node is not installed: embed with --runtime tfjs');
    const session = await ort.InferenceSession.create(bytes ?? exportOnnx(fm), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: padFeedsPool(fm.model) ? 'disabled' : 'all',
    });
    return new OnnxEmbedder(ort, session, fm);
  }

  async forward(images: tf.Tensor4D, flip: boolean): Promise<Float32Array> {
    const [b, h, w] = images.shape;
    const nchw = tf.tidy(() => {
      const x = flip ? tf.concat([images, tf.reverse(images, 2)]) : images;
      return tf.transpose(x, [0, 3, 1, 2]);
    });
    const data = (await nchw.data()) as Float32Array;
    nchw.dispose();
    const n = flip ? 2 * b : b;
    const out = (await this.session.run({ [ONNX_INPUT]: this.tensor(data, [n, 3, h, w]) }))[ONNX_OUTPUT];
    if (out.data.length !== n * this.fm.meta.embeddingSize)
      throw new ArcinvertError(
        `onnxruntime gave ${out.data.length / n} values per image, the model ${this.fm.meta.embeddingSize}`,
      );
    return out.data;
  }

  /** An ort tensor over `data`; a copy where `data` comes from another realm (a test runner's VM), which ort refuses. */
  private tensor(data: Float32Array, dims: number[]): unknown {
    try {
      return new this.ort.Tensor('float32', data, dims);
    } catch {
      return new this.ort.Tensor('float32', Array.from(data), dims);
    }
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The embedder `runtime` asks for: onnxruntime (`onnx`; `auto` where it loads and `fm`
 * exports), or undefined for tfjs. `why` says what `auto` fell back from.
 * @throws ArcinvertError when `onnx` is asked for and cannot be had.
 */
export async function embedderFor(
  fm: FaceModel,
  runtime: EmbedRuntime,
  threads?: number,
): Promise<{ embedder: Embedder | undefined; why?: string }> {
  if (runtime === 'tfjs') return { embedder: undefined };
  try {
    return { embedder: await OnnxEmbedder.create(fm, threads) };
  } catch (err) {
    if (runtime === 'onnx' || !(err instanceof ArcinvertError)) throw err;
    return { embedder: undefined, why: err.message };
  }
}
