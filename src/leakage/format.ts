/**
 * The leakage report for people: a fixed-width table for the terminal and a markdown table
 * for docs, one row per system × FMR.
 */
import type { LeakageReport, RateSet } from './report.js';
import { formatFmr } from './units.js';

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function cell(r: RateSet, i: number): string {
  const a = r.atFmr[i];
  return r.comparisons === 0 ? '—' : `${pct(a.rate)} (${a.accepted}/${r.comparisons})`;
}

function rows(report: LeakageReport): string[][] {
  const out: string[][] = [];
  for (const s of report.systems) {
    s.thresholds.forEach((t, i) => {
      out.push([
        s.name,
        s.role,
        formatFmr(t.fmr),
        `${t.threshold.toFixed(3)}${t.allowed === 0 ? '*' : ''}`,
        cell(s.typeI, i),
        cell(s.typeII, i),
        cell(s.genuine, i),
        `${s.typeI.meanScore.toFixed(3)} / ${s.typeII.meanScore.toFixed(3)}`,
      ]);
    });
  }
  return out;
}

const HEADER = ['system', 'role', 'FMR', 'threshold', 'SAR type-I', 'SAR type-II', 'genuine match', 'mean cos I / II'];

function footnotes(report: LeakageReport): string[] {
  const notes = [
    `${report.targets} target(s) of ${report.identities} identities, ${report.reconstructions} reconstruction(s), ${report.photos} genuine photos; thresholds from ${report.impostorPairs} impostor pairs (${report.impostorSource}).`,
  ];
  for (const s of report.systems.filter((x) => x.relation))
    notes.push(`${s.name} is not independent of the attacked model: ${s.relation}.`);
  if (report.systems.some((s) => s.thresholds.some((t) => t.allowed === 0))) {
    notes.push('* too few impostor pairs to resolve this FMR: the threshold is the highest impostor score.');
  }
  return notes;
}

/** Plain-text table lines. */
export function leakageTable(report: LeakageReport): string[] {
  const table = [HEADER, ...rows(report)];
  const widths = HEADER.map((_, c) => Math.max(...table.map((r) => r[c].length)));
  return [
    ...table.map((r) =>
      r
        .map((v, c) => v.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    ),
    ...footnotes(report),
  ];
}

/** A markdown snippet: the table and its footnotes. */
export function leakageMarkdown(report: LeakageReport): string {
  const line = (r: string[]): string => `| ${r.join(' | ')} |`;
  return (
    [line(HEADER), line(HEADER.map(() => '---')), ...rows(report).map(line), '', ...footnotes(report)].join('\n') + '\n'
  );
}
