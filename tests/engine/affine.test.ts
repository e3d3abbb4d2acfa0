/**
 * channelAffine (x·a + b per channel as a 1×1 depthwise conv with bias) against plain
 * multiply and add: on wasm and on cpu, parameters [C] and [1, 1, 1, C], with and without b,
 * the rank-2 and broadcast-along-more-axes fallbacks, and no tensors left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { channelAffine } from '../../src/engine/affine.js';
import { selectBackend } from '../../src/engine/backend.js';
import { random, relErr, TOLERANCE } from './compare.js';

const cases: Array<[string, number[], number[], boolean]> = [
  ['NHWC, a and b [C]', [2, 5, 6, 7], [7], true],
  ['NHWC, a and b [1, 1, 1, C]', [3, 4, 4, 5], [1, 1, 1, 5], true],
  ['NHWC, a only', [2, 3, 3, 4], [4], false],
  ['NHWC, one channel', [2, 3, 3, 1], [1], true],
  ['rank 2 (mul / add)', [6, 7], [7], true],
  ['parameters broadcast over H too (mul / add)', [2, 3, 4, 5], [3, 1, 5], true],
];

describe.each(['wasm', 'cpu'])('on %s', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend as 'wasm' | 'cpu');
  });

  test.each(cases)('%s equals x·a + b', (_name, xs, ps, withB) => {
    const before = tf.memory().numTensors;
    const [x, a, b] = [
      tf.tensor(random(xs, 1).data, xs),
      tf.tensor(random(ps, 2).data, ps),
      tf.tensor(random(ps, 3).data, ps),
    ];
    const got = channelAffine(x, a, withB ? b : undefined);
    const ref = tf.tidy(() => (withB ? tf.add(tf.mul(x, a), b) : tf.mul(x, a)));
    expect(got.shape).toEqual(ref.shape);
    expect(relErr(got.dataSync(), ref.dataSync())).toBeLessThanOrEqual(TOLERANCE);
    tf.dispose([x, a, b, got, ref]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
