/** BatchNorm folding: same embedding, BN layers gone, their places become folded taps. */
import * as tf from '@tensorflow/tfjs';
import { foldBatchNorms } from '../../src/backbone/fold.js';
import { BnTaps } from '../../src/bnprior/taps.js';
import { useWasm } from '../helpers/backend.js';
import { calibratedTinyMobileFaceNet, countBn, tinyIResNet } from '../helpers/tiny.js';

beforeAll(useWasm);

test.each([
  // model, BN layers, folded (a conv's only consumer), left (after an add, a flatten or the embedding dense)
  ['mobilefacenet', calibratedTinyMobileFaceNet, 23, 22, 1],
  ['iresnet', () => tinyIResNet(2), 19, 13, 6],
] as const)(
  '%s: the folded model computes the same embedding; the folded places are tapped instead',
  (_, make, bn, folded, left) => {
    const fm = make();
    expect(countBn(fm)).toBe(bn);
    const x = tf.randomUniform([3, ...fm.meta.inputSize, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const f = foldBatchNorms(fm.model);
    expect(f.folded).toBe(folded);
    expect(f.model.layers.filter((l) => l.getClassName() === 'BatchNormalization')).toHaveLength(left);
    const [a, b] = [fm.model.predict(x) as tf.Tensor, f.model.predict(x) as tf.Tensor];
    const [da, db] = [a.dataSync(), b.dataSync()];
    const scale = Math.max(...Array.from(da, Math.abs));
    for (let i = 0; i < da.length; i++) expect(Math.abs(da[i] - db[i])).toBeLessThan(1e-4 * scale);
    tf.dispose([a, b]);
    const taps = new BnTaps(f.model);
    expect([taps.layers.length, taps.folded.length]).toEqual([left, folded]);
    f.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    fm.model.dispose();
  },
);
