/** A one-line description of the machine and engine, for benchmark reports. */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';

export function describeMachine(device: string): string {
  const cpu = os.cpus();
  return [
    `${cpu[0]?.model.trim() ?? 'unknown CPU'} × ${cpu.length} cores`,
    `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`,
    `${os.type()} ${os.release()}`,
    `Node ${process.versions.node}`,
    `tfjs ${tf.version.tfjs}`,
    `backend ${device}`,
  ].join(', ');
}
