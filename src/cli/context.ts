/**
 * What a command needs from its surroundings, passed in (no globals): where to print, and
 * whether stdout is an interactive terminal (Ink UI) or not (plain lines).
 */
export interface CliContext {
  /** Writes a line (no trailing newline needed) for the user's results. */
  out: (line: string) => void;
  /** Writes a line of status or diagnostics. */
  err: (line: string) => void;
  /** True when stdout is a TTY and an Ink UI may be shown. */
  interactive: boolean;
}

/** The process's own streams. */
export function processContext(): CliContext {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    interactive: Boolean(process.stdout.isTTY) && process.env.CI === undefined,
  };
}
