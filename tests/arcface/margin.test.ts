import * as tf from '@tensorflow/tfjs';
import { ArcinvertError } from '../../src/errors.js';
import {
  MARGIN_PRESETS,
  marginCurve,
  marginFunction,
  marginLogits,
  marginThreshold,
  resolveMarginConfig,
  softmaxCrossEntropy,
  softmaxCrossEntropyRows,
  type MarginConfig,
} from '../../src/arcface/margin.js';

const DEG = Math.PI / 180;
const COMBINED: MarginConfig = { s: 64, m1: 1, m2: 0.3, m3: 0.2 };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Target logits (label 0) of rows [cos θ_i, 0.3, −0.2]. */
function targetLogits(thetasDeg: number[], cfg: MarginConfig): number[] {
  return tf.tidy(() => {
    const cos = tf.tensor2d(
      thetasDeg.flatMap((d) => [Math.cos(d * DEG), 0.3, -0.2]),
      [thetasDeg.length, 3],
    );
    const labels = tf.zeros([thetasDeg.length], 'int32') as tf.Tensor1D;
    const out = marginLogits(cos, labels, cfg).arraySync();
    for (const row of out) {
      expect(row[1]).toBeCloseTo(64 * 0.3, 4);
      expect(row[2]).toBeCloseTo(64 * -0.2, 4);
    }
    return out.map((r) => r[0]);
  });
}

function expectAllClose(actual: number[], expected: number[], digits = 3): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], digits));
}

describe('resolveMarginConfig', () => {
  test('defaults to ArcFace and resolves presets', () => {
    expect(resolveMarginConfig()).toEqual({ s: 64, m1: 1, m2: 0.5, m3: 0 });
    expect(resolveMarginConfig('cosface')).toEqual({ s: 64, m1: 1, m2: 0, m3: 0.35 });
    expect(resolveMarginConfig({ s: 30 }, 'sphereface')).toEqual({ s: 30, m1: 1.35, m2: 0, m3: 0 });
    expect(MARGIN_PRESETS.sphereface.m1).toBe(1.35);
  });

  test.each([
    [{ s: 0 }],
    [{ m1: 0.5 }],
    [{ m2: 2 }],
    [{ m3: -0.1 }],
    [{ s: Number.NaN }],
    [{ margin: 0.5 } as unknown as Partial<MarginConfig>],
  ])('rejects %p', (partial) => {
    expect(() => resolveMarginConfig(partial)).toThrow(ArcinvertError);
  });

  test('rejects an unknown preset', () => {
    expect(() => resolveMarginConfig('adaface' as 'arcface')).toThrow(ArcinvertError);
  });
});

describe('marginLogits values (hand-computed)', () => {
  test('ArcFace s=64 m=0.5: 64·cos(θ + 28.65°) while θ < 151.35°', () => {
    // 64·cos(0°+28.65°)=56.1653, 64·cos(58.65°)=33.2989, 64·cos(88.65°)=1.5102,
    // 64·cos(118.65°)=-30.6832, 64·cos(148.65°)=-54.6551, 64·cos(178.65°)=-63.9822
    expectAllClose(
      targetLogits([0, 30, 60, 90, 120, 150], MARGIN_PRESETS.arcface),
      [56.1653, 33.2989, 1.5102, -30.6832, -54.6551, -63.9822],
    );
  });

  test('ArcFace past θ + m = π: 64·(cos θ − sin(π − 0.5)·0.5) (arcface_torch sinmm = 0.239713)', () => {
    // 160°: 64·(−0.939693 − 0.239713) = −75.4819; 170°: −78.3693; 180°: 64·(−1.239713) = −79.3416
    expectAllClose(targetLogits([160, 170, 180], MARGIN_PRESETS.arcface), [-75.4819, -78.3693, -79.3416]);
    const { threshold, penalty } = marginThreshold(MARGIN_PRESETS.arcface);
    expect(threshold).toBeCloseTo(-0.8775826, 6); // cos(π − 0.5)
    expect(penalty).toBeCloseTo(0.2397128, 6); // sin(π − 0.5)·0.5
  });

  test('ArcFace either side of the switch cos θ = cos(π − m)', () => {
    const logits = tf.tidy(() =>
      marginLogits(
        tf.tensor2d([[-0.8727445], [-0.8823329]]),
        tf.tensor1d([0, 0], 'int32'),
        MARGIN_PRESETS.arcface,
      ).arraySync(),
    );
    expect(logits[0][0]).toBeCloseTo(-63.9968, 3); // θ = π − 0.51: 64·cos(π − 0.01)
    expect(logits[1][0]).toBeCloseTo(-71.8109, 3); // θ = π − 0.49: 64·(cos θ − 0.239713)
  });

  test('CosFace s=64 m=0.35: 64·(cos θ − 0.35) everywhere', () => {
    // 64·0.65=41.6, 64·0.15=9.6, 64·−0.35=−22.4, 64·−0.85=−54.4, 64·−1.35=−86.4
    expectAllClose(targetLogits([0, 60, 90, 120, 180], MARGIN_PRESETS.cosface), [41.6, 9.6, -22.4, -54.4, -86.4]);
    expect(marginThreshold(MARGIN_PRESETS.cosface).threshold).toBe(-Infinity);
  });

  test('SphereFace s=64 m1=1.35: 64·cos(1.35·θ), fallback past θ* = 133.33°', () => {
    // 64·cos(0)=64, 64·cos(40.5°)=48.6660, 64·cos(81°)=10.0118, 64·cos(121.5°)=-33.4399, 64·cos(162°)=-60.8676
    expectAllClose(
      targetLogits([0, 30, 60, 90, 120], MARGIN_PRESETS.sphereface),
      [64, 48.666, 10.0118, -33.4399, -60.8676],
    );
    // penalty = sin(θ*)·(π − θ*) = 0.727393·0.814487 = 0.592436; 150°: 64·(−0.866025 − 0.592436) = −93.3416
    expectAllClose(targetLogits([150, 180], MARGIN_PRESETS.sphereface), [-93.3416, -101.9159]);
  });

  test('combined (1, 0.3, 0.2): 64·(cos(θ + 0.3) − 0.2), fallback penalty sin(π − 0.3)·0.3', () => {
    // 60°: 64·(cos(77.19°) − 0.2) = 1.3914; 170°: 64·(cos 170° − 0.2 − 0.088656) = −81.5017
    expectAllClose(targetLogits([60, 170], COMBINED), [1.3914, -81.5017]);
  });

  test('label −1 applies no margin; marginFunction binds the config', () => {
    const out = tf.tidy(() => {
      const cos = tf.tensor2d([
        [0.5, 0.1],
        [0.2, 0.4],
      ]);
      return marginFunction(MARGIN_PRESETS.cosface)(cos, tf.tensor1d([-1, 1], 'int32')).arraySync();
    });
    expectAllClose(out[0], [32, 6.4], 4);
    expectAllClose(out[1], [12.8, 3.2], 4); // 64·(0.4 − 0.35) = 3.2
  });

  test('target logit is non-decreasing in cos θ for every preset and a combined margin', () => {
    for (const cfg of [...Object.values(MARGIN_PRESETS), COMBINED, { s: 1, m1: 1.7, m2: 0.2, m3: 0.1 }]) {
      const values = tf.tidy(() => marginCurve(tf.linspace(-1, 1, 4001), cfg).dataSync());
      for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1] - 1e-6);
    }
  });
});

describe('gradients', () => {
  const configs: [string, MarginConfig][] = [
    ['arcface', MARGIN_PRESETS.arcface],
    ['cosface', MARGIN_PRESETS.cosface],
    ['sphereface', MARGIN_PRESETS.sphereface],
    ['combined', COMBINED],
  ];

  test.each(configs)('%s: finite gradients at cos = ±1 and ±0.9999999', (_name, cfg) => {
    const before = tf.memory().numTensors;
    const grads = tf.tidy(() => {
      const cos = tf.tensor2d([
        [1, 0.2],
        [0.9999999, -0.3],
        [-1, 0.1],
        [-0.9999999, 0.9999999],
      ]);
      const labels = tf.tensor1d([0, 0, 0, 0], 'int32');
      const g = tf.grad((c: tf.Tensor) => softmaxCrossEntropy(marginLogits(c as tf.Tensor2D, labels, cfg), labels));
      return g(cos).dataSync();
    });
    expect(Array.from(grads).every(Number.isFinite)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  /** d/dc of the unscaled target curve, from tf.grad, at each cos value. */
  function curveGrad(cfg: MarginConfig, cosValues: number[]): Float32Array {
    return tf.tidy(
      () =>
        tf
          .grad((c: tf.Tensor) => marginCurve(c, cfg).sum())(tf.tensor1d(cosValues))
          .dataSync() as Float32Array,
    );
  }

  function curveAt(cfg: MarginConfig, c: number): number {
    return tf.tidy(() => marginCurve(tf.tensor1d([c]), cfg).dataSync()[0]);
  }

  test.each([
    // [name, cfg, θ, analytic d/dcos]
    ['arcface θ=0.05 (near 0)', MARGIN_PRESETS.arcface, 0.05, Math.sin(0.55) / Math.sin(0.05)], // 10.4581
    ['arcface θ=π−0.05 (fallback, slope 1)', MARGIN_PRESETS.arcface, Math.PI - 0.05, 1],
    ['sphereface θ=0.05', MARGIN_PRESETS.sphereface, 0.05, (1.35 * Math.sin(1.35 * 0.05)) / Math.sin(0.05)],
    ['sphereface θ=π−0.05 (fallback)', MARGIN_PRESETS.sphereface, Math.PI - 0.05, 1],
    ['cosface θ=0.05', MARGIN_PRESETS.cosface, 0.05, 1],
    [
      'm2=0.02 θ=π−0.05 (main branch near π)',
      { s: 1, m1: 1, m2: 0.02, m3: 0 },
      Math.PI - 0.05,
      Math.sin(Math.PI - 0.03) / Math.sin(Math.PI - 0.05),
    ],
  ] as [string, MarginConfig, number, number][])(
    '%s: tf.grad matches finite differences',
    (_n, cfg, theta, analytic) => {
      const c = Math.cos(theta);
      const h = 2e-4;
      const fd = (curveAt(cfg, c + h) - curveAt(cfg, c - h)) / (2 * h);
      const [g] = curveGrad(cfg, [c]);
      expect(Number.isFinite(g)).toBe(true);
      expect(Math.abs(g - analytic)).toBeLessThan(0.01 * Math.max(1, Math.abs(analytic)));
      expect(Math.abs(g - fd)).toBeLessThan(0.01 * Math.max(1, Math.abs(analytic)));
    },
  );
});

describe('softmaxCrossEntropy', () => {
  test('mean NLL: rows [0,0,0]→ln 3, [1,2,3]→ln(1+e⁻¹+e⁻²); label −1 rows ignored', () => {
    const [loss, grad] = tf.tidy(() => {
      const logits = tf.tensor2d([
        [0, 0, 0],
        [1, 2, 3],
        [5, 0, 0],
      ]);
      const labels = tf.tensor1d([1, 2, -1], 'int32');
      const l = softmaxCrossEntropy(logits, labels).dataSync()[0];
      const g = tf
        .grad((x: tf.Tensor) => softmaxCrossEntropy(x as tf.Tensor2D, labels))(logits)
        .arraySync() as number[][];
      return [l, g] as const;
    });
    // (1.098612 + 0.407606) / 2 = 0.753109
    expect(loss).toBeCloseTo(0.753109, 5);
    // d/dlogits = (softmax − onehot)/2 for counted rows: row 0 = (1/3 − [0,1,0])/2
    expectAllClose(grad[0], [1 / 6, -1 / 3, 1 / 6], 5);
    expectAllClose(grad[2], [0, 0, 0], 6);
  });
});

describe('softmaxCrossEntropyRows', () => {
  test('per-row NLL: ln 3, ln(1+e⁻¹+e⁻²), 0 for a label −1 row; no tensors left', () => {
    const before = tf.memory().numTensors;
    const logits = tf.tensor2d([
      [0, 0, 0],
      [1, 2, 3],
      [5, 0, 0],
    ]);
    const labels = tf.tensor1d([1, 2, -1], 'int32');
    const rows = softmaxCrossEntropyRows(logits, labels);
    expect(rows.shape).toEqual([3]);
    expectAllClose(Array.from(rows.dataSync()), [Math.log(3), Math.log(1 + Math.exp(-1) + Math.exp(-2)), 0], 5);
    // The mean over the labelled rows is softmaxCrossEntropy.
    const mean = softmaxCrossEntropy(logits, labels);
    expect(mean.dataSync()[0]).toBeCloseTo((rows.dataSync()[0] + rows.dataSync()[1]) / 2, 6);
    tf.dispose([logits, labels, rows, mean]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
