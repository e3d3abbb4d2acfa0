/**
 * Warm start (`train --init DIR`): a new run that begins from the weights of a saved arcinvert
 * model instead of random ones — fine-tuning on other data, or a second phase of training with
 * another teacher or schedule. Unlike `--resume` it is a new run: the optimiser state, the
 * schedule and the step count start afresh, and the run's own config decides everything else.
 *
 * The backbone must match the run's backbone weight for weight (same shapes in the same order,
 * BatchNorm statistics included), except that a model saved at another input size may start a
 * run at this one when only global depthwise kernels differ (MobileFaceNet's GDC, 4×4 at 64 px
 * and 7×7 at 112 px: resampled, `resampleDepthwise`). The head's class centres are reused when the saved model was
 * trained on the same identities with the same K and width, and its distillation projection when
 * its width equals the teacher's; otherwise that part starts from its seeded initialisation.
 */
import * as tf from '@tensorflow/tfjs';
import type { FaceModel } from '../model/types.js';
import { ConfigError } from '../errors.js';
import { loadFaceModel } from '../model/store.js';
import { hasClassNames, hasHead, headBasePath, readClassNames } from '../model/directory.js';
import { loadHeadWeights } from '../model/headWeights.js';

/** What `--init` reused beyond the backbone, for the head of the new run. */
export interface InitialHead {
  /** Class centres [D·C·K], or null when the saved head does not fit the run. */
  centres: Float32Array | null;
  /** Distillation projection [D·T], or null. */
  projection: Float32Array | null;
  /** One line on what was reused, for the run's log. */
  summary: string;
}

/** What the run needs of the head, to decide what of the saved head it can reuse. */
export interface HeadNeeds {
  classNames: readonly string[];
  k: number;
  projectionDim: number;
}

/** Whether `w` (saved `from`, run `to`) is a depthwise kernel [h, w, C, 1] whose spatial size alone differs. */
function isGlobalDepthwise(
  w: tf.LayerVariable,
  from: readonly (number | null)[],
  to: readonly (number | null)[],
): boolean {
  return (
    w.originalName.endsWith('/depthwise_kernel') &&
    from.length === 4 &&
    to.length === 4 &&
    from[3] === 1 &&
    to[3] === 1 &&
    from[2] === to[2]
  );
}

/**
 * A global depthwise kernel [h, w, C, 1] (MobileFaceNet's GDC: one weight per position of the
 * last feature map, whose size follows the input) resampled bilinearly (corners aligned) to
 * [h′, w′, C, 1] and scaled by h·w / (h′·w′), so that on a map of the same content at the new
 * size it sums to about the same value (exactly from 2 to 4, as the test checks; approximately
 * otherwise): the learned spatial weighting is kept instead of starting afresh.
 */
export function resampleDepthwise(kernel: tf.Tensor4D, shape: readonly (number | null)[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [h, w] = kernel.shape;
    const [h2, w2] = [shape[0]!, shape[1]!];
    const img = tf.transpose(tf.squeeze(kernel, [3]), [2, 0, 1]).expandDims(3) as tf.Tensor4D; // [C, h, w, 1]
    const up = tf.image.resizeBilinear(img, [h2, w2], true);
    return tf.mul(tf.transpose(up.squeeze([3]), [1, 2, 0]).expandDims(3), (h * w) / (h2 * w2)) as tf.Tensor4D;
  });
}

/**
 * Copies the weights of the model saved in `dir` into `fm` (built from the run's config) and
 * reads what of its head the run can reuse.
 * @throws ArcinvertError if `dir` holds no readable model or its backbone differs from `fm`'s.
 */
export async function loadInitialWeights(dir: string, fm: FaceModel, needs: HeadNeeds): Promise<InitialHead> {
  const saved = await loadFaceModel(dir);
  let resampled: string[];
  try {
    const [a, b] = [saved.model.weights, fm.model.weights];
    const [sa, sb] = [saved.meta.inputSize, fm.meta.inputSize];
    const sameSize = sa[0] === sb[0] && sa[1] === sb[1];
    if (saved.meta.embeddingSize !== fm.meta.embeddingSize) {
      throw new ConfigError(
        ['init'],
        (k) =>
          `${k('init')} ${dir}: the saved model takes ${sa.join('×')} input to ${saved.meta.embeddingSize}-d, the run's ${sb.join('×')} to ${fm.meta.embeddingSize}-d`,
      );
    }
    if (a.length !== b.length)
      throw new ConfigError(
        ['init'],
        (k) => `${k('init')} ${dir}: the saved backbone has ${a.length} weights, the run's ${b.length}`,
      );
    const differ = a.map((w, i) => i).filter((i) => a[i].shape.join(',') !== b[i].shape.join(','));
    const bad = differ.find((i) => sameSize || !isGlobalDepthwise(b[i], a[i].shape, b[i].shape));
    if (bad !== undefined)
      throw new ConfigError(
        ['init'],
        (k) =>
          `${k('init')} ${dir}: weight ${bad} (${b[bad].originalName}) is [${a[bad].shape.join(', ')}] in the saved model, [${b[bad].shape.join(', ')}] in the run's${sameSize ? '' : ` (the saved model takes ${sa.join('×')} input, the run's ${sb.join('×')}: only a global depthwise kernel such as MobileFaceNet's GDC is resampled)`}`,
      );
    tf.tidy(() =>
      fm.model.setWeights(
        saved.model
          .getWeights()
          .map((w, i) => (differ.includes(i) ? resampleDepthwise(w as tf.Tensor4D, b[i].shape) : w)),
      ),
    );
    resampled = differ.map(
      (i) => `${b[i].originalName} ${a[i].shape.slice(0, 2).join('×')} → ${b[i].shape.slice(0, 2).join('×')}`,
    );
  } finally {
    saved.model.dispose();
  }
  const note = resampled.length > 0 ? `; resampled ${resampled.join(', ')}` : '';

  if (!hasHead(dir))
    return { centres: null, projection: null, summary: `backbone from ${dir} (it has no head)${note}` };
  const { meta, values, projection } = await loadHeadWeights(headBasePath(dir));
  const names = hasClassNames(dir) ? await readClassNames(dir) : null;
  const sameClasses =
    names !== null && names.length === needs.classNames.length && names.every((n, i) => n === needs.classNames[i]);
  const centres = sameClasses && meta.k === needs.k && meta.shape[0] === fm.meta.embeddingSize ? values.slice() : null;
  const proj =
    projection !== null && needs.projectionDim > 0 && meta.projection?.[1] === needs.projectionDim
      ? projection.slice()
      : null;
  const parts = [centres ? 'class centres' : null, proj ? 'distillation projection' : null].filter((p) => p !== null);
  return {
    centres,
    projection: proj,
    summary: `backbone${parts.length > 0 ? ` and ${parts.join(' and ')}` : ''} from ${dir}${centres ? '' : ' (new class centres)'}${note}`,
  };
}
