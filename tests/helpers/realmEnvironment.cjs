/**
 * Jest's node environment with the host realm's typed-array constructors. A native addon
 * (onnxruntime-node) creates its output arrays in the host realm, and onnxruntime-common
 * checks them with `instanceof Float32Array`, which fails against the test sandbox's own
 * constructors. Used by the tests that run onnxruntime (`@jest-environment` docblock).
 */
const { TestEnvironment } = require('jest-environment-node');

const TYPED = [
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
  'ArrayBuffer',
];

class RealmEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED) this.global[name] = globalThis[name];
  }
}

module.exports = RealmEnvironment;
