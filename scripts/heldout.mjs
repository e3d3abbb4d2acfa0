// The held-out identities and pairs the measurement scripts share, so that every one of them
// scores the same people and the same pairs: the 10 % of identities `arcinvert train` keeps with
// its defaults (seed 0), and verification pairs drawn from them with seed 1 (every matched pair
// up to half of maxPairs, as many mismatched).
import { loadImageFolder, splitByIdentity } from '../dist/io/imageFolder.js';
import { sampleVerificationPairs } from '../dist/metrics/pairEval.js';

/** The held-out identities of the ImageFolder `data`, as `arcinvert train` splits it. */
export async function heldoutIdentities(data) {
  return splitByIdentity(await loadImageFolder(data), 0.1, 0).val;
}

/** Those identities and up to `maxPairs` verification pairs of them. */
export async function heldoutPairs(data, maxPairs = 6000) {
  const val = await heldoutIdentities(data);
  return { val, pairs: sampleVerificationPairs(val, maxPairs, 1) };
}
