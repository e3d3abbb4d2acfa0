/**
 * File input/output for arcinvert: atomic writes, NumPy .npy embeddings, image files ↔
 * normalised tensors, and contact-sheet grids.
 */

export { ensureDir, fsError, INPUT_LIMITS, readFileChecked, writeFileAtomic } from './atomic.js';
export type { InputKind } from './atomic.js';
export { embeddingsFromNpy, encodeNpy, parseNpy, pyShape, readEmbeddings, readNpy, writeNpy } from './npy.js';
export type { Embeddings, NpyArray } from './npy.js';
export {
  DEFAULT_NORMALIZATION,
  denormalizeToBytes,
  IMAGE_EXTENSIONS,
  listImages,
  readImageBatch,
  readImageTensor,
  RESIZE_KERNEL,
  tensorToPng,
  writePng,
} from './image.js';
export type { Normalization, ReadImageOptions } from './image.js';
export { contactSheetLayout, contactSheetPng, gridRows, writeContactSheet } from './grid.js';
export type { ContactSheetLayout, ContactSheetOptions } from './grid.js';
export { loadCsvManifest, loadImageFolder, splitByIdentity, type Dataset, type LabeledItem } from './imageFolder.js';
