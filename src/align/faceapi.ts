/**
 * Access to @vladmandic/face-api (the maintained fork of face-api.js) and the weights that
 * ship inside its npm package (`model/`): SSD-MobileNet v1 and Tiny Face Detector (faces),
 * the 68-point landmark net, and the dlib ResNet-29 face-recognition net (128-d).
 *
 * The `node-wasm` build runs on whatever tfjs backend is active (it shares arcinvert's
 * `@tensorflow/tfjs`). Each loader returns a fresh network instance owned by the caller
 * (face-api's own `nets` singletons are not used) that must be `dispose()`d.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as faceapi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { ArcinvertError } from '../errors.js';

export { faceapi };

/** The face-api networks arcinvert uses, by their weight-file prefix in `model/`. */
export type FaceApiNetName = 'ssd_mobilenetv1' | 'tiny_face_detector' | 'face_landmark_68' | 'face_recognition';

/** Directory of the weights shipped with the installed @vladmandic/face-api. */
export function faceApiModelDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/** Version of the installed @vladmandic/face-api, for reports. */
export function faceApiVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('@vladmandic/face-api/package.json') as { version: string }).version;
}

type NetOf<N extends FaceApiNetName> = N extends 'ssd_mobilenetv1'
  ? faceapi.SsdMobilenetv1
  : N extends 'tiny_face_detector'
    ? faceapi.TinyFaceDetector
    : N extends 'face_landmark_68'
      ? faceapi.FaceLandmark68Net
      : faceapi.FaceRecognitionNet;

/** Builds a network and loads its shipped weights. The caller disposes it. */
export async function loadFaceApiNet<N extends FaceApiNetName>(
  name: N,
  modelDir = faceApiModelDir(),
): Promise<NetOf<N>> {
  const net = {
    ssd_mobilenetv1: () => new faceapi.SsdMobilenetv1(),
    tiny_face_detector: () => new faceapi.TinyFaceDetector(),
    face_landmark_68: () => new faceapi.FaceLandmark68Net(),
    face_recognition: () => new faceapi.FaceRecognitionNet(),
  }[name]();
  try {
    await net.loadFromDisk(modelDir);
  } catch (err) {
    net.dispose();
    throw new ArcinvertError(
      `cannot load face-api ${name} weights from ${modelDir}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  return net as NetOf<N>;
}
