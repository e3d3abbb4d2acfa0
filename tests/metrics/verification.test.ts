import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArcinvertError } from '../../src/errors.js';
import {
  cosineThresholds,
  kFoldAssignment,
  lfwImagePath,
  parsePairs,
  readPairsFile,
  rocCurve,
  tarAtFar,
  tenFoldAccuracy,
} from '../../src/metrics/verification.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DATA = path.resolve(repoRoot, '../shared/data');
const PAIRS = path.join(DATA, 'lfw/pairs.txt');
const HAVE_LFW = existsSync(PAIRS);
if (!HAVE_LFW) console.warn(`skipping real LFW checks: ${PAIRS} not found`);

describe('parsePairs', () => {
  const SMALL = '2\t1\nAl\t1\t2\nBo\t1\tCy\t3\nDi\t2\t4\nEd\t1\tFa\t2\n';

  test('matched and mismatched lines with folds from the header', () => {
    const p = parsePairs(SMALL);
    expect(p.folds).toBe(2);
    expect(p.pairsPerFold).toBe(1);
    expect(p.pairs).toEqual([
      { a: { name: 'Al', index: 1 }, b: { name: 'Al', index: 2 }, same: true, fold: 0 },
      { a: { name: 'Bo', index: 1 }, b: { name: 'Cy', index: 3 }, same: false, fold: 0 },
      { a: { name: 'Di', index: 2 }, b: { name: 'Di', index: 4 }, same: true, fold: 1 },
      { a: { name: 'Ed', index: 1 }, b: { name: 'Fa', index: 2 }, same: false, fold: 1 },
    ]);
    expect(lfwImagePath('/d/lfw', p.pairs[1].b)).toBe('/d/lfw/Cy/Cy_0003.jpg');
  });

  test.each([
    ['bad header', '2\nAl 1 2\n'],
    ['wrong count', '1 1\nAl 1 2\n'],
    ['mismatched where matched expected', '1 1\nBo 1 Cy 3\nAl 1 2\n'],
    ['non-numeric index', '1 1\nAl x 2\nBo 1 Cy 3\n'],
  ])('rejects %s', (_n, text) => {
    expect(() => parsePairs(text)).toThrow(ArcinvertError);
  });

  (HAVE_LFW ? test : test.skip)(
    'real LFW pairs.txt: 6,000 pairs, 3,000 matched, 10 folds, all files exist',
    async () => {
      const p = parsePairs(await fsp.readFile(PAIRS, 'utf8'));
      expect(p.folds).toBe(10);
      expect(p.pairsPerFold).toBe(300);
      expect(p.pairs).toHaveLength(6000);
      expect(p.pairs.filter((x) => x.same)).toHaveLength(3000);
      for (let f = 0; f < 10; f++) expect(p.pairs.filter((x) => x.fold === f && x.same)).toHaveLength(300);
      expect(p.pairs[0]).toEqual({
        a: { name: 'Abel_Pacheco', index: 1 },
        b: { name: 'Abel_Pacheco', index: 4 },
        same: true,
        fold: 0,
      });
      const files = new Set(
        p.pairs.flatMap((x) => [lfwImagePath(path.join(DATA, 'lfw'), x.a), lfwImagePath(path.join(DATA, 'lfw'), x.b)]),
      );
      const missing = [...files].filter((f) => !existsSync(f));
      expect(missing).toEqual([]);
    },
  );
});

describe('thresholds and folds', () => {
  test('cosine grid is np.arange(-1, 1, 0.001)', () => {
    const t = cosineThresholds();
    expect(t).toHaveLength(2000);
    expect(t[0]).toBe(-1);
    expect(t[1000]).toBeCloseTo(0, 12);
    expect(t[1999]).toBeCloseTo(0.999, 12);
  });

  test('KFold(shuffle=False): contiguous, first n % k folds one larger', () => {
    expect(Array.from(kFoldAssignment(7, 3))).toEqual([0, 0, 0, 1, 1, 2, 2]);
    expect(() => kFoldAssignment(2, 3)).toThrow(ArcinvertError);
  });
});

describe('tenFoldAccuracy', () => {
  test('hand-made 2-fold example', () => {
    // fold 0 = pairs 0,1; fold 1 = pairs 2,3.
    // fold 0 trains on {0.6005 same, 0.5505 diff}: first grid t with both right is 0.551 → tests 0.8005>t ✓, 0.3005≤t ✓ → 1.0
    // fold 1 trains on {0.8005 same, 0.3005 diff}: first such t is 0.301 → tests 0.6005 ✓, 0.5505>t ✗ → 0.5
    const r = tenFoldAccuracy([0.8005, 0.3005, 0.6005, 0.5505], [true, false, true, false], 2);
    expect(r.foldAccuracies).toEqual([1, 0.5]);
    expect(r.bestThresholds[0]).toBeCloseTo(0.551, 9);
    expect(r.bestThresholds[1]).toBeCloseTo(0.301, 9);
    expect(r.accuracy).toBeCloseTo(0.75, 12);
    expect(r.std).toBeCloseTo(0.25, 12); // np.std([1, 0.5])
    // at t = 0 (index 1000) every pair is accepted: TPR = FPR = 1 in both folds
    expect(r.tpr[1000]).toBe(1);
    expect(r.fpr[1000]).toBe(1);
    // at t = 0.7 (index 1700): fold 0 accepts 0.8005 only (TPR 1, FPR 0), fold 1 none (TPR 0) → mean TPR 0.5
    expect(r.tpr[1700]).toBeCloseTo(0.5, 12);
    expect(r.fpr[1700]).toBe(0);
  });

  test('explicit fold ids and a single fold (train = test, as LFold(1))', () => {
    const r = tenFoldAccuracy([0.9, 0.1, 0.2, 0.8], [true, false, true, false], [1, 1, 0, 0]);
    // fold 0 = {0.2 same, 0.8 diff} uses fold 1's best t ≈ 0.1 (accepts both) → 0.5;
    // fold 1 = {0.9 same, 0.1 diff}: on fold 0 no t beats 1/2, the first grid value −1 wins → 0.5
    expect(r.foldAccuracies).toEqual([0.5, 0.5]);
    expect(r.bestThresholds[0]).toBeCloseTo(0.1, 9);
    expect(r.bestThresholds[1]).toBe(-1);
    const one = tenFoldAccuracy([0.9, 0.1, 0.2, 0.8], [true, false, true, false], 1);
    expect(one.foldAccuracies).toEqual([0.75]);
  });

  test('matches a brute-force calculate_roc on random scores', () => {
    let s = 12345;
    const rand = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const n = 200;
    const issame = Array.from({ length: n }, (_, i) => i % 2 === 0);
    const scores = issame.map((same) => Math.max(-1, Math.min(1, (same ? 0.4 : 0) + (rand() - 0.5))));
    const thresholds = cosineThresholds(0.01);
    const fast = tenFoldAccuracy(scores, issame, 10, thresholds);
    const folds = kFoldAssignment(n, 10);
    for (let f = 0; f < 10; f++) {
      const acc = (t: number, inFold: boolean): number => {
        let correct = 0;
        let count = 0;
        for (let i = 0; i < n; i++) {
          if ((folds[i] === f) !== inFold) continue;
          count++;
          if (scores[i] > t === issame[i]) correct++;
        }
        return correct / count;
      };
      let best = 0;
      thresholds.forEach((t, i) => {
        if (acc(t, false) > acc(thresholds[best], false)) best = i;
      });
      expect(fast.bestThresholds[f]).toBe(thresholds[best]);
      expect(fast.foldAccuracies[f]).toBeCloseTo(acc(thresholds[best], true), 12);
    }
  });

  test('rejects mismatched lengths and non-finite scores', () => {
    expect(() => tenFoldAccuracy([0.1], [true, false], 1)).toThrow(ArcinvertError);
    expect(() => tenFoldAccuracy([Number.NaN, 0], [true, false], 1)).toThrow(ArcinvertError);
  });
});

describe('tarAtFar', () => {
  const NEG = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
  const POS = [0.5, 0.85, 0.92, 0.97, 0.99];
  const scores = [...POS, ...NEG];
  const issame = [...POS.map(() => true), ...NEG.map(() => false)];

  test('FAR 0.1 of 10 impostors allows 1 false accept: threshold 0.9, TAR 3/5', () => {
    expect(tarAtFar(scores, issame, 0.1)).toEqual({ tar: 0.6, far: 0.1, threshold: 0.9 });
  });

  test('FAR 0.05 allows none: threshold = top impostor 0.95, TAR 2/5', () => {
    expect(tarAtFar(scores, issame, 0.05)).toEqual({ tar: 0.4, far: 0, threshold: 0.95 });
  });

  test('ties at the threshold are rejected, so FAR never exceeds the target', () => {
    const r = tarAtFar([0.9, 0.5, 0.5, 0.1], [true, false, false, false], 1 / 3);
    expect(r.threshold).toBe(0.5);
    expect(r.far).toBe(0);
    expect(tarAtFar(scores, issame, 1)).toEqual({ tar: 1, far: 1, threshold: -Infinity });
  });
});

describe('rocCurve', () => {
  test('exact points and AUC = P(matched > mismatched)', () => {
    const { points, auc } = rocCurve([0.9, 0.6, 0.7, 0.2], [true, true, false, false]);
    expect(points).toEqual([
      { threshold: 0.9, tpr: 0, fpr: 0 },
      { threshold: 0.7, tpr: 0.5, fpr: 0 },
      { threshold: 0.6, tpr: 0.5, fpr: 0.5 },
      { threshold: 0.2, tpr: 1, fpr: 0.5 },
      { threshold: -Infinity, tpr: 1, fpr: 1 },
    ]);
    expect(auc).toBeCloseTo(0.75, 12); // 3 of 4 (matched, mismatched) pairs ordered correctly
  });
});

describe('readPairsFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-pairs-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  // #18 item 11: a pairs file may only name images under the images folder.
  test.each([['..'], ['../../etc'], ['/etc'], ['a/b'], ['a\\b']])(
    'a name that leads out of the images folder (%s) is refused with its line',
    (name) => {
      expect(() => parsePairs(`1 1\n${name}\t1\t2\nAnn\t1\tBob\t3\n`)).toThrow(
        new ArcinvertError(
          `pairs file line 2: "${name}" is not a plain folder name; a pairs file may only name images under the images folder`,
        ),
      );
      expect(() => parsePairs(`1 1\nAnn\t1\t2\nAnn\t1\t${name}\t3\n`)).toThrow(
        /pairs file line 3: .* is not a plain folder name/,
      );
    },
  );

  test('reads and parses a pairs file; a missing file names what was asked for', async () => {
    const file = path.join(dir, 'pairs.txt');
    await fsp.writeFile(file, '1 1\nAnn\t1\t2\nAnn\t1\tBob\t3\n');
    const parsed = await readPairsFile(file);
    expect(parsed.pairs).toHaveLength(2);
    expect(parsed.pairs[0]).toMatchObject({
      same: true,
      fold: 0,
      a: { name: 'Ann', index: 1 },
      b: { name: 'Ann', index: 2 },
    });
    expect(parsed.pairs[1]).toMatchObject({ same: false, a: { name: 'Ann', index: 1 }, b: { name: 'Bob', index: 3 } });
    const missing = path.join(dir, 'nope.txt');
    // The reason in words, not the errno code; the config key is named so the CLI can show its flag.
    await expect(readPairsFile(missing, 'evalPairs')).rejects.toThrow(
      `cannot read evalPairs ${missing}: no such file or directory`,
    );
    await expect(readPairsFile(missing, 'evalPairs')).rejects.toMatchObject({ keys: ['evalPairs'] });
    await expect(readPairsFile(missing)).rejects.toThrow(
      `cannot read pairs file ${missing}: no such file or directory`,
    );
    await expect(readPairsFile(missing)).rejects.toThrow(ArcinvertError);
  });
});
