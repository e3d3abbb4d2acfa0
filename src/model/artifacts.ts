/**
 * A face model's topology and weights in memory (tfjs `ModelArtifacts`): what worker threads
 * receive (structured-cloned) to build their own copy of the model with `tf.io.fromMemory`.
 */
import * as tf from '@tensorflow/tfjs';

/** The model's topology and weights, as `tf.io.fromMemory` takes them back. */
export async function modelArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler((artifacts) => {
      captured = artifacts;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }),
  );
  return captured!;
}
