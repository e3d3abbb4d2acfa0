/**
 * The arcinvert command line: registers one command per file and turns every failure into
 * one line on stderr and an exit status (2 for bad input, 1 for a bug), never a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { ArcinvertError } from '../errors.js';
import type { CliContext } from './context.js';
import { userMessage } from './flags.js';
import { embedCommand } from './embed.js';
import { evalCommand } from './eval.js';
import { infoCommand } from './info.js';
import { purifyCommand } from './purify.js';
import { trainCommand } from './train.js';
import { invertCommand } from './invert.js';
import { alignCommand } from './align.js';
import { leakageCommand } from './leakage.js';
import { calibrateCommand } from './calibrate.js';
import { importCommand } from './import.js';
import { exportCommand } from './export.js';
import { bridgeCommand } from './bridge.js';
import { mergeCommand } from './merge.js';
import { protectCommand } from './protect.js';
import { protectEvalCommand } from './protectEval.js';

/** The program with every command registered; output goes through `ctx`. */
export function createProgram(ctx: CliContext): Command {
  const program = new Command('arcinvert')
    .description('Train ArcFace face-recognition models and invert them into faces (BatchNorm-statistics prior)')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.out(s.trimEnd()), writeErr: (s) => ctx.err(s.trimEnd()) })
    .showSuggestionAfterError();
  for (const make of [
    infoCommand,
    embedCommand,
    invertCommand,
    trainCommand,
    evalCommand,
    purifyCommand,
    alignCommand,
    leakageCommand,
    calibrateCommand,
    importCommand,
    exportCommand,
    bridgeCommand,
    mergeCommand,
    protectCommand,
    protectEvalCommand,
  ]) {
    program.addCommand(throughContext(make(ctx), ctx));
  }
  return program;
}

/**
 * `cmd` and its subcommands (`bridge fit`, …) report through `ctx` and never exit the process:
 * commands added with `addCommand` inherit none of these settings.
 */
function throughContext(cmd: Command, ctx: CliContext): Command {
  cmd.exitOverride().configureOutput({ writeOut: (s) => ctx.out(s.trimEnd()), writeErr: (s) => ctx.err(s.trimEnd()) });
  for (const sub of cmd.commands) throughContext(sub, ctx);
  return cmd;
}

/** One-line text of a non-user error, with the stack only when ARCINVERT_DEBUG is set. */
function describeBug(err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  return process.env.ARCINVERT_DEBUG
    ? (e.stack ?? e.message)
    : `internal error: ${e.message.split('\n')[0]} (set ARCINVERT_DEBUG=1 for the stack)`;
}

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit status.
 */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  try {
    await createProgram(ctx).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its one-line message (or the help / version).
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ArcinvertError) {
      ctx.err(`arcinvert: ${userMessage(err)}`);
      return err.exitCode;
    }
    ctx.err(`arcinvert: ${describeBug(err)}`);
    return 1;
  }
}
