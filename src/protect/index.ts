/** Template protection: schemes, keys, and protected-template comparison (docs/PROTECTION.md). */
export * from './schemes.js';
export * from './keyfile.js';
export * from './recover.js';
export * from './utility.js';
export * from './prior.js';
export * from './system.js';
