/**
 * The ensemble of `invert --model A B …` and `leakage --model A B …`: A is the attacked model
 * (its targets, its keep-best cosine, its report); every further model is a member
 * (`InvertMember`) whose identity loss and BN prior join the objective. A member needs the same
 * identities as targets in its own embedding space:
 *   - photo targets: each member embeds the photos itself;
 *   - templates of A (`--embedding`, `--random`, `leakage`'s inverted templates): A's targets
 *     are mapped through a bridge fitted from A to the member (`arcinvert bridge fit`), given
 *     with `--bridge`, one per member in the same order.
 * A bridge is checked to join A to its member (by the models' weight fingerprints), and an
 * ensemble member is never a leakage judge.
 */
import { ArcinvertError } from '../errors.js';
import { loadBridge } from '../bridge/store.js';
import { applyBridge } from '../bridge/fit.js';
import { modelFingerprint } from '../invert/outputs.js';
import type { InvertMember } from '../invert/types.js';
import { modelDirLineage, relation, type Lineage } from '../model/lineage.js';
import { loadFaceModel } from '../model/store.js';
import type { FaceModel } from '../model/types.js';

/** An ensemble member as loaded: its model, its directory and lineage, and how it gets targets. */
export interface LoadedMember {
  fm: FaceModel;
  dir: string;
  lineage: Lineage;
  weight: number;
  /** The bridge from the attacked model, when its targets are mapped from A's. */
  bridge?: { dir: string; map: Awaited<ReturnType<typeof loadBridge>> };
}

/** The flag-level checks of an ensemble, before anything is loaded. */
export function checkEnsembleFlags(
  models: readonly string[],
  bridges: readonly string[] | undefined,
  needsBridges: boolean,
): void {
  const members = models.length - 1;
  if (members === 0) {
    if (bridges)
      throw new ArcinvertError('--bridge maps the first --model into the others: give more than one --model');
    return;
  }
  if (needsBridges && (bridges?.length ?? 0) !== members)
    throw new ArcinvertError(
      `templates of the first --model reach the other ${members} model(s) through bridges: give --bridge once per further --model, in the same order (arcinvert bridge fit --from ${models[0]} --to ${models[1]} …), got ${bridges?.length ?? 0}`,
    );
  if (!needsBridges && bridges)
    throw new ArcinvertError(
      '--bridge is for template targets; with photo targets each --model embeds the photos itself',
    );
}

/**
 * Loads the members `dirs` (every --model after the attacked one) and their bridges, checking
 * that each bridge leads from the attacked model to its member. Disposes what it loaded when it
 * fails.
 */
export async function loadMembers(
  attacked: { dir: string; fm: FaceModel },
  dirs: readonly string[],
  bridges: readonly string[] | undefined,
  weight: number,
): Promise<LoadedMember[]> {
  const attackedLineage = await modelDirLineage(attacked.dir, attacked.fm.meta);
  const out: LoadedMember[] = [];
  try {
    for (const [k, dir] of dirs.entries()) {
      const fm = await loadFaceModel(dir);
      const lineage = await modelDirLineage(dir, fm.meta);
      out.push({ fm, dir, lineage, weight });
      if (relation(lineage, attackedLineage).kind === 'same')
        throw new ArcinvertError(`--model ${dir} is the attacked model ${attacked.dir} again`);
      if (!bridges) continue;
      const map = await loadBridge(bridges[k]);
      const joins = (end: { fingerprints: string[] }, l: Lineage): boolean =>
        end.fingerprints.some((f) => l.fingerprints.includes(f));
      if (!joins(map.record.from, attackedLineage) || !joins(map.record.to, lineage))
        throw new ArcinvertError(
          `--bridge ${bridges[k]} maps ${map.record.from.model} to ${map.record.to.model}, not ${attacked.dir} to ${dir}`,
        );
      out[k].bridge = { dir: bridges[k], map };
    }
    return out;
  } catch (err) {
    for (const m of out) m.fm.model.dispose();
    throw err;
  }
}

/**
 * Each member's targets: the attacked model's `embeddings` [n, dim] through its bridge, or the
 * photos embedded by the member (`embedPhotos`).
 */
export async function memberTargets(
  members: readonly LoadedMember[],
  attackedTargets: { embeddings: Float32Array; n: number; dim: number },
  embedPhotos?: (fm: FaceModel) => Promise<Float32Array>,
): Promise<InvertMember[]> {
  const out: InvertMember[] = [];
  for (const m of members) {
    const dim = m.fm.meta.embeddingSize;
    let embeddings: Float32Array;
    if (m.bridge) {
      const { data } = applyBridge(m.bridge.map.bridge, {
        data: attackedTargets.embeddings,
        n: attackedTargets.n,
        dim: attackedTargets.dim,
      });
      embeddings = data;
    } else if (embedPhotos) embeddings = await embedPhotos(m.fm);
    else throw new ArcinvertError(`--model ${m.dir} has no targets: give a --bridge for it`);
    out.push({ fm: m.fm, targets: { embeddings, dim }, weight: m.weight });
  }
  return out;
}

/** The report's record of the members. */
export function membersRecord(members: readonly LoadedMember[]): Array<Record<string, unknown>> {
  return members.map((m) => ({
    model: m.dir,
    modelSha256: modelFingerprint(m.fm.model.getWeights()),
    backbone: m.fm.meta.backbone,
    weight: m.weight,
    targets: m.bridge ? { bridge: m.bridge.dir, heldOutCosine: m.bridge.map.record.heldOut.mean } : 'photos',
  }));
}
