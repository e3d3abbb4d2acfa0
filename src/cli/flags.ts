/**
 * Config keys as the user types them: the core's errors (`ConfigError`) name config keys
 * (`batchSize`); the CLI shows the flag that sets each (`--batch-size`) through this table.
 */
import { ArcinvertError, ConfigError } from '../errors.js';

/** The flag that sets each config key the core's errors name, where it is not the key in kebab case. */
export const FLAG_FOR_KEY: Readonly<Record<string, string>> = {
  priorStats: '--prior',
  checkpointEveryMinutes: '--checkpoint-every',
  bnFirstLayerWeight: '--bn-first-layer',
  tvL1Weight: '--tv-l1',
  tvL2Weight: '--tv-l2',
  l2Weight: '--l2',
};

/** `batchSize` → `--batch-size`. */
export const kebabFlag = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The flag that sets config key `key`. */
export function flagFor(key: string): string {
  return FLAG_FOR_KEY[key] ?? kebabFlag(key);
}

/** An error's message as the CLI user should read it: config keys become the flags that set them. */
export function userMessage(err: ArcinvertError): string {
  return err instanceof ConfigError ? err.render(flagFor) : err.message;
}
