/**
 * Inputs for the bad-input suite, made once per run in one temp folder (read only by the rows):
 * a tiny model and broken copies of it, .npy files, images of every bad kind, ONNX files,
 * pairs files, a tiny face folder and a short training run.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import onnxProto from 'onnx-proto';
import { saveFaceModel } from '../../src/model/store.js';
import { writeNpy } from '../../src/io/npy.js';
import { calibratedTinyMobileFaceNet } from '../helpers/tiny.js';
import { QUICK_TRAIN_FLAGS } from '../helpers/cli.js';
import { identityColour, makeFaceFolder, writeColourPng } from '../train/faces.js';
import { REPO, runArcinvert } from './run.js';

/** Paths of the shared inputs. */
export interface Fixtures {
  root: string;
  /** Tiny MobileFaceNet, 32×32 input, 16-d, with a classifier-free directory. */
  model: string;
  /** Same topology, every weight byte 0xFF (NaN). */
  nanModel: string;
  /** Metadata says 17-d, the topology gives 16-d. */
  badMetaModel: string;
  /** A folder with a README and no model.json. */
  notModel: string;
  /** model.json that is not JSON. */
  garbageModel: string;
  /** 2×16 unit rows. */
  vec: string;
  npy: {
    truncated: string;
    int32: string;
    rank3: string;
    empty: string;
    dim4: string;
    nan: string;
    badMagic: string;
    overflow: string;
    text: string;
  };
  /** 32×32 PNG "aligned crops" (the model's input size): a.png, b.png. */
  crops: string;
  corrupt: string;
  tiny20: string;
  tiny24: string;
  /** A real photo with a face (../shared/data/raw-samples). */
  photo: string;
  onnx: { good: string; truncated: string; text: string; sigmoid: string };
  pairs: { malformed: string };
  /** ImageFolder of 8 identities × 4 16×16 images (train), and 3 × 2 32×32 (leakage targets). */
  faces: string;
  faces32: string;
  /** Tiny training flags (16×16 IResNet, 8-d). */
  trainFlags: string[];
  /** A finished 2-step training run (copy it before changing it). */
  run: string;
}

export const TRAIN_FLAGS = QUICK_TRAIN_FLAGS;

const NPY = path.join(REPO, 'tests/fixtures/npy');
const ONNX = path.join(REPO, 'tests/fixtures/onnx/iresnet-tiny.onnx');

/** A copy of model directory `src` at `dst`, then `edit(dst)`. */
async function modelCopy(src: string, dst: string, edit: (dir: string) => Promise<void>): Promise<string> {
  await fsp.cp(src, dst, { recursive: true });
  await edit(dst);
  return dst;
}

async function weightFile(dir: string): Promise<string> {
  return path.join(
    dir,
    (await fsp.readdir(dir)).find((f) => f.endsWith('.bin'))!,
  );
}

/** A .npy header claiming `shape`, with no data. */
function npyHeader(shape: string): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1')]);
}

async function make(): Promise<Fixtures> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'arcinvert-reliability-'));
  const at = (...p: string[]) => path.join(root, ...p);

  await tf.setBackend('cpu');
  const fm = calibratedTinyMobileFaceNet(3);
  const model = at('model');
  await saveFaceModel(fm, model);
  fm.model.dispose();
  const nanModel = await modelCopy(model, at('nan-model'), async (d) => {
    const w = await weightFile(d);
    await fsp.writeFile(w, Buffer.alloc((await fsp.stat(w)).size, 0xff));
  });
  const badMetaModel = await modelCopy(model, at('bad-meta-model'), async (d) => {
    const j = JSON.parse(await fsp.readFile(path.join(d, 'model.json'), 'utf8'));
    j.userDefinedMetadata.arcinvert.embeddingSize = 17;
    await fsp.writeFile(path.join(d, 'model.json'), JSON.stringify(j));
  });
  const notModel = at('not-a-model');
  await fsp.mkdir(notModel);
  await fsp.writeFile(path.join(notModel, 'README'), 'no model here\n');
  const garbageModel = at('garbage-model');
  await fsp.mkdir(garbageModel);
  await fsp.writeFile(path.join(garbageModel, 'model.json'), '{"modelTopology": [1, 2');

  const vec = at('vec.npy');
  const rows = tf.tidy(() => tf.randomNormal([2, 16], 0, 1, 'float32', 5).div(16 ** 0.5));
  await writeNpy(vec, rows.dataSync() as Float32Array, [2, 16]);
  rows.dispose();
  const badMagic = at('bad-magic.npy');
  await fsp.writeFile(badMagic, Buffer.concat([Buffer.from('NOTNUMPY'), Buffer.alloc(120)]));
  const overflow = at('overflow.npy');
  await fsp.writeFile(overflow, npyHeader('(4294967296, 4294967296)'));
  const text = at('text.npy');
  await fsp.writeFile(text, 'these are not embeddings\n');

  const crops = at('crops');
  await writeColourPng(path.join(crops, 'a.png'), identityColour(0, 4), 32, 1);
  await writeColourPng(path.join(crops, 'b.png'), identityColour(2, 4), 32, 2);
  const corrupt = at('corrupt.png');
  await fsp.writeFile(corrupt, 'this is not a PNG');
  const tiny20 = at('tiny20.png');
  await writeColourPng(tiny20, [200, 150, 120], 20, 3);
  const tiny24 = at('tiny24.png');
  await writeColourPng(tiny24, [120, 150, 200], 24, 4);
  const photo = at('photo.jpg');
  await fsp.copyFile(path.resolve(REPO, '../shared/data/raw-samples/cacd_18_Ashley_Hinshaw_0006.jpg'), photo);

  const bytes = await fsp.readFile(ONNX);
  const truncated = at('cut.onnx');
  await fsp.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const onnxText = at('text.onnx');
  await fsp.writeFile(onnxText, 'hello, this is not protobuf at all');
  const m = onnxProto.onnx.ModelProto.decode(bytes);
  m.graph!.node![3].opType = 'Sigmoid';
  const sigmoid = at('sigmoid.onnx');
  await fsp.writeFile(sigmoid, onnxProto.onnx.ModelProto.encode(m).finish());

  const malformed = at('pairs-malformed.txt');
  await fsp.writeFile(malformed, '10 300\nAaron_Peirsol 1\nthis line has far too many fields a b c d\n');

  const faces = await makeFaceFolder(8, 4, 16);
  const faces32 = await makeFaceFolder(3, 2, 32);
  const run = at('run');
  const trained = await runArcinvert(['train', '--data', faces, '--out', run, ...TRAIN_FLAGS, '--max-steps', '2'], {
    cwd: root,
    timeoutMs: 60_000,
  });
  if (trained.code !== 0) throw new Error(`fixture training run failed: ${trained.stderr}`);

  return {
    root,
    model,
    nanModel,
    badMetaModel,
    notModel,
    garbageModel,
    vec,
    npy: {
      truncated: path.join(NPY, 'truncated.npy'),
      int32: path.join(NPY, 'i4.npy'),
      rank3: path.join(NPY, 'f4_3d.npy'),
      empty: path.join(NPY, 'empty.npy'),
      dim4: path.join(NPY, 'f4_2d.npy'),
      nan: path.join(NPY, 'nan.npy'),
      badMagic,
      overflow,
      text,
    },
    crops,
    corrupt,
    tiny20,
    tiny24,
    photo,
    onnx: { good: ONNX, truncated, text: onnxText, sigmoid },
    pairs: { malformed },
    faces,
    faces32,
    trainFlags: TRAIN_FLAGS,
    run,
  };
}

let made: Promise<Fixtures> | undefined;

/** The fixtures, made on first use (concurrent tests start before `beforeAll` hooks run). */
export function fixtures(): Promise<Fixtures> {
  made ??= make();
  return made;
}

/** Removes the fixtures' folders. */
export async function removeFixtures(): Promise<void> {
  if (!made) return;
  const fx = await made;
  for (const dir of [fx.root, fx.faces, fx.faces32]) await fsp.rm(dir, { recursive: true, force: true });
}

/** A PNG of `w`×`h` of one colour, cheap to encode however large. */
export async function flatPng(file: string, w: number, h: number): Promise<void> {
  await fsp.writeFile(
    file,
    await sharp({ create: { width: w, height: h, channels: 3, background: { r: 128, g: 100, b: 90 } } })
      .png({ compressionLevel: 1 })
      .toBuffer(),
  );
}
