import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, Detector, initBackend } from '../nce';
import { jsonItems } from './json-body';
import { scoreColumns, type ScoringReply, type ScoringTask, THREAD_MODELS } from './scoring-protocol';

const port = parentPort;
if (!port) throw new Error('scoring.worker must run in a worker thread');
const ready = initBackend((workerData as { backend?: BackendName }).backend);
/** Loaded detectors by key, least recently used first; one version per model name. */
const detectors = new Map<string, Detector>();

function detectorFor(task: ScoringTask): Detector | null {
  let d = detectors.get(task.key);
  if (d) {
    detectors.delete(task.key);
  } else {
    if (!task.state) return null;
    const name = task.key.slice(0, task.key.lastIndexOf('@'));
    for (const [key, other] of detectors) {
      if (key.slice(0, key.lastIndexOf('@')) === name) {
        other.dispose();
        detectors.delete(key);
      }
    }
    d = new Detector(task.state);
  }
  detectors.set(task.key, d);
  for (const [key, old] of detectors) {
    if (detectors.size <= THREAD_MODELS) break;
    old.dispose();
    detectors.delete(key);
  }
  return d;
}

function score(task: ScoringTask): ScoringReply {
  const detector = detectorFor(task);
  if (!detector) return { id: task.id, type: 'missing' };
  const results = detector.results(detector.evaluate(task.encoded));
  return { id: task.id, type: 'scored', items: jsonItems(results), ...scoreColumns(results) };
}

/** The buffers of a reply that can move rather than be copied: those a typed array owns whole (not a slice of Node's buffer pool). */
function movable(reply: ScoringReply): ArrayBuffer[] {
  if (reply.type !== 'scored') return [];
  return [reply.items, reply.score, reply.percentile].filter((a) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength).map((a) => a.buffer as ArrayBuffer);
}

function failure(id: number, e: unknown): ScoringReply {
  return { id, type: 'error', message: e instanceof Error ? e.message : String(e) };
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
      port.postMessage(reply, movable(reply));
    },
    (e: unknown) => port.postMessage(failure(task.id, e)),
  );
});
