/**
 * The interactive view of `arcinvert train`: the title, messages and each finished epoch's
 * summary printed once (Ink `<Static>`), and below them a live region with the epoch and
 * overall progress bars, the loss with a sparkline, LR, throughput, ETA and the latest
 * evaluation. Props only; rendered by `trainMount.ts`.
 */
import { Box, Static, Text } from 'ink';
import type { EpochRecord, StepProgress } from '../../train/loop.js';
import { ProgressLine, useHistory } from './components.js';
import { formatDuration, formatNumber, sparkline } from './format.js';
import { formatAccuracy, formatEpochLine } from './trainPlain.js';

export interface TrainViewProps {
  title: string;
  /** The latest step, null before the first. */
  progress: StepProgress | null;
  /** Smoothed images per second (see `smoothRate`). */
  imagesPerSec: number;
  /** Finished epochs, in order; the list only grows. */
  epochs: EpochRecord[];
  /** Diagnostics (checkpoints, start-up), in order; the list only grows. */
  messages: string[];
}

const HISTORY = 60;
const SPARK_WIDTH = 40;

type StaticItem = { key: string; text: string; kind: 'title' | 'epoch' | 'message' };

export function TrainView({ title, progress, imagesPerSec, epochs, messages }: TrainViewProps) {
  const history = useHistory(progress?.step ?? null, progress?.loss ?? NaN, HISTORY);
  const items: StaticItem[] = [
    { key: 'title', text: title, kind: 'title' },
    ...messages.map((m, i) => ({ key: `m${i}`, text: m, kind: 'message' as const })),
    ...epochs.map((e) => ({ key: `e${e.epoch}`, text: formatEpochLine(e), kind: 'epoch' as const })),
  ];
  const latest = epochs.length > 0 ? epochs[epochs.length - 1] : null;
  return (
    <>
      <Static items={items}>
        {(item) => (
          <Text
            key={item.key}
            bold={item.kind === 'title'}
            color={item.kind === 'epoch' ? 'green' : undefined}
            dimColor={item.kind === 'message'}
          >
            {item.text}
          </Text>
        )}
      </Static>
      {progress === null ? (
        <Text dimColor>waiting for the first step…</Text>
      ) : (
        <Box flexDirection="column">
          <Text>
            {`epoch ${progress.epoch + 1}/${progress.epochs} `}
            <ProgressLine done={progress.batch + 1} total={progress.stepsPerEpoch} unit="batches" />
          </Text>
          <Text>
            {'total    '}
            <ProgressLine done={progress.step} total={progress.totalSteps} />
          </Text>
          <Text>
            {`loss ${formatNumber(progress.loss)}  `}
            <Text color="yellow">{sparkline(history, SPARK_WIDTH)}</Text>
          </Text>
          <Text>{`lr ${formatNumber(progress.lr, 3)}  ${formatNumber(imagesPerSec, 3)} img/s  eta ${formatDuration(progress.etaSeconds)}`}</Text>
          <Text>
            {latest === null
              ? 'no evaluation yet'
              : `last eval (epoch ${latest.epoch + 1}): ${latest.val ? `val ${formatAccuracy(latest.val)}` : 'no validation'}${latest.bench ? `  bench ${formatAccuracy(latest.bench)}` : ''}`}
          </Text>
        </Box>
      )}
    </>
  );
}
