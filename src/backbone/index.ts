/** Face-recognition backbones: MobileFaceNet and IResNet, built with tf.layers. */
export * from './types.js';
export { BACKBONES, BACKBONE_NAMES, parseBackboneName, resolveBackboneConfig } from './registry.js';
export { DEFAULT_MOBILEFACENET_CONFIG } from './mobilefacenet.js';
export { DEFAULT_IRESNET_CONFIG, IRESNET_LAYERS } from './iresnet.js';
