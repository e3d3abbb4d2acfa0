/**
 * Option parsers shared by the commands: each turns a flag's string into a typed value or
 * throws a one-line `ArcinvertError` naming the flag.
 */
import { Option } from 'commander';
import { BACKEND_PREFERENCES, selectBackend, type BackendPreference } from '../engine/backend.js';
import { ArcinvertError } from '../errors.js';
import type { CliContext } from './context.js';

/** `--backend auto|tensorflow|wasm|cpu`, on every command that computes. */
export function backendOption(): Option {
  return new Option('--backend <name>', 'compute backend').choices(BACKEND_PREFERENCES).default('auto');
}

/** Selects the backend, prints the choice once on stderr, and returns its description. */
export async function useBackend(ctx: CliContext, preference: BackendPreference): Promise<string> {
  const info = await selectBackend(preference);
  ctx.err(`backend: ${info.device}`);
  return info.device;
}

/** Parses a positive integer flag. */
export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new ArcinvertError(`${flag} must be a positive integer, got '${value}'`);
    return n;
  };
}

/** Parses a non-negative integer flag. */
export function nonNegativeInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new ArcinvertError(`${flag} must be a non-negative integer, got '${value}'`);
    return n;
  };
}

/** Parses a finite non-negative number flag. */
export function nonNegativeNumber(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new ArcinvertError(`${flag} must be a number ≥ 0, got '${value}'`);
    return n;
  };
}
