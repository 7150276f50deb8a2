import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, Detector, explain, initBackend, messageOf, owned } from '../nce';
import { explainedAnswer, writeAnswer } from './answer-writer';
import { type ScoringReply, type ScoringTask, THREAD_MODELS } from './scoring-protocol';

const port = parentPort;
if (!port) throw new Error('scoring.worker must run in a worker thread');
const ready = initBackend((workerData as { backend?: BackendName }).backend);
/** Loaded detectors by model name (one version each), least recently used first. */
const detectors = new Map<string, { version: string; detector: Detector }>();

function detectorFor(task: ScoringTask): Detector | null {
  let held = detectors.get(task.model);
  if (held?.version !== task.version) {
    if (!task.state) return null;
    // Built before the old one goes: if building fails, the thread still holds a working version.
    const detector = new Detector(task.state);
    held?.detector.dispose();
    held = { version: task.version, detector };
  }
  detectors.delete(task.model);
  detectors.set(task.model, held);
  for (const [name, old] of detectors) {
    if (detectors.size <= THREAD_MODELS) break;
    old.detector.dispose();
    detectors.delete(name);
  }
  return held.detector;
}

function score(task: ScoringTask): ScoringReply {
  const detector = detectorFor(task);
  if (!detector) return { id: task.id, type: 'missing' };
  const rows = detector.scoreRows(task.encoded);
  const head = { model: task.model, version: task.version };
  const columns = { score: owned(rows.score), percentile: owned(rows.percentile), flagged: rows.flagged };
  if (!task.explain) return { id: task.id, type: 'scored', body: writeAnswer(head, rows), ...columns };
  // Explanations score every record many times over (permutations x features): the costliest
  // answer there is, and the reason it runs here rather than on the event loop.
  const explanations = explain(detector, task.explain);
  const text = explainedAnswer(head, rows, explanations);
  // Bytes of its own: a small Buffer lives in Node's shared pool, which cannot be transferred.
  const body = typeof text === 'string' ? new TextEncoder().encode(text) : new Uint8Array(text);
  return { id: task.id, type: 'scored', body, ...columns, explanations };
}

/** A scored reply's buffers, all its own (see `owned`): they move to the API rather than being copied. */
function movable(reply: ScoringReply): ArrayBuffer[] {
  return reply.type === 'scored' ? [reply.body.buffer as ArrayBuffer, reply.score.buffer as ArrayBuffer, reply.percentile.buffer as ArrayBuffer] : [];
}

function failure(id: number, e: unknown): ScoringReply {
  return { id, type: 'error', message: messageOf(e) };
}

port.on('message', (task: ScoringTask) => {
  // Tasks wait for the backend in the order they came.
  ready.then(
    () => {
      let reply: ScoringReply;
      try {
        reply = score(task);
      } catch (e: unknown) {
        reply = failure(task.id, e);
      }
      try {
        port.postMessage(reply, movable(reply));
      } catch (e: unknown) {
        // A reply that cannot be posted fails its task (the API scores it in place), not the thread.
        port.postMessage(failure(task.id, e));
      }
    },
    (e: unknown) => port.postMessage(failure(task.id, e)),
  );
});
