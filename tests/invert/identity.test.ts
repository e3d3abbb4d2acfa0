import * as tf from '@tensorflow/tfjs';
import { rowCosine } from '../../src/arcface/normalize.js';
import { identityLoss } from '../../src/invert/identity.js';
import { ArcFaceHead } from '../../src/arcface/head.js';
import { marginFunction, resolveMarginConfig } from '../../src/arcface/margin.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/*
 * Rows (embedding → target), neither normalised:
 *   [3, 4] → [4, 3]:  cos = 24/25 = 0.96
 *   [1, 0] → [0, 2]:  cos = 0
 *   [-1, 0] → [2, 0]: cos = −1
 * cosine loss 1 − cos = [0.04, 1, 2];  l2 loss ‖ê − t̂‖² = 2 − 2cos = [0.08, 2, 4].
 */
const E = [
  [3, 4],
  [1, 0],
  [-1, 0],
];
const T = [
  [4, 3],
  [0, 2],
  [2, 0],
];

test('rowCosine, cosine and l2 identity losses of hand vectors', () => {
  const e = tf.tensor2d(E);
  const t = tf.tensor2d(T);
  const before = tf.memory().numTensors;
  const cos = rowCosine(e, t);
  const lc = identityLoss('cosine', e, t);
  const ll = identityLoss('l2', e, t);
  [0.96, 0, -1].forEach((v, i) => expect(cos.dataSync()[i]).toBeCloseTo(v, 6));
  [0.04, 1, 2].forEach((v, i) => expect(lc.dataSync()[i]).toBeCloseTo(v, 6));
  [0.08, 2, 4].forEach((v, i) => expect(ll.dataSync()[i]).toBeCloseTo(v, 5));
  tf.dispose([cos, lc, ll]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([e, t]);
});

test('a zero embedding gives a finite loss and gradient (cos 0)', () => {
  const e = tf.tensor2d([[0, 0]]);
  const t = tf.tensor2d([[1, 0]]);
  expect(identityLoss('cosine', e, t).dataSync()[0]).toBeCloseTo(1, 6);
  const g = tf.grad((x: tf.Tensor) => identityLoss('cosine', x as tf.Tensor2D, t).sum())(e);
  expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
  tf.dispose([e, t, g]);
});

test('cosine loss gradient: hand derivation and finite differences', () => {
  // ∂(1 − cos)/∂e = −(t̂ − cos·ê)/‖e‖; for e = [3, 4], t̂ = [0.8, 0.6], ê = [0.6, 0.8], cos 0.96:
  //   −([0.8, 0.6] − 0.96·[0.6, 0.8]) / 5 = −[0.224, −0.168]/5 = [−0.0448, 0.0336]
  const t = tf.tensor2d([T[0]]);
  const e = tf.tensor2d([E[0]]);
  const g = tf.grad((x: tf.Tensor) => identityLoss('cosine', x as tf.Tensor2D, t).sum())(e);
  const analytic = Array.from(g.dataSync());
  expect(analytic[0]).toBeCloseTo(-0.0448, 6);
  expect(analytic[1]).toBeCloseTo(0.0336, 6);
  const f = (v: number[]): number => tf.tidy(() => identityLoss('cosine', tf.tensor2d([v]), t).dataSync()[0]);
  const h = 1e-2;
  expect((f([3 + h, 4]) - f([3 - h, 4])) / (2 * h)).toBeCloseTo(analytic[0], 3);
  expect((f([3, 4 + h]) - f([3, 4 - h])) / (2 * h)).toBeCloseTo(analytic[1], 3);
  tf.dispose([t, e, g]);
});

/** −log softmax of the target: log(1 + e^{o − t}) for two classes. */
const twoClassNll = (target: number, other: number): number => Math.log1p(Math.exp(other - target));

test('arcface identity loss equals −log softmax of s·cos(θ + m) for a 2-class head', () => {
  // Head centres (1, 0) and (0, 1); embedding [4, 3] → cosines 0.8 and 0.6. s = 2, m = 0.5.
  //   cos(θ + m) = cos θ·cos m − sin θ·sin m, cos 0.5 = 0.877583, sin 0.5 = 0.479426
  //   label 0: target 2·(0.8·0.877583 − 0.6·0.479426) = 2·0.414411 = 0.828822, other 2·0.6 = 1.2
  //            loss = log(1 + e^{1.2 − 0.828822}) = log(2.449602) = 0.895860
  //   label 1: target 2·(0.6·0.877583 − 0.8·0.479426) = 2·0.143009 = 0.286018, other 2·0.8 = 1.6
  const head = new ArcFaceHead({ embeddingDim: 2, numClasses: 2 }, Float32Array.from([1, 0, 0, 1]));
  const margin = marginFunction(resolveMarginConfig({ s: 2, m2: 0.5 }));
  const e = tf.tensor2d([
    [4, 3],
    [4, 3],
  ]);
  const labels = tf.tensor1d([0, 1], 'int32');
  const before = tf.memory().numTensors;
  const loss = identityLoss('arcface', e, tf.zeros([2, 2]) as tf.Tensor2D, { head, labels, margin });
  const v = loss.dataSync();
  expect(v[0]).toBeCloseTo(twoClassNll(2 * Math.cos(Math.acos(0.8) + 0.5), 1.2), 5);
  expect(v[1]).toBeCloseTo(twoClassNll(2 * Math.cos(Math.acos(0.6) + 0.5), 1.6), 5);
  expect(v[0]).toBeCloseTo(0.89586, 4);
  loss.dispose();
  // The zeros passed as targets were created outside tidy by the caller (us): one tensor.
  expect(tf.memory().numTensors).toBe(before + 1);
  tf.dispose([e, labels]);
  head.dispose();
});

test('arcface identity loss takes the best sub-centre of each class (K = 2)', () => {
  // Class 0 sub-centres (1, 0), (0, 1); class 1: (−1, 0), (0, −1). Weight [D, C·K] row-major.
  // Embedding [4, 3]: sub-centre cosines 0.8, 0.6, −0.8, −0.6 → class cosines 0.8, −0.6.
  //   label 0: target 2·cos(acos 0.8 + 0.5), other 2·(−0.6)
  const head = new ArcFaceHead({ embeddingDim: 2, numClasses: 2, k: 2 }, Float32Array.from([1, 0, -1, 0, 0, 1, 0, -1]));
  const margin = marginFunction(resolveMarginConfig({ s: 2, m2: 0.5 }));
  const e = tf.tensor2d([[4, 3]]);
  const t = tf.zeros([1, 2]) as tf.Tensor2D;
  const labels = tf.tensor1d([0], 'int32');
  const loss = identityLoss('arcface', e, t, { head, labels, margin });
  expect(loss.dataSync()[0]).toBeCloseTo(twoClassNll(2 * Math.cos(Math.acos(0.8) + 0.5), -1.2), 5);
  tf.dispose([e, t, labels, loss]);
  head.dispose();
});

test('arcface identity loss without the classifier is refused', () => {
  const e = tf.tensor2d([[1, 0]]);
  expect(() => identityLoss('arcface', e, e)).toThrow('arcface needs the classifier');
  e.dispose();
});
