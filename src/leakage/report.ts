/**
 * The leakage report: for each system (the attacked model = white-box, independent judges =
 * transfer), thresholds at the requested FMRs from impostor pairs of genuine photos, then the
 * Success Attack Rate of the reconstructions, type-I (against the photo whose template was
 * inverted) and type-II (against the target identity's other photos), beside the genuine
 * match rate of those same photos (the best an attack could hope for on type-II).
 *
 * `systemReport` is the pure part (embeddings in, numbers out); `runLeakage` reads the
 * photos once, at their own size (each judge resizes as its preprocessing says), and embeds
 * them with every judge.
 */
import { readRaster } from '../align/raster.js';
import type { RasterImage } from '../align/warp.js';
import { ArcinvertError, ConfigError } from '../errors.js';
import { unitRowCosine } from '../arcface/normalize.js';
import type { Judge } from '../judge/types.js';
import {
  crossIdentityPairs,
  identityOf,
  readGalleryImages,
  readImpostorImages,
  sameIdentityOthers,
  type Gallery,
  type ReconstructionRef,
} from './gallery.js';
import type { FaceLandmarker } from '../align/landmarker.js';
import { detectorNaturalness, type NaturalnessResult } from './naturalness.js';
import { kidReport, type FaceFeatures, type KidReport } from './kid.js';
import type { ScoreDistributions } from './plot.js';
import { countAbove, thresholdAtFmr, type FmrThreshold } from './sar.js';

/**
 * 'white-box': the attacked model itself; 'transfer': an independent judge; 'not independent':
 * a judge related to the attacked model (it was distilled from the judge, or the judge from it),
 * whose acceptances are not evidence of transfer (`SystemReport.relation` says why).
 */
export type SystemRole = 'white-box' | 'transfer' | 'not independent';

/** Accept counts of one kind of comparison at each FMR. */
export interface RateSet {
  comparisons: number;
  meanScore: number;
  atFmr: Array<{ fmr: number; accepted: number; rate: number }>;
}

export interface SystemReport {
  name: string;
  role: SystemRole;
  /** For a 'not independent' judge: how it is related to the attacked model. */
  relation?: string;
  description: string;
  thresholds: FmrThreshold[];
  typeI: RateSet;
  typeII: RateSet;
  /** Target photo vs its identity's other photos (genuine comparisons). */
  genuine: RateSet;
}

/** Per reconstruction, per system: type-I score and mean type-II score. */
export interface ReconstructionScores {
  file: string;
  target: number;
  seed: number;
  scores: Record<string, { typeI: number; typeIIMean: number | null }>;
}

export interface LeakageReport {
  format: 'arcinvert-leakage/1';
  targets: number;
  identities: number;
  photos: number;
  reconstructions: number;
  impostorSource: string;
  impostorPairs: number;
  fmrs: number[];
  systems: SystemReport[];
  perReconstruction: ReconstructionScores[];
}

/** Embeddings of one system: genuine photos and reconstructions (N×dim, unit rows), and impostor scores. */
export interface SystemEmbeddings {
  gallery: Float32Array;
  reconstructions: Float32Array;
  impostorScores: ArrayLike<number>;
}

function rates(scores: number[], thresholds: FmrThreshold[]): RateSet {
  return {
    comparisons: scores.length,
    meanScore: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : 0,
    atFmr: thresholds.map((t) => {
      const c = countAbove(scores, t.threshold);
      return { fmr: t.fmr, accepted: c.accepted, rate: c.rate };
    }),
  };
}

/**
 * Scores of one system (pure).
 * @returns the system's report and, per reconstruction, its type-I and mean type-II score.
 */
export function systemReport(
  system: { name: string; role: SystemRole; relation?: string; description: string; dim: number },
  emb: SystemEmbeddings,
  gallery: Gallery,
  recon: readonly ReconstructionRef[],
  fmrs: readonly number[],
): {
  report: SystemReport;
  perReconstruction: Array<{ typeI: number; typeIIMean: number | null }>;
  distributions: ScoreDistributions;
} {
  const d = system.dim;
  if (emb.gallery.length !== gallery.photos.length * d || emb.reconstructions.length !== recon.length * d) {
    throw new ArcinvertError(
      `${system.name}: embedding sizes do not match ${gallery.photos.length} photos and ${recon.length} reconstructions`,
    );
  }
  const thresholds = fmrs.map((f) => thresholdAtFmr(emb.impostorScores, f));
  const others = sameIdentityOthers(gallery);
  const typeI: number[] = [];
  const typeII: number[] = [];
  const per = recon.map((r, k) => {
    const target = gallery.targets[r.target];
    if (target === undefined)
      throw new ArcinvertError(`reconstruction ${r.file} names target ${r.target}, which does not exist`);
    const s1 = unitRowCosine(emb.reconstructions, k, emb.gallery, target, d);
    const s2 = others[r.target].map((g) => unitRowCosine(emb.reconstructions, k, emb.gallery, g, d));
    typeI.push(s1);
    typeII.push(...s2);
    return { typeI: s1, typeIIMean: s2.length ? s2.reduce((a, b) => a + b, 0) / s2.length : null };
  });
  const genuine = gallery.targets.flatMap((t, i) =>
    others[i].map((g) => unitRowCosine(emb.gallery, t, emb.gallery, g, d)),
  );
  return {
    report: {
      name: system.name,
      role: system.role,
      ...(system.relation ? { relation: system.relation } : {}),
      description: system.description,
      thresholds,
      typeI: rates(typeI, thresholds),
      typeII: rates(typeII, thresholds),
      genuine: rates(genuine, thresholds),
    },
    perReconstruction: per,
    distributions: { genuine, impostor: Array.from(emb.impostorScores), typeI, typeII },
  };
}

/** What `runLeakage` needs. */
export interface LeakageInputs {
  gallery: Gallery;
  reconstructions: ReconstructionRef[];
  /** Reconstructions already in memory (e.g. from `--invert`), by file; others are read. */
  images?: Map<string, RasterImage>;
  /** Impostor pairs as photo paths; default: every cross-identity pair of the gallery. */
  impostorPairs?: Array<[string, string]>;
  /** Where the impostor pairs come from, for the report. */
  impostorSource: string;
  fmrs: number[];
  /** When given, the naturalness proxy is measured with it on the reconstructions and the target photos. */
  detector?: FaceLandmarker;
  /** When given, the KID of the reconstructions against real faces is measured in its feature space (`kid.ts`). */
  features?: FaceFeatures;
}

/** Most real faces a KID is measured against. */
export const KID_REFERENCE_FACES = 500;

/** The naturalness proxy of a report: reconstructions beside the real target photos. */
export interface NaturalnessReport {
  reconstructions: NaturalnessResult;
  targets: NaturalnessResult;
  /**
   * KID against real faces: the photos of the impostor pairs file of people other than the
   * targets (a photo's folder is its person), at most KID_REFERENCE_FACES of them evenly
   * spaced; absent without a pairs file.
   */
  kid?: KidReport;
}

/**
 * Embeds everything with each judge and assembles the report; `distributions` (by system
 * name) hold the raw scores for plots.
 */
export async function runLeakage(
  inputs: LeakageInputs,
  systems: Array<{ judge: Judge; role: SystemRole; relation?: string }>,
  log: (line: string) => void = () => undefined,
): Promise<LeakageReport & { distributions: Record<string, ScoreDistributions>; naturalness?: NaturalnessReport }> {
  const recon = inputs.reconstructions;
  if (recon.length === 0) throw new ArcinvertError('no reconstructions to evaluate');
  const { gallery, images: galleryImages } = await readGalleryImages(inputs.gallery, log);
  const reconImages = await Promise.all(
    recon.map((r) => Promise.resolve(inputs.images?.get(r.file) ?? readRaster(r.file))),
  );
  let impostorIdx: Array<[number, number]>;
  let impostorImages: RasterImage[];
  let impostorFiles: string[];
  if (inputs.impostorPairs) {
    ({
      images: impostorImages,
      files: impostorFiles,
      pairs: impostorIdx,
    } = await readImpostorImages(inputs.impostorPairs, log));
  } else {
    impostorIdx = crossIdentityPairs(gallery.photos);
    impostorImages = galleryImages;
    impostorFiles = gallery.photos.map((p) => p.file);
  }
  if (impostorIdx.length === 0)
    throw new ConfigError(
      ['impostorPairs'],
      (k) => `no impostor pairs: the targets need at least two identities (or give ${k('impostorPairs')})`,
    );
  const distributions: Record<string, ScoreDistributions> = {};
  const report: LeakageReport = {
    format: 'arcinvert-leakage/1',
    targets: gallery.targets.length,
    identities: new Set(gallery.photos.map((p) => p.identity)).size,
    photos: gallery.photos.length,
    reconstructions: recon.length,
    impostorSource: inputs.impostorSource,
    impostorPairs: impostorIdx.length,
    fmrs: [...inputs.fmrs],
    systems: [],
    perReconstruction: recon.map((r) => ({ file: r.file, target: r.target, seed: r.seed, scores: {} })),
  };
  for (const { judge, role, relation } of systems) {
    log(
      `${judge.name}: embedding ${galleryImages.length} photos, ${reconImages.length} reconstructions${inputs.impostorPairs ? `, ${impostorImages.length} impostor photos` : ''}`,
    );
    const g = await judge.embed(galleryImages);
    const r = await judge.embed(reconImages);
    const imp = inputs.impostorPairs ? await judge.embed(impostorImages) : g;
    const impostorScores = impostorIdx.map(([a, b]) => unitRowCosine(imp, a, imp, b, judge.dim));
    const {
      report: sys,
      perReconstruction,
      distributions: dist,
    } = systemReport(
      { name: judge.name, role, relation, description: judge.description, dim: judge.dim },
      { gallery: g, reconstructions: r, impostorScores },
      gallery,
      recon,
      inputs.fmrs,
    );
    report.systems.push(sys);
    distributions[judge.name] = dist;
    perReconstruction.forEach((s, k) => (report.perReconstruction[k].scores[judge.name] = s));
  }
  const naturalness = await measureNaturalness(
    inputs,
    gallery,
    {
      reconstructions: reconImages,
      targets: gallery.targets.map((t) => galleryImages[t]),
      impostors: inputs.impostorPairs ? { images: impostorImages, files: impostorFiles } : null,
    },
    log,
  );
  return { ...report, distributions, naturalness };
}

/**
 * The detector's share on the reconstructions and the target photos, and, given `features` and
 * impostor photos, the KID against real faces of people other than the targets.
 */
async function measureNaturalness(
  inputs: LeakageInputs,
  gallery: Gallery,
  images: {
    reconstructions: RasterImage[];
    targets: RasterImage[];
    impostors: { images: RasterImage[]; files: string[] } | null;
  },
  log: (line: string) => void,
): Promise<NaturalnessReport | undefined> {
  if (!inputs.detector) return undefined;
  log('naturalness: running the face detector on the reconstructions and the target photos');
  const naturalness: NaturalnessReport = {
    reconstructions: await detectorNaturalness(inputs.detector, images.reconstructions),
    targets: await detectorNaturalness(inputs.detector, images.targets),
  };
  if (!inputs.features) return naturalness;
  const targetPeople = new Set(gallery.photos.map((p) => p.identity));
  const imp = images.impostors;
  const pool = imp ? imp.images.filter((_, i) => !targetPeople.has(identityOf(imp.files[i]))) : [];
  const m = Math.min(KID_REFERENCE_FACES, pool.length);
  const reference = Array.from({ length: m }, (_, i) => pool[Math.floor((i * pool.length) / m)]);
  if (reference.length >= 2 && images.reconstructions.length >= 2 && images.targets.length >= 2) {
    log(`naturalness: KID against ${reference.length} real faces`);
    naturalness.kid = await kidReport(inputs.features, {
      reconstructions: images.reconstructions,
      targets: images.targets,
      reference,
    });
  } else
    log(
      'naturalness: no KID (it needs 2 reconstructions, 2 targets and, from --impostor-pairs, 2 real faces of other people)',
    );
  return naturalness;
}
