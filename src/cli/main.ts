/** Entry point of the `arcinvert` executable. */
import { processContext } from './context.js';
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), processContext());
