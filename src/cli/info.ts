/** `arcinvert info --model DIR`: what a face model is. */
import { Command } from 'commander';
import type { BackendPreference } from '../engine/backend.js';
import { describeFaceModel } from '../model/describe.js';
import { loadFaceModel } from '../model/store.js';
import type { CliContext } from './context.js';
import { backendOption, useBackend } from './options.js';

interface InfoFlags {
  model: string;
  backend: BackendPreference;
  json?: boolean;
}

export function infoCommand(ctx: CliContext): Command {
  return new Command('info')
    .description('show a face model: backbone, parameters, BatchNorm layers, input and embedding size')
    .requiredOption('--model <dir>', 'model directory (model.json + weights)')
    .addOption(backendOption())
    .option('--json', 'print one JSON object instead of text')
    .action(async (flags: InfoFlags) => {
      const backend = await useBackend(ctx, flags.backend);
      const fm = await loadFaceModel(flags.model);
      const d = { ...describeFaceModel(fm), backend };
      fm.model.dispose();
      if (flags.json) {
        ctx.out(JSON.stringify(d));
        return;
      }
      const rows: Array<[string, string]> = [
        ['model', flags.model],
        ['backbone', d.backbone],
        ['parameters', d.parameters.toLocaleString('en-US')],
        ['BatchNorm layers', String(d.bnLayers)],
        ['input size', `${d.inputSize.join('x')} RGB, (x - ${d.normalization.mean}) / ${d.normalization.std}`],
        ['embedding size', String(d.embeddingSize)],
        ['backend', backend],
      ];
      for (const [k, v] of rows) ctx.out(`${`${k}:`.padEnd(18)}${v}`);
    });
}
