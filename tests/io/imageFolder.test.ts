import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArcinvertError } from '../../src/errors.js';
import { loadCsvManifest, loadImageFolder, splitByIdentity, type Dataset } from '../../src/io/imageFolder.js';
import { Mulberry32, mixSeed, shuffledEpochOrder } from '../../src/util/random.js';
import { makeImageFolder } from '../train/fixtures.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DATA = path.resolve(repoRoot, '../shared/data');
const HAVE_DATA = existsSync(path.join(DATA, 'train.csv'));
if (!HAVE_DATA) console.warn(`skipping real training-set checks: ${DATA}/train.csv not found`);

let root: string;
beforeAll(async () => {
  root = await makeImageFolder();
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('loadImageFolder', () => {
  test('sorted classes, label = index, empty folders and non-images left out', async () => {
    const ds = await loadImageFolder(root);
    expect(ds.classNames).toEqual(['alice', 'bob', 'dave']);
    expect(ds.items.map((it) => [path.relative(root, it.path), it.label])).toEqual([
      ['alice/a0.png', 0],
      ['alice/a1.png', 0],
      ['bob/b0.png', 1],
      ['bob/b1.png', 1],
      ['bob/b2.png', 1],
      ['dave/d0.png', 2],
    ]);
  });

  test('missing or image-less folders are user errors', async () => {
    await expect(loadImageFolder(path.join(root, 'nope'))).rejects.toThrow(ArcinvertError);
    await expect(loadImageFolder(path.join(root, 'carol'))).rejects.toThrow(ArcinvertError);
  });
});

describe('loadCsvManifest', () => {
  test('header with extra columns, quoted fields, paths relative to the root', async () => {
    const csv = path.join(root, 'm.csv');
    await fsp.writeFile(
      csv,
      'path,identity,source\r\nbob/b0.png,bob,x\n"alice/a1.png","Smith, J",y\nalice/a0.png,"Smith, J",y\n\n',
    );
    const ds = await loadCsvManifest(csv, root);
    expect(ds.classNames).toEqual(['Smith, J', 'bob']);
    expect(ds.items).toEqual([
      { path: path.join(root, 'bob/b0.png'), label: 1 },
      { path: path.join(root, 'alice/a1.png'), label: 0 },
      { path: path.join(root, 'alice/a0.png'), label: 0 },
    ]);
  });

  test.each([
    ['no identity column', 'path,source\na.png,x\n'],
    ['short row', 'path,identity\na.png\n'],
    ['empty identity', 'path,identity\na.png,\n'],
    ['no rows', 'path,identity\n'],
  ])('rejects %s', async (_n, text) => {
    const csv = path.join(root, 'bad.csv');
    await fsp.writeFile(csv, text);
    await expect(loadCsvManifest(csv, root)).rejects.toThrow(ArcinvertError);
  });

  test('missing file is a user error', async () => {
    await expect(loadCsvManifest(path.join(root, 'missing.csv'), root)).rejects.toThrow(ArcinvertError);
  });
});

describe('seeded randomness', () => {
  test('Mulberry32 is deterministic and resumes from its state', () => {
    const a = new Mulberry32(42);
    const b = new Mulberry32(42);
    const first = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(first);
    const saved = a.state;
    const cont = Array.from({ length: 5 }, () => a.nextUint32());
    const resumed = Mulberry32.fromState(saved);
    expect(Array.from({ length: 5 }, () => resumed.nextUint32())).toEqual(cont);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
    const r = new Mulberry32(1);
    const mean = Array.from({ length: 20000 }, () => r.next()).reduce((s, x) => s + x, 0) / 20000;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
  });

  test('mixSeed separates its inputs', () => {
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(mixSeed(0, 0, 1)).not.toBe(mixSeed(0, 1, 0));
    expect(mixSeed(3, 4)).toBe(mixSeed(3, 4));
  });

  test('shuffledEpochOrder: a permutation fixed by (seed, epoch)', () => {
    const o = shuffledEpochOrder(100, 7, 3);
    expect(Array.from(o).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(shuffledEpochOrder(100, 7, 3))).toEqual(Array.from(o));
    expect(Array.from(shuffledEpochOrder(100, 7, 4))).not.toEqual(Array.from(o));
    expect(Array.from(shuffledEpochOrder(100, 8, 3))).not.toEqual(Array.from(o));
    expect(Array.from(o)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(() => shuffledEpochOrder(10, 1, -1)).toThrow(ArcinvertError);
  });
});

describe('splitByIdentity', () => {
  const ds: Dataset = {
    classNames: Array.from({ length: 50 }, (_, c) => `id${String(c).padStart(2, '0')}`),
    items: Array.from({ length: 200 }, (_, i) => ({ path: `/x/${i}.jpg`, label: i % 50 })),
  };
  const nameOf = (d: Dataset): string[] => d.items.map((it) => d.classNames[it.label]);

  test('disjoint identities, nothing lost, contiguous sorted labels', () => {
    const { train, val } = splitByIdentity(ds, 0.2, 1);
    expect(val.classNames).toHaveLength(10);
    expect(train.classNames).toHaveLength(40);
    expect(train.classNames.filter((n) => val.classNames.includes(n))).toEqual([]);
    expect(train.items.length + val.items.length).toBe(200);
    expect([...train.classNames].sort()).toEqual(train.classNames);
    for (const part of [train, val]) {
      expect(new Set(part.items.map((it) => it.label)).size).toBe(part.classNames.length);
    }
    // every item keeps its identity
    const byPath = new Map(ds.items.map((it) => [it.path, ds.classNames[it.label]]));
    for (const part of [train, val]) nameOf(part).forEach((n, i) => expect(byPath.get(part.items[i].path)).toBe(n));
  });

  test('deterministic for a seed, different across seeds', () => {
    expect(splitByIdentity(ds, 0.2, 1).val.classNames).toEqual(splitByIdentity(ds, 0.2, 1).val.classNames);
    expect(splitByIdentity(ds, 0.2, 2).val.classNames).not.toEqual(splitByIdentity(ds, 0.2, 1).val.classNames);
  });

  test('tiny fractions still hold out one identity; bad fractions throw', () => {
    expect(splitByIdentity(ds, 0.001, 0).val.classNames).toHaveLength(1);
    expect(splitByIdentity(ds, 0, 0).val.items).toEqual([]);
    expect(() => splitByIdentity(ds, 1, 0)).toThrow(ArcinvertError);
    expect(() => splitByIdentity(ds, 0.999, 0)).toThrow(ArcinvertError);
  });
});

(HAVE_DATA ? describe : describe.skip)('real training set', () => {
  test('train.csv: 18,194 images of 4,352 identities; the folder listing agrees', async () => {
    const csv = await loadCsvManifest(path.join(DATA, 'train.csv'), DATA);
    expect(csv.items).toHaveLength(18194);
    expect(csv.classNames).toHaveLength(4352);
    expect(existsSync(csv.items[0].path)).toBe(true);
    const folder = await loadImageFolder(path.join(DATA, 'train'));
    expect(folder.classNames).toEqual(csv.classNames);
    expect(folder.items).toHaveLength(18194);
  });
});
