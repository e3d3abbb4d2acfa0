import * as tf from '@tensorflow/tfjs';
import { resolveBackboneConfig, parseBackboneName } from '../../src/backbone/index.js';
import { buildBackbone } from '../../src/model/build.js';
import { ArcinvertError } from '../../src/errors.js';
import { countBn, tinyIResNet, tinyMobileFaceNet } from '../helpers/tiny.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('mobilefacenet', () => {
  test('tiny config has the hand-counted parameters and BN layers', () => {
    const fm = tinyMobileFaceNet();
    // stem 256 + 112, bottlenecks 592+592+1440+1696+3328+1696, conv_sep 672, GDC 256, FC+BN 576
    expect(fm.model.countParams()).toBe(11216);
    expect(countBn(fm)).toBe(23);
    const y = tf.tidy(() => fm.model.predict(tf.zeros([3, 32, 32, 3])) as tf.Tensor);
    expect(y.shape).toEqual([3, 16]);
    y.dispose();
    fm.model.dispose();
  });

  test('default is insightface layout: 50 BN layers, 512-d, 7x7 GDC at 112', () => {
    const fm = buildBackbone('mobilefacenet');
    expect(countBn(fm)).toBe(50);
    expect(fm.model.getLayer('gdc_dwconv').getWeights()[0].shape).toEqual([7, 7, 512, 1]);
    expect(fm.model.outputs[0].shape).toEqual([null, 512]);
    expect(fm.meta.normalization).toEqual({ mean: 127.5, std: 127.5 });
    fm.model.dispose();
  });

  test('accepts non-square multiples of 16 and sizes the GDC to match', () => {
    const fm = buildBackbone('mobilefacenet', { inputSize: [64, 48], width: 8, headChannels: 16, embeddingSize: 8 });
    expect(fm.model.getLayer('gdc_dwconv').getWeights()[0].shape).toEqual([4, 3, 16, 1]);
    fm.model.dispose();
  });
});

describe('iresnet', () => {
  test('tiny config has the hand-counted parameters and BN layers', () => {
    const fm = tinyIResNet();
    // stem 128, blocks 372+1016+1352+3824, head BN 64, FC 136, BN1d 32
    expect(fm.model.countParams()).toBe(6924);
    expect(countBn(fm)).toBe(19);
    fm.model.dispose();
  });

  test('standard depths: BN counts of IResNet-18/34 (1 + 3 per block + 4 shortcuts + 2)', () => {
    for (const [name, blocks] of [
      ['iresnet18', 8],
      ['iresnet34', 16],
    ] as const) {
      const fm = buildBackbone(name, { widths: [4, 4, 4, 4], embeddingSize: 8 });
      expect(countBn(fm)).toBe(1 + 3 * blocks + 4 + 2);
      fm.model.dispose();
    }
  });

  test('strided convs pad symmetrically like PyTorch (padding=1), not tfjs "same"', () => {
    const fm = tinyIResNet();
    const pad = fm.model.getLayer('layer1_0_2_pad') as tf.layers.Layer;
    expect((pad.getConfig() as { padding: number[][] }).padding).toEqual([
      [1, 1],
      [1, 1],
    ]);
    fm.model.dispose();
  });
});

describe('config validation', () => {
  test('rejects an input size that is not a multiple of 16', () => {
    expect(() => buildBackbone('mobilefacenet', { inputSize: [100, 100] })).toThrow(/not a multiple of 16/);
  });
  test('rejects unknown keys and names', () => {
    expect(() => resolveBackboneConfig('iresnet18', { widht: 3 } as never)).toThrow(ArcinvertError);
    expect(() => parseBackboneName('resnet9')).toThrow(/unknown backbone 'resnet9'/);
  });
  test('same seed gives identical weights, another seed different ones', () => {
    const [a, b, c] = [tinyIResNet(5), tinyIResNet(5), tinyIResNet(6)];
    const wa = a.model.getLayer('stem_conv').getWeights()[0].dataSync();
    expect(b.model.getLayer('stem_conv').getWeights()[0].dataSync()).toEqual(wa);
    expect(c.model.getLayer('stem_conv').getWeights()[0].dataSync()).not.toEqual(wa);
    [a, b, c].forEach((m) => m.model.dispose());
  });
});
