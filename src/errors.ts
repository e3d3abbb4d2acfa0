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

/**
 * A bad value of a config key, or of a combination of keys. The message names the keys as the
 * library's configs spell them (`batchSize 32 is not a multiple of workers 3`); `render` words
 * it again with other names for the keys, which the CLI uses to name its flags instead
 * (`--batch-size 32 is not a multiple of --workers 3`).
 */
export class ConfigError<K extends string = string> extends ArcinvertError {
  /** The config keys the message names, the one at fault first. */
  readonly keys: readonly K[];
  private readonly compose: (name: (key: K) => string) => string;

  /**
   * @param keys the keys `compose` names.
   * @param compose builds the message, calling `name(key)` wherever it names a key.
   */
  constructor(keys: readonly K[], compose: (name: (key: K) => string) => string, exitCode = 2) {
    super(
      compose((key) => key),
      exitCode,
    );
    this.name = 'ConfigError';
    this.keys = keys;
    this.compose = compose;
  }

  /** The config key at fault. */
  get key(): K {
    return this.keys[0];
  }

  /** The message with each key written as `name(key)`. */
  render(name: (key: K) => string): string {
    return this.compose(name);
  }
}
