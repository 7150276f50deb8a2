/**
 * The worker thread a training job of the embedded mode runs in (started by `InProcessQueue`): it
 * trains off the API's event loop and sends back each epoch, then the artifact or the error's code.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { describe, type ErrorCode } from '../errors';
import { type BackendName, type EpochProgress, initBackend, messageOf } from '../nce';
import { trainArtifact, type TrainInput } from './train-job';

/** What the queue sends the training thread. */
export interface TrainingThreadInput extends TrainInput {
  backend?: BackendName | undefined;
}

/** What the training thread sends back. */
export type TrainingThreadMessage =
  | { type: 'epoch'; progress: EpochProgress }
  | { type: 'done'; manifest: string; weights: ArrayBuffer }
  | { type: 'error'; code: ErrorCode; message: string };

async function run(input: TrainingThreadInput): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('training-thread must run in a worker thread');
  try {
    const backend = await initBackend(input.backend);
    const artifact = await trainArtifact(input, backend, (progress) => port.postMessage({ type: 'epoch', progress } satisfies TrainingThreadMessage));
    const weights = artifact.weights.buffer.slice(artifact.weights.byteOffset, artifact.weights.byteOffset + artifact.weights.byteLength) as ArrayBuffer;
    port.postMessage({ type: 'done', manifest: JSON.stringify(artifact.manifest), weights } satisfies TrainingThreadMessage, [weights]);
  } catch (e: unknown) {
    port.postMessage({ type: 'error', code: describe(e).code, message: messageOf(e) } satisfies TrainingThreadMessage);
  }
}

void run(workerData as TrainingThreadInput);
