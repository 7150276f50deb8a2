import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, Detector, explain, initBackend, messageOf, owned } from '../nce';
import { explainedAnswer, writeAnswer } from './answer-writer';
import { type CancelTask, type ScoringReply, type ScoringTask, THREAD_MODELS } from './scoring-protocol';

if (!parentPort) throw new Error('scoring.worker must run in a worker thread');
const port = parentPort;
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

/** Thrown inside a task its client gave up on (see {@link CancelTask}). */
class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

/** Ids of tasks cancelled while queued or running. */
const cancelled = new Set<number>();

async function score(task: ScoringTask): Promise<ScoringReply> {
  const detector = detectorFor(task);
  if (!detector) return { id: task.id, type: 'missing' };
  const rows = detector.scoreRows(task.encoded);
  const head = { model: task.model, version: task.version };
  const columns = { score: owned(rows.score), percentile: owned(rows.percentile), flagged: rows.flagged };
  if (!task.explain) return { id: task.id, type: 'scored', body: writeAnswer(head, rows), ...columns };
  // Explanations score every record many times over (permutations x features): the costliest
  // answer there is, and the reason it runs here rather than on the event loop. A record at a
  // time, with a turn of this thread's event loop between records: a cancel (its client left)
  // arrives between them and ends the task there, instead of minutes later.
  const explanations = [];
  let explainMs = 0;
  for (const record of task.explain) {
    await new Promise((resolve) => setImmediate(resolve));
    if (cancelled.has(task.id)) throw new Cancelled();
    const started = performance.now();
    explanations.push(...explain(detector, [record]));
    explainMs += performance.now() - started;
  }
  const text = explainedAnswer(head, rows, explanations);
  // Bytes of its own: a small Buffer lives in Node's shared pool, which cannot be transferred.
  const body = typeof text === 'string' ? new TextEncoder().encode(text) : new Uint8Array(text);
  return { id: task.id, type: 'scored', body, ...columns, explanations, explainMs };
}

/** A scored reply's buffers, all its own (see `owned`): they move to the API rather than being copied. */
function movable(reply: ScoringReply): ArrayBuffer[] {
  return reply.type === 'scored' ? [reply.body.buffer as ArrayBuffer, reply.score.buffer as ArrayBuffer, reply.percentile.buffer as ArrayBuffer] : [];
}

function failure(id: number, e: unknown): ScoringReply {
  return { id, type: 'error', message: messageOf(e) };
}

/** Tasks in the order they came; one runs at a time (an explained one yields between records). */
const queue: ScoringTask[] = [];
let running = false;
/** The task running now, if any. */
let current: number | null = null;

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    // Tasks wait for the backend in the order they came.
    await ready;
  } catch (e: unknown) {
    for (const task of queue.splice(0)) port.postMessage(failure(task.id, e));
    running = false;
    return;
  }
  for (let task = queue.shift(); task; task = queue.shift()) {
    current = task.id;
    let reply: ScoringReply;
    try {
      reply = cancelled.has(task.id) ? failure(task.id, new Cancelled()) : await score(task);
    } catch (e: unknown) {
      reply = failure(task.id, e);
    }
    cancelled.delete(task.id);
    current = null;
    try {
      port.postMessage(reply, movable(reply));
    } catch (e: unknown) {
      // A reply that cannot be posted fails its task (the API scores it in place), not the thread.
      port.postMessage(failure(task.id, e));
    }
  }
  running = false;
}

port.on('message', (message: ScoringTask | CancelTask) => {
  if ('cancel' in message) {
    // Only for a task not answered yet (a cancel may cross its answer on the way).
    const id = message.cancel;
    if (current === id || queue.some((t) => t.id === id)) cancelled.add(id);
    return;
  }
  queue.push(message);
  void drain();
});
