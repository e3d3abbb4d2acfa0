/**
 * Reading an ONNX model file: the protobuf is decoded with `onnx-proto` (ONNX's own schema,
 * compiled for protobufjs) into plain graph data — nodes with their attributes, float
 * initialisers as Float32Arrays (raw or typed fields, or external data files next to the
 * model), the graph's input and output — with a one-line `ArcinvertError` for every way a file
 * can be unusable: unreadable, truncated, not ONNX, an unsupported opset, external data that
 * is missing or short.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import { ArcinvertError } from '../errors.js';
import { readFileChecked } from '../io/atomic.js';

// onnx-proto is CommonJS: its namespace comes through the default export under ESM.
const { onnx } = onnxProto;

/** Opsets of the default domain the importer knows (insightface exports use 11–13). */
export const SUPPORTED_OPSETS: readonly [number, number] = [9, 21];

/** A constant tensor of the graph (initialiser or Constant node). */
export interface OnnxTensor {
  dims: number[];
  /** Values as float32 (int64 shapes converted, exactly for |v| < 2^53). */
  data: Float32Array;
}

export type OnnxAttribute = number | number[] | string | OnnxTensor;

export interface OnnxNode {
  /** The node's name, or `<opType>#<index>` when the file has none. */
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
}

export interface OnnxGraph {
  /** The source file. */
  file: string;
  producer: string;
  opset: number;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  /** The one graph input that is not an initialiser: name and dims (null = symbolic). */
  input: { name: string; dims: (number | null)[] };
  /** The graph's outputs by name. */
  outputs: string[];
}

const DT = onnx.TensorProto.DataType;

function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber();
}

/** How each supported element type is stored: bytes per value in `rawData`, and its typed field. */
const DECODERS: Partial<
  Record<
    number,
    {
      width: number;
      read: (v: DataView, offset: number) => number;
      field: (t: OnnxNs.ITensorProto) => ArrayLike<number>;
    }
  >
> = {
  [DT.FLOAT]: { width: 4, read: (v, o) => v.getFloat32(o, true), field: (t) => t.floatData ?? [] },
  [DT.DOUBLE]: { width: 8, read: (v, o) => v.getFloat64(o, true), field: (t) => t.doubleData ?? [] },
  [DT.INT32]: { width: 4, read: (v, o) => v.getInt32(o, true), field: (t) => t.int32Data ?? [] },
  [DT.INT64]: {
    width: 8,
    read: (v, o) => Number(v.getBigInt64(o, true)),
    field: (t) => (t.int64Data ?? []).map(toNumber),
  },
};

/** Float32 values of a tensor proto, reading external data relative to `dir`. */
async function tensorValues(t: OnnxNs.ITensorProto, dir: string, what: string): Promise<OnnxTensor> {
  const dims = (t.dims ?? []).map(toNumber);
  const count = dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? DT.UNDEFINED;
  let raw: Uint8Array | null = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const info = Object.fromEntries((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    if (!info.location) throw new ArcinvertError(`${what} is stored as external data without a location`);
    const file = path.resolve(dir, info.location);
    const bytes = await fsp.readFile(file).catch(() => {
      throw new ArcinvertError(`${what}: its external data file ${info.location} is missing (expected at ${file})`);
    });
    const offset = Number(info.offset ?? 0);
    const width = DECODERS[type]?.width ?? (Number(type) === Number(DT.FLOAT16) ? 2 : 4);
    const length = info.length !== undefined ? Number(info.length) : count * width;
    if (offset + length > bytes.length)
      throw new ArcinvertError(
        `${what}: its external data file ${info.location} is too short (${bytes.length} bytes, needs ${offset + length})`,
      );
    raw = new Uint8Array(bytes.buffer, bytes.byteOffset + offset, length);
  }
  const reader = DECODERS[type];
  if (!reader) {
    const name = (DT as unknown as Record<number, string>)[type] ?? String(type);
    throw new ArcinvertError(
      `${what} has data type ${name}; the importer reads float32, float64, int32 and int64 tensors (convert float16 models to float32)`,
    );
  }
  const values = raw ? null : reader.field(t);
  const n = raw ? raw.length / reader.width : values!.length;
  if (n !== count)
    throw new ArcinvertError(`${what} has ${n} values for dims [${dims.join(', ')}] (truncated or corrupt file)`);
  const data = new Float32Array(count);
  if (raw) {
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) data[i] = reader.read(v, i * reader.width);
  } else data.set(values!);
  return { dims, data };
}

async function attributes(node: OnnxNs.INodeProto, dir: string, what: string): Promise<Record<string, OnnxAttribute>> {
  const out: Record<string, OnnxAttribute> = {};
  const A = onnx.AttributeProto.AttributeType;
  for (const a of node.attribute ?? []) {
    const name = a.name ?? '';
    switch (a.type) {
      case A.INT:
        out[name] = toNumber(a.i ?? 0);
        break;
      case A.FLOAT:
        out[name] = a.f ?? 0;
        break;
      case A.INTS:
        out[name] = (a.ints ?? []).map(toNumber);
        break;
      case A.FLOATS:
        out[name] = [...(a.floats ?? [])];
        break;
      case A.STRING:
        out[name] = new TextDecoder().decode(a.s ?? new Uint8Array(0));
        break;
      case A.TENSOR:
        out[name] = await tensorValues(a.t ?? {}, dir, `${what} attribute ${name}`);
        break;
      default:
        break; // graphs, sparse tensors: no supported operator uses them
    }
  }
  return out;
}

/**
 * Reads and decodes an ONNX model.
 * @throws ArcinvertError for a missing, truncated or non-ONNX file, an opset outside
 *   `SUPPORTED_OPSETS`, missing external data, or a graph without exactly one image input.
 */
export async function readOnnx(file: string): Promise<OnnxGraph> {
  return parseOnnx(await readFileChecked(file, 'ONNX model'), file);
}

/** Decodes the bytes of the ONNX model `file` (external data is read relative to it); see `readOnnx`. */
export async function parseOnnx(bytes: Uint8Array, file: string): Promise<OnnxGraph> {
  let model: OnnxNs.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ArcinvertError(
      `${file} is not a readable ONNX model (truncated or corrupt: ${(err as Error).message.split('\n')[0]})`,
    );
  }
  const g = model.graph;
  if (!g || (g.node ?? []).length === 0)
    throw new ArcinvertError(`${file} is not an ONNX model with a graph (truncated or not ONNX)`);
  const opsetEntry = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  const opset = opsetEntry ? toNumber(opsetEntry.version ?? 0) : 0;
  if (opset < SUPPORTED_OPSETS[0] || opset > SUPPORTED_OPSETS[1]) {
    throw new ArcinvertError(
      `${file}: unsupported ONNX opset ${opset} (the importer reads opsets ${SUPPORTED_OPSETS[0]}–${SUPPORTED_OPSETS[1]}; re-export with e.g. opset_version=11)`,
    );
  }
  const dir = path.dirname(path.resolve(file));
  const initializers = new Map<string, OnnxTensor>();
  for (const t of g.initializer ?? [])
    initializers.set(t.name ?? '', await tensorValues(t, dir, `${file}: initialiser ${t.name ?? '?'}`));
  const nodes: OnnxNode[] = [];
  for (const [i, n] of (g.node ?? []).entries()) {
    const name = n.name || `${n.opType ?? '?'}#${i}`;
    nodes.push({
      name,
      opType: n.opType ?? '',
      domain: n.domain ?? '',
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attributes: await attributes(n, dir, `${file}: node ${name}`),
    });
  }
  const inputs = (g.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  if (inputs.length !== 1)
    throw new ArcinvertError(
      `${file}: a face model has one image input, this graph has ${inputs.length} (${inputs.map((v) => v.name).join(', ')})`,
    );
  const dims = (inputs[0].type?.tensorType?.shape?.dim ?? []).map((d) =>
    d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : null,
  );
  const outputs = (g.output ?? []).map((v) => v.name ?? '');
  if (outputs.length === 0) throw new ArcinvertError(`${file}: the graph has no output`);
  return {
    file,
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    opset,
    nodes,
    initializers,
    input: { name: inputs[0].name ?? '', dims },
    outputs,
  };
}
