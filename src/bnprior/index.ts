/** The BatchNorm-statistics prior: taps on every BN layer's input, and the prior's losses. */
export * from './taps.js';
export * from './loss.js';
export * from './calibrate.js';
export * from './targets.js';
