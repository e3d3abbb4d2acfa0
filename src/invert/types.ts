/**
 * Types of the inversion API: what `invert()` takes, reports while it runs, and returns.
 * The core emits these; the CLI renders them (Ink on a TTY, plain or JSON lines otherwise).
 */
import type { FaceModel } from '../model/types.js';

/** Loss terms of one step, each averaged over the batch's images (the BN prior is per batch). */
export interface LossTerms {
  /** Weighted sum actually minimised. */
  total: number;
  /** Identity loss (1 − cos, ‖ê − t̂‖², or margin softmax), unweighted. */
  identity: number;
  /** BN-statistics prior, unweighted (0 when disabled). */
  bn: number;
  /** Total variation, L1 and L2, unweighted. */
  tvL1: number;
  tvL2: number;
  /** Mean squared pixel value, unweighted. */
  l2: number;
}

/** An RGB image for previews: `height` rows of `width` pixels, 3 bytes each. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Progress of an inversion run, emitted every few steps. */
export interface InvertProgress {
  /** 0-based index of the current batch and the number of batches. */
  batch: number;
  batches: number;
  /** Steps done in this batch, and per batch. */
  step: number;
  steps: number;
  /** Steps done over the whole run and in total. */
  globalStep: number;
  totalSteps: number;
  /** Learning rate of the last step. */
  lr: number;
  /** Current resolution [H, W] of the optimised images (lower during a multi-resolution start). */
  resolution: [number, number];
  losses: LossTerms;
  /** Cosine between the clean images' embeddings and their targets, over the batch's images. */
  cosine: { mean: number; min: number; max: number; bestMean: number };
  /** Throughput and estimated time left, in seconds. */
  stepsPerSecond: number;
  etaSeconds: number;
  /** The current best image of the batch's first output, when a preview was requested. */
  preview?: RgbImage;
}

/** The result for one target × seed. */
export interface InvertedImage {
  /** Index of the target in the input list, and which seed (0-based) of that target. */
  target: number;
  seed: number;
  /** The best image [H, W, 3] as 8-bit RGB (lowest identity loss seen). */
  image: RgbImage;
  /** Cosine to the target of the best and of the final image, under the attacked model. */
  bestCosine: number;
  finalCosine: number;
  /** Step at which the best image was found. */
  bestStep: number;
  /** Loss terms of the image's batch at the last step. */
  finalLosses: LossTerms;
  /** Optimisation steps and wall time of the image's batch. */
  steps: number;
  seconds: number;
}

/** What to reconstruct: N target embeddings, and their classes for the closed-set loss. */
export interface InvertTargets {
  /** N×D row-major; rows need not be normalised. */
  embeddings: Float32Array;
  dim: number;
  /** Class id of each target (required by the `arcface` identity loss). */
  classes?: Int32Array;
}

/**
 * Another model the images must satisfy too (an ensemble member): its own identity loss
 * towards its own targets (the same identities, in its embedding space: the photos embedded by
 * it, or the attacked model's templates mapped by a bridge) and its own BN prior, on the same
 * images resized to its input.
 */
export interface InvertMember {
  fm: FaceModel;
  /** One row per target of the run, in the member's embedding space. */
  targets: InvertTargets;
  /** Multiplies the member's identity and BN-prior terms (the attacked model's are 1). */
  weight: number;
}

/** Snapshot of a batch's current images. */
export interface InvertSnapshot {
  batch: number;
  step: number;
  images: Array<{ target: number; seed: number; image: RgbImage }>;
}

/** Where an inversion stopped because its loss went NaN or ±Inf. */
export interface InvertDivergence {
  /** The batch (plan index) and the step (1-based) whose loss was not finite. */
  batch: number;
  step: number;
  loss: number;
}

export interface InvertResult {
  /** One per target × seed, in target-major order (fewer when aborted or diverged). */
  images: InvertedImage[];
  aborted: boolean;
  /**
   * Set when a batch's loss went NaN or ±Inf: that batch stopped (its images are the best ones
   * evaluated before, all finite), and no further batch was started.
   */
  diverged?: InvertDivergence;
  /**
   * Set when each batch ran cut into this many parts on as many workers (`batchParts`): the
   * images then depend on it (the batch statistics are summed in another order, and over many
   * steps the runs drift apart), so a report records it.
   */
  batchParts?: number;
  seconds: number;
}
