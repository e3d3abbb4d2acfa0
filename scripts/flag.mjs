// Flag parsing shared by the measurement scripts: `--name value` taken out of an argument list.

/**
 * The value of flag `name` in `args` (both removed from it), `dflt` when the flag is absent,
 * null when it has no value (the end of the list or another flag follows it).
 */
export function takeFlag(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const [, value] = args.splice(i, 2);
  return value === undefined || value.startsWith('--') ? null : value;
}

/** Whether the switch `name` (a flag without a value) is in `args`; removed from it. */
export function takeSwitch(args, name) {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}
