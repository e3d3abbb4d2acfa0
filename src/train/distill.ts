/**
 * Embedding distillation from a stronger teacher (a term added to the ArcFace loss): the
 * student's embedding f (D-d) is mapped by a learned linear projection P (D×T, part of the
 * head, dropped at export) into the teacher's space, and the loss is the mean cosine distance
 * to the teacher's embedding t of the same image,
 *
 *   L_distill = mean_i (1 − cos(P·f_i, t_i)),   L = L_arcface + λ·L_distill.
 *
 * This is the feature-level distillation of FitNets (Romero et al., 2015) with a cosine
 * instead of an L2 distance, as in face-recognition distillation (e.g. ShrinkTeaNet, Duong et
 * al., 2019): the teacher's embedding carries identity structure learned from far more people
 * than the 4k identities of the training set. Targets are precomputed once per image
 * (`scripts/teacher-embeddings.mjs`) and looked up by file path.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../errors.js';
import { rowCosine } from '../arcface/normalize.js';
import { readNpy } from '../io/npy.js';
import { InputFileError, readTextChecked } from '../io/atomic.js';

/** The distillation part of a training config. */
export interface DistillConfig {
  /** N×T float32 `.npy` of teacher embeddings; the image paths (relative to its data folder) in `<file minus .npy>.txt`. */
  targets: string;
  /** λ: weight of the distillation term next to the ArcFace loss. */
  weight: number;
}

/**
 * Mean cosine distance between the rows of `student` (any norm) and of `teacher` (any norm).
 * Pure: no variables, disposes its intermediates.
 * @param student [B, T]; @param teacher [B, T].
 */
export function distillLoss(student: tf.Tensor2D, teacher: tf.Tensor2D): tf.Scalar {
  if (
    student.rank !== 2 ||
    teacher.rank !== 2 ||
    student.shape[0] !== teacher.shape[0] ||
    student.shape[1] !== teacher.shape[1]
  ) {
    throw new ArcinvertError(
      `distillation: student [${student.shape.join(', ')}] and teacher [${teacher.shape.join(', ')}] embeddings differ in shape`,
    );
  }
  return tf.tidy(() => tf.mean(tf.sub(1, rowCosine(student, teacher))) as tf.Scalar);
}

/** Teacher embeddings by image path. */
export class TeacherTargets {
  private constructor(
    readonly dim: number,
    private readonly rows: Map<string, number>,
    private readonly data: Float32Array,
    readonly source: string,
  ) {}

  /**
   * Reads `file` (N×T `.npy`) and its listing `<file minus .npy>.txt` of N image paths, which
   * are resolved against `dataDir` (relative lines) or taken as they are (absolute lines).
   * @throws ArcinvertError on a missing or malformed file or a row-count mismatch.
   */
  static async load(file: string, dataDir: string): Promise<TeacherTargets> {
    const arr = await readNpy(file);
    if (arr.shape.length !== 2 || arr.shape[0] < 1 || arr.shape[1] < 1)
      throw new ArcinvertError(
        `${file}: teacher embeddings must be a non-empty N×T matrix, got shape (${arr.shape.join(', ')})`,
      );
    if (!arr.data.every(Number.isFinite))
      throw new ArcinvertError(`${file}: teacher embeddings contain NaN or infinite values`);
    const listing = file.replace(/\.npy$/, '.txt');
    const text = await readTextChecked(listing, 'teacher image list', 'listing').catch((err: unknown) => {
      if (!(err instanceof InputFileError)) throw err;
      throw new ArcinvertError(
        `cannot read ${listing}, the image list of the teacher embeddings ${file}: ${err.reason}`,
      );
    });
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    if (lines.length !== arr.shape[0])
      throw new ArcinvertError(`${listing} lists ${lines.length} images, ${file} has ${arr.shape[0]} rows`);
    const root = path.resolve(dataDir);
    const rows = new Map(lines.map((l, i) => [path.isAbsolute(l) ? l : path.join(root, l), i]));
    return new TeacherTargets(arr.shape[1], rows, arr.data, file);
  }

  /** Targets for images given as absolute paths; [B, T]. */
  batch(paths: readonly string[]): tf.Tensor2D {
    const out = new Float32Array(paths.length * this.dim);
    paths.forEach((p, i) => {
      const r = this.rows.get(p);
      if (r === undefined) throw new ArcinvertError(`${this.source} has no teacher embedding for ${p}`);
      out.set(this.data.subarray(r * this.dim, (r + 1) * this.dim), i * this.dim);
    });
    return tf.tensor2d(out, [paths.length, this.dim]);
  }

  /** Checks that every one of `paths` has a target; names the first missing and the count. */
  checkCovers(paths: readonly string[]): void {
    const missing = paths.filter((p) => !this.rows.has(p));
    if (missing.length > 0)
      throw new ArcinvertError(
        `${this.source} lacks teacher embeddings for ${missing.length} training image(s), e.g. ${missing[0]}`,
      );
  }
}
