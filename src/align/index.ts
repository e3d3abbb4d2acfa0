/** Face alignment: detection + landmarks (face-api) → ArcFace 112×112 crops. */
export * from './geometry.js';
export * from './warp.js';
export * from './config.js';
export * from './calibration.js';
export { FaceLandmarker, type DetectedFace, type FaceBox } from './landmarker.js';
export { faceApiModelDir, faceApiVersion, loadFaceApiNet, type FaceApiNetName } from './faceapi.js';
export {
  readRaster,
  imageSize,
  flipRaster,
  resizeRaster,
  equalizeRaster,
  rasterToPng,
  rastersToTensor,
} from './raster.js';
export * from './align.js';
export * from './evaluate.js';
