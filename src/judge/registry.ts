/**
 * Independent judges by name (`arcinvert leakage --judge NAME`). A second judge is one more
 * entry: a loader returning a `Judge` with its own preprocessing from the 112×112 crop.
 */
import { loadDlibJudge } from './dlib.js';
import type { Judge } from './types.js';

export const JUDGE_LOADERS: Readonly<Record<string, () => Promise<Judge>>> = {
  dlib: () => loadDlibJudge(),
};

export const JUDGE_NAMES: readonly string[] = Object.keys(JUDGE_LOADERS);
