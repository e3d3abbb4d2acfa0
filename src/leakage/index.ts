/** Leakage of identity through inversion: thresholds at FMR and Success Attack Rates per system. */
export * from './sar.js';
export * from './gallery.js';
export * from './report.js';
export * from './format.js';
export * from './units.js';
export * from './plot.js';
export * from './naturalness.js';
export * from './kid.js';
