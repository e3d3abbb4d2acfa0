/**
 * A pairs file's photos as rows of one embedding matrix, for verification of protected
 * templates (`protect-eval`, `leakage --protect --utility`): each photo embedded once (flip TTA
 * as `eval`), every pair as two row indices with its identity, match and fold.
 */
import { ArcinvertError } from '../errors.js';
import { embedUnique } from '../metrics/pairEval.js';
import { lfwImagePath, type readPairsFile } from '../metrics/verification.js';
import type { FaceModel } from '../model/types.js';
import type { RowPair } from '../protect/utility.js';

export interface PairRows {
  /** [rows, dim] unit embeddings. */
  x: Float32Array;
  dim: number;
  /** Each row's identity. */
  identities: string[];
  pairs: RowPair[];
}

type Pair = Awaited<ReturnType<typeof readPairsFile>>['pairs'][number];

/** Embeds the photos of `pairs` (under `images`) with `fm`; an unreadable photo is an error naming it. */
export async function embedPairRows(
  fm: FaceModel,
  pairs: readonly Pair[],
  images: string,
  flip: boolean,
): Promise<PairRows> {
  const files: string[] = [];
  const identities: string[] = [];
  const rowOf = new Map<string, number>();
  const row = (ref: { name: string; index: number }): number => {
    const file = lfwImagePath(images, ref);
    if (!rowOf.has(file)) {
      rowOf.set(file, files.length);
      files.push(file);
      identities.push(ref.name);
    }
    return rowOf.get(file)!;
  };
  const refs = pairs.map((p) => ({ a: row(p.a), b: row(p.b), same: p.same, fold: p.fold }));
  const bad: string[] = [];
  const emb = await embedUnique(fm, files, { flip, batchSize: 32 }, bad);
  if (bad.length > 0) throw new ArcinvertError(`${bad.length} pair image(s) cannot be read, e.g. ${bad[0]}`);
  const dim = fm.meta.embeddingSize;
  const x = new Float32Array(files.length * dim);
  files.forEach((file, i) => x.set(emb.get(file)!, i * dim));
  return { x, dim, identities, pairs: refs };
}
