/**
 * A face-recognition system used to score reconstructions: the attacked model itself
 * (white-box) or an independent network (transfer), following the template-inversion
 * evaluation of Shahreza & Marcel and Mai et al. (NbNet): a reconstruction "succeeds" when a
 * system accepts it as the target at a fixed false-match rate.
 *
 * Every judge takes the same input, ArcFace-aligned 112×112 RGB crops (arcinvert's data and
 * its reconstructions), and owns its preprocessing from there (crop, scale, normalisation),
 * documented where it is implemented.
 */
import type { RasterImage } from '../align/warp.js';

export interface Judge {
  /** Short name for tables and JSON, e.g. 'dlib-resnet' or 'attacked'. */
  readonly name: string;
  /** Embedding dimension. */
  readonly dim: number;
  /** One line: network, input size and preprocessing. */
  readonly description: string;
  /**
   * Embeds aligned crops.
   * @param crops N ArcFace-aligned RGB crops, 112×112 (other sizes are resized first).
   * @returns N×dim row-major, rows of unit length.
   */
  embed(crops: readonly RasterImage[]): Promise<Float32Array>;
  /** Releases the judge's weights. */
  dispose(): void;
}
