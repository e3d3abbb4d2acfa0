/**
 * Small Ink pieces shared by the `invert` and `train` views: a half-block image, a progress
 * line, and a hook that keeps a bounded history of a value seen across renders. Props only.
 */
import { useMemo, useState } from 'react';
import { Box, Text } from 'ink';
import type { RgbImage } from '../../invert/types.js';
import { progressBar } from './format.js';
import { renderHalfBlocks } from './halfblock.js';

export interface HalfBlockImageProps {
  image: RgbImage;
  /** Most character cells across and lines down (two pixels per line). */
  cols: number;
  rows: number;
}

/** An RGB image drawn with '▀' cells in 24-bit colour (see `renderHalfBlocks`). */
export function HalfBlockImage({ image, cols, rows }: HalfBlockImageProps) {
  const lines = useMemo(() => renderHalfBlocks(image, cols, rows), [image, cols, rows]);
  return (
    <Box flexDirection="column" flexShrink={0}>
      {lines.map((line, i) => (
        <Text key={i} wrap="truncate">
          {line}
        </Text>
      ))}
    </Box>
  );
}

export interface ProgressLineProps {
  done: number;
  total: number;
  /** Width of the bar in cells (default 30). */
  width?: number;
  /** What is counted, after the numbers (default 'steps'). */
  unit?: string;
}

/** `████░░░░  42%  1680/4000 steps`. */
export function ProgressLine({ done, total, width = 30, unit = 'steps' }: ProgressLineProps) {
  const fraction = total > 0 ? done / total : 0;
  const pct = `${Math.floor(Math.min(1, Math.max(0, fraction)) * 100)}%`.padStart(4);
  return (
    <Text>
      <Text color="cyan">{progressBar(fraction, width)}</Text>
      {` ${pct}  ${done}/${total} ${unit}`}
    </Text>
  );
}

interface HistoryState {
  key: unknown;
  resetKey: unknown;
  values: number[];
}

/**
 * The last `max` values of a series fed one sample per render: a sample is appended when
 * `key` differs from the previous sample's (null means no sample), and the history restarts
 * when `resetKey` changes (e.g. a new batch). State lives in the calling component.
 */
export function useHistory(key: unknown, value: number, max: number, resetKey?: unknown): number[] {
  const [state, setState] = useState<HistoryState>({ key: null, resetKey: undefined, values: [] });
  if (key !== null && key !== undefined && key !== state.key) {
    // Adjusting state while rendering (React's documented pattern for state derived from props):
    // the frame that shows a new sample already includes it.
    const values = resetKey === state.resetKey ? [...state.values, value].slice(-max) : [value];
    setState({ key, resetKey, values });
    return values;
  }
  return state.values;
}
