/**
 * A bridge on disk: a directory with `bridge.json` (what it maps, how well, how it was fitted)
 * and `bridge.bin` (the weights, float32 little-endian, [(d_A + 1) × d_B] row-major, bias last).
 */
import * as path from 'node:path';
import { ArcinvertError } from '../errors.js';
import { readFileChecked, readJsonChecked, writeFileAtomic } from '../io/atomic.js';
import type { BridgeAgreement, LinearBridge } from './fit.js';

export const BRIDGE_JSON = 'bridge.json';
export const BRIDGE_BIN = 'bridge.bin';

/** One side of the bridge. */
export interface BridgeEnd {
  /** The model directory as given. */
  model: string;
  family: string;
  fingerprints: string[];
  dim: number;
}

export interface BridgeRecord {
  format: 'arcinvert-bridge/1';
  from: BridgeEnd;
  to: BridgeEnd;
  ridge: number;
  /** Faces the final map was fitted on, and the held-out identities' agreement. */
  images: number;
  heldOut: BridgeAgreement & { identities: number };
  tried: Array<{ ridge: number; heldOut: BridgeAgreement }>;
  /** Where the faces came from. */
  source: string;
}

/** Writes `dir/bridge.json` and `dir/bridge.bin` (the caller stages `dir`). */
export async function saveBridge(dir: string, record: BridgeRecord, bridge: LinearBridge): Promise<void> {
  const w = bridge.weights;
  await writeFileAtomic(path.join(dir, BRIDGE_BIN), new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  await writeFileAtomic(path.join(dir, BRIDGE_JSON), `${JSON.stringify(record, null, 2)}\n`);
}

/** Reads a bridge directory, checking that the weights fit the record. */
export async function loadBridge(dir: string): Promise<{ record: BridgeRecord; bridge: LinearBridge }> {
  const record = (await readJsonChecked(path.join(dir, BRIDGE_JSON), 'bridge record')) as BridgeRecord | null;
  const end = (e: BridgeEnd | undefined): boolean =>
    Number.isInteger(e?.dim) && e!.dim > 0 && typeof e!.family === 'string' && Array.isArray(e!.fingerprints);
  if (
    record?.format !== 'arcinvert-bridge/1' ||
    !end(record.from) ||
    !end(record.to) ||
    typeof record.ridge !== 'number' ||
    typeof record.heldOut?.mean !== 'number'
  )
    throw new ArcinvertError(
      `${path.join(dir, BRIDGE_JSON)} is not an arcinvert bridge record (format arcinvert-bridge/1 with from, to, ridge, heldOut)`,
    );
  const bytes = await readFileChecked(path.join(dir, BRIDGE_BIN), 'bridge weights');
  const expected = (record.from.dim + 1) * record.to.dim * 4;
  if (bytes.byteLength !== expected)
    throw new ArcinvertError(
      `${path.join(dir, BRIDGE_BIN)} is ${bytes.byteLength} bytes, a ${record.from.dim} → ${record.to.dim} bridge needs ${expected} (truncated or corrupt)`,
    );
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (!weights.every(Number.isFinite))
    throw new ArcinvertError(`${path.join(dir, BRIDGE_BIN)} holds non-finite weights`);
  return { record, bridge: { from: record.from.dim, to: record.to.dim, weights, ridge: record.ridge } };
}
