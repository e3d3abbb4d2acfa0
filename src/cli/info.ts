/** `arcinvert info --model DIR`: what a face model is. */
import { Command } from 'commander';
import type { BackendPreference } from '../engine/backend.js';
import { describeFaceModel } from '../backbone/describe.js';
import { loadFaceModel } from '../io/modelStore.js';
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
      await useBackend(ctx, flags.backend);
      const fm = await loadFaceModel(flags.model);
      const d = describeFaceModel(fm);
      fm.model.dispose();
      if (flags.json) {
        ctx.out(JSON.stringify(d));
        return;
      }
      ctx.out(`model:           ${flags.model}`);
      ctx.out(`backbone:        ${d.backbone}`);
      ctx.out(`parameters:      ${d.parameters.toLocaleString('en-US')}`);
      ctx.out(`BatchNorm layers: ${d.bnLayers}`);
      ctx.out(`input size:      ${d.inputSize.join('x')} RGB, (x - ${d.normalization.mean}) / ${d.normalization.std}`);
      ctx.out(`embedding size:  ${d.embeddingSize}`);
    });
}
