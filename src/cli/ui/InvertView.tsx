/**
 * The interactive view of `arcinvert invert`: the title and each finished image printed once
 * (Ink `<Static>`), and below them a live region with overall progress, the current batch and
 * step, the loss terms with a sparkline of the total, the cosine to the targets, speed, ETA and
 * a half-block preview of the current best image. Props only; rendered by `mount.ts`.
 */
import { Box, Static, Text } from 'ink';
import type { InvertProgress } from '../../invert/types.js';
import { HalfBlockImage, ProgressLine, useHistory } from './components.js';
import { formatCosine, formatDuration, formatFinished, formatNumber, sparkline } from './format.js';

/** A finished image as the view lists it. */
export interface FinishedItem {
  /** E.g. `imageLabel(target, seed)` → 'target 3 seed 0'. */
  label: string;
  bestCosine: number;
}

export interface InvertViewProps {
  /** The latest progress event, null before the first. */
  progress: InvertProgress | null;
  /** Images finished so far, in order; the list only grows. */
  finished: FinishedItem[];
  title: string;
  /** Width of the preview in cells (default 24; it is at most half as many lines high). */
  previewCols?: number;
}

/** Loss history kept for the sparkline, and the sparkline's width in cells. */
const HISTORY = 40;
const SPARK_WIDTH = 30;

type StaticItem = { key: string; text: string; title: boolean };

export function InvertView({ progress, finished, title, previewCols = 24 }: InvertViewProps) {
  // One sample per global step; a new batch starts a new curve.
  const history = useHistory(progress?.globalStep ?? null, progress?.losses.total ?? NaN, HISTORY, progress?.batch);
  const items: StaticItem[] = [
    { key: 'title', text: title, title: true },
    ...finished.map((f, i) => ({ key: `done-${i}`, text: formatFinished(f.label, f.bestCosine), title: false })),
  ];
  return (
    <>
      <Static items={items}>
        {(item) =>
          item.title ? (
            <Text key={item.key} bold>
              {item.text}
            </Text>
          ) : (
            <Text key={item.key} color="green">
              {item.text}
            </Text>
          )
        }
      </Static>
      {progress === null ? (
        <Text dimColor>waiting for the first step…</Text>
      ) : (
        <Live p={progress} history={history} previewCols={previewCols} />
      )}
    </>
  );
}

function Live({ p, history, previewCols }: { p: InvertProgress; history: number[]; previewCols: number }) {
  const l = p.losses;
  const c = p.cosine;
  return (
    <Box flexDirection="row">
      <Box flexDirection="column" marginRight={2} flexShrink={0}>
        <ProgressLine done={p.globalStep} total={p.totalSteps} />
        <Text>
          {`batch ${p.batch + 1}/${p.batches}  step ${p.step}/${p.steps}  res ${p.resolution[0]}×${p.resolution[1]}  lr ${formatNumber(p.lr, 2)}`}
        </Text>
        <Text>
          {`loss ${formatNumber(l.total)}  `}
          <Text color="yellow">{sparkline(history, SPARK_WIDTH)}</Text>
        </Text>
        <Text>{`  id ${formatNumber(l.identity)}  bn ${formatNumber(l.bn)}  tv ${formatNumber(l.tvL1)}/${formatNumber(l.tvL2)}  l2 ${formatNumber(l.l2)}`}</Text>
        <Text>
          {`cos ${formatCosine(c.mean)}  min ${formatCosine(c.min)}  max ${formatCosine(c.max)}  best ${formatCosine(c.bestMean)}`}
        </Text>
        <Text>{`${formatNumber(p.stepsPerSecond, 3)} step/s  eta ${formatDuration(p.etaSeconds)}`}</Text>
      </Box>
      {p.preview ? <HalfBlockImage image={p.preview} cols={previewCols} rows={Math.ceil(previewCols / 2)} /> : null}
    </Box>
  );
}
