/**
 * User-facing errors.
 *
 * Anything the user can cause (a bad flag, a missing or corrupt file, a tensor of the wrong
 * shape) is thrown as an `ArcinvertError`: the CLI prints its message as one line and exits
 * with its `exitCode`, never a stack trace. Any other exception is a bug in arcinvert.
 */

/** An error caused by the user's input; its message is one line naming the problem. */
export class ArcinvertError extends Error {
  /** Process exit status the CLI uses for this error (2 = bad input, the default). */
  readonly exitCode: number;

  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'ArcinvertError';
    this.exitCode = exitCode;
  }
}

/** Throws an `ArcinvertError` with `message` unless `condition` holds. */
export function ensure(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ArcinvertError(message);
}
