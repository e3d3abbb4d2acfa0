/**
 * The leakage report on controlled 2-d embeddings (unit vectors at chosen angles, so every
 * cosine is known), the report's formatting, and the experiment's data plumbing.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { leakageMarkdown, leakageTable } from '../../src/leakage/format.js';
import { formatFmr } from '../../src/leakage/units.js';
import {
  crossIdentityPairs,
  identityOf,
  readReconstructionDir,
  sameIdentityOthers,
  type Gallery,
} from '../../src/leakage/gallery.js';
import { systemReport, type LeakageReport } from '../../src/leakage/report.js';

const unit = (...degrees: number[]): Float32Array =>
  Float32Array.from(degrees.flatMap((d) => [Math.cos((d * Math.PI) / 180), Math.sin((d * Math.PI) / 180)]));

// Photos A1 A2 B1 B2 C1; targets A1 (0) and B1 (2).
const gallery: Gallery = {
  photos: [
    { file: 'A/A1.jpg', identity: 'A' },
    { file: 'A/A2.jpg', identity: 'A' },
    { file: 'B/B1.jpg', identity: 'B' },
    { file: 'B/B2.jpg', identity: 'B' },
    { file: 'C/C1.jpg', identity: 'C' },
  ],
  targets: [0, 2],
};
const recon = [
  { file: 't000_s0.png', target: 0, seed: 0 },
  { file: 't001_s0.png', target: 1, seed: 0 },
  { file: 't000_s1.png', target: 0, seed: 1 },
];

describe('systemReport', () => {
  // Gallery at 0°, 10°, 90°, 100°, 200°; reconstructions at 20°, 130°, 30°.
  // Impostors 0.1 … 0.9, 0.95 (N = 10): FMR 0.1 → threshold 0.9, FMR 0.2 → 0.8.
  const { report, perReconstruction } = systemReport(
    { name: 'toy', role: 'white-box', description: '2-d', dim: 2 },
    {
      gallery: unit(0, 10, 90, 100, 200),
      reconstructions: unit(20, 130, 30),
      impostorScores: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
    },
    gallery,
    recon,
    [0.1, 0.2],
  );

  it('sets the thresholds on the impostor scores', () => {
    expect(report.thresholds.map((t) => [t.threshold, t.allowed])).toEqual([
      [0.9, 1],
      [0.8, 2],
    ]);
  });

  it('type-I: cos 20° = 0.940, cos 40° = 0.766, cos 30° = 0.866 → 1/3 at 0.9, 2/3 at 0.8', () => {
    expect(report.typeI.atFmr.map((a) => a.accepted)).toEqual([1, 2]);
    expect(report.typeI.comparisons).toBe(3);
    expect(report.typeI.meanScore).toBeCloseTo(
      (Math.cos(Math.PI / 9) + Math.cos((2 * Math.PI) / 9) + Math.cos(Math.PI / 6)) / 3,
      6,
    );
  });

  it('type-II: vs A2 cos 10° = 0.985, vs B2 cos 30° = 0.866, vs A2 cos 20° = 0.940 → 2/3 and 3/3', () => {
    expect(report.typeII.atFmr.map((a) => [a.accepted, a.rate])).toEqual([
      [2, 2 / 3],
      [3, 1],
    ]);
  });

  it('genuine: A1–A2 and B1–B2 at cos 10° are both accepted', () => {
    expect(report.genuine.atFmr.map((a) => a.accepted)).toEqual([2, 2]);
    expect(report.genuine.comparisons).toBe(2);
  });

  it('keeps per-reconstruction scores', () => {
    expect(perReconstruction[1].typeI).toBeCloseTo(Math.cos((40 * Math.PI) / 180), 6);
    expect(perReconstruction[1].typeIIMean).toBeCloseTo(Math.cos((30 * Math.PI) / 180), 6);
  });

  it('formats a table and a markdown snippet', () => {
    const full: LeakageReport = {
      format: 'arcinvert-leakage/1',
      targets: 2,
      identities: 3,
      photos: 5,
      reconstructions: 3,
      impostorSource: 'toy',
      impostorPairs: 10,
      fmrs: [0.1, 0.2],
      systems: [report],
      perReconstruction: [],
    };
    const lines = leakageTable(full);
    expect(lines[0]).toMatch(/^system\s+role\s+FMR\s+threshold\s+SAR type-I\s+SAR type-II/);
    expect(lines[1]).toMatch(/^toy\s+white-box\s+1e-1\s+0\.900\s+33\.3% \(1\/3\)\s+66\.7% \(2\/3\)\s+100\.0% \(2\/2\)/);
    expect(lines.some((l) => l.includes('10 impostor pairs (toy)'))).toBe(true);
    const md = leakageMarkdown(full);
    expect(md).toContain('| toy | white-box | 2e-1 | 0.800 | 66.7% (2/3) | 100.0% (3/3) | 100.0% (2/2) |');
    expect(formatFmr(0.001)).toBe('1e-3');
  });

  it('rejects embeddings of the wrong size', () => {
    expect(() =>
      systemReport(
        { name: 'x', role: 'transfer', description: '', dim: 2 },
        { gallery: unit(0), reconstructions: unit(0), impostorScores: [0] },
        gallery,
        recon,
        [0.1],
      ),
    ).toThrow(/do not match/);
  });
});

describe('gallery plumbing', () => {
  it('pairs across identities and lists same-identity probes', () => {
    expect(crossIdentityPairs(gallery.photos)).toEqual([
      [0, 2],
      [0, 3],
      [0, 4],
      [1, 2],
      [1, 3],
      [1, 4],
      [2, 4],
      [3, 4],
    ]);
    expect(sameIdentityOthers(gallery)).toEqual([[1], [3]]);
    expect(identityOf('/x/lfw/Aaron_Sorkin/Aaron_Sorkin_0001.jpg')).toBe('Aaron_Sorkin');
  });

  it('maps an invert output through its report.json', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-leak-'));
    const report = {
      targets: [
        { index: 0, kind: 'image', source: '/data/A/A1.jpg' },
        { index: 1, kind: 'image', source: '/data/B/B1.jpg' },
      ],
      images: [
        { file: 't001_s0.png', target: 1, seed: 0 },
        { file: 't000_s2.png', target: 0, seed: 2 },
      ],
    };
    await fsp.writeFile(path.join(dir, 'report.json'), JSON.stringify(report));
    const read = await readReconstructionDir(dir);
    expect(read.sources).toEqual(['/data/A/A1.jpg', '/data/B/B1.jpg']);
    expect(read.reconstructions).toEqual([
      { file: path.join(dir, 't001_s0.png'), target: 1, seed: 0 },
      { file: path.join(dir, 't000_s2.png'), target: 0, seed: 2 },
    ]);
    await fsp.writeFile(
      path.join(dir, 'report.json'),
      JSON.stringify({ ...report, targets: [{ index: 0, source: null }] }),
    );
    await expect(readReconstructionDir(dir)).rejects.toThrow(/no source photo/);
    await expect(readReconstructionDir(path.join(dir, 'nope'))).rejects.toThrow(/no report.json/);
    await fsp.rm(dir, { recursive: true, force: true });
  });
});
