import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, type DataRecord, Detector, explain, type Explanation, initBackend, messageOf, modelFootprint, owned, type ScoredRows } from '../nce';
import { explainedAnswer, writeAnswer } from './answer-writer';
import { type CancelTask, type ScoringReply, type ScoringTask, THREAD_MODELS } from './scoring-protocol';
import { unloadBeyond } from './loaded-limits';

if (!parentPort) throw new Error('scoring.worker must run in a worker thread');
const port = parentPort;
const ready = initBackend((workerData as { backend?: BackendName }).backend);
/** Loaded detectors by model name (one version each, with its {@link modelFootprint}), least recently used first. */
const detectors = new Map<string, { version: string; detector: Detector; bytes: number }>();
/** Most memory the thread's detectors may hold together (MODEL_CACHE_MEGABYTES, as the API's cache). */
const maxBytes = (workerData as { maxBytes?: number }).maxBytes ?? Infinity;
/** Detectors that tasks under way still use, with how many: dropped ones are disposed once none does. */
const inUse = new Map<Detector, number>();
/** Detectors dropped from {@link detectors} while in use. */
const dropped = new Set<Detector>();

function drop(detector: Detector): void {
  if (inUse.has(detector)) dropped.add(detector);
  else detector.dispose();
}

function release(detector: Detector): void {
  const left = (inUse.get(detector) ?? 1) - 1;
  if (left > 0) return void inUse.set(detector, left);
  inUse.delete(detector);
  if (dropped.delete(detector)) detector.dispose();
}

/** The task's detector, held for it until {@link release}; null when the thread does not hold its version and the task did not bring it. */
function detectorFor(task: ScoringTask): Detector | null {
  let held = detectors.get(task.model);
  if (held?.version !== task.version) {
    if (!task.state) return null;
    // Built before the old one goes: if building fails, the thread still holds a working version.
    const detector = new Detector(task.state);
    if (held) drop(held.detector);
    held = { version: task.version, detector, bytes: modelFootprint(task.state) };
  }
  detectors.delete(task.model);
  detectors.set(task.model, held);
  // The least recently used go, never the task's own.
  unloadBeyond(detectors, { count: THREAD_MODELS, bytes: maxBytes }, (_name, old) => drop(old.detector));
  inUse.set(held.detector, (inUse.get(held.detector) ?? 0) + 1);
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

/** An explained task between its turns: its rows scored, and as many of its records explained as `explanations` holds. */
interface Explaining {
  task: ScoringTask & { explain: DataRecord[] };
  detector: Detector;
  rows: ScoredRows;
  explanations: Explanation[];
  explainMs: number;
}

/**
 * One turn of a task: a new task's rows are scored (the whole task, unless it explains them), an
 * explained one explains its next record. Explanations score every record many times over
 * (permutations x features): the costliest answer there is, and the reason it runs here rather
 * than on the event loop. A record a turn, the tasks taking turns: a request of one record of a
 * 4-feature model is not held up for the whole of another's 16 records of 1,500 features (20 s
 * measured when they ran one after the other), and a cancel (its client left) ends its task at
 * its next turn, instead of minutes later.
 * @returns the reply when the task is done, else the task to give another turn
 */
function turn(item: ScoringTask | Explaining): ScoringReply | Explaining {
  if ('task' in item) {
    const { task, detector } = item;
    const started = performance.now();
    item.explanations.push(...explain(detector, [task.explain[item.explanations.length]]));
    item.explainMs += performance.now() - started;
    if (item.explanations.length < task.explain.length) return item;
    return explained(task, item.rows, item.explanations, item.explainMs);
  }
  const task = item;
  const detector = detectorFor(task);
  if (!detector) return { id: task.id, type: 'missing' };
  let rows: ScoredRows;
  try {
    rows = detector.scoreRows(task.encoded);
  } catch (e: unknown) {
    release(detector);
    throw e;
  }
  if (!task.explain || task.explain.length === 0) {
    release(detector);
    if (task.explain) return explained(task, rows, [], 0);
    return { id: task.id, type: 'scored', body: writeAnswer({ model: task.model, version: task.version }, rows), ...columnsOf(rows) };
  }
  return { task: { ...task, explain: task.explain }, detector, rows, explanations: [], explainMs: 0 };
}

/** The reply to an explained task. */
function explained(task: ScoringTask, rows: ScoredRows, explanations: Explanation[], explainMs: number): ScoringReply {
  const text = explainedAnswer({ model: task.model, version: task.version }, rows, explanations);
  // Bytes of its own: a small Buffer lives in Node's shared pool, which cannot be transferred.
  const body = typeof text === 'string' ? new TextEncoder().encode(text) : new Uint8Array(text);
  return { id: task.id, type: 'scored', body, ...columnsOf(rows), explanations, explainMs };
}

function columnsOf(rows: ScoredRows): { score: Float64Array; percentile: Float64Array; flagged: number } {
  return { score: owned(rows.score), percentile: owned(rows.percentile), flagged: rows.flagged };
}

/** A scored reply's buffers, all its own (see `owned`): they move to the API rather than being copied. */
function movable(reply: ScoringReply): ArrayBuffer[] {
  return reply.type === 'scored' ? [reply.body.buffer as ArrayBuffer, reply.score.buffer as ArrayBuffer, reply.percentile.buffer as ArrayBuffer] : [];
}

function failure(id: number, e: unknown): ScoringReply {
  return { id, type: 'error', message: messageOf(e) };
}

/** Tasks waiting for a turn, in the order they came or last had one. */
const queue: (ScoringTask | Explaining)[] = [];
let running = false;

const idOf = (item: ScoringTask | Explaining): number => ('task' in item ? item.task.id : item.id);

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    // Tasks wait for the backend in the order they came.
    await ready;
  } catch (e: unknown) {
    for (const item of queue.splice(0)) port.postMessage(failure(idOf(item), e));
    running = false;
    return;
  }
  for (let item = queue.shift(); item; item = queue.shift()) {
    const id = idOf(item);
    let reply: ScoringReply;
    try {
      if (cancelled.has(id)) throw new Cancelled();
      const after = turn(item);
      if ('task' in after) {
        queue.push(after);
        // A turn of this thread's event loop between turns: a cancel or a new task comes in.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      reply = after;
    } catch (e: unknown) {
      reply = failure(id, e);
    }
    if ('task' in item) release(item.detector);
    cancelled.delete(id);
    try {
      port.postMessage(reply, movable(reply));
    } catch (e: unknown) {
      // A reply that cannot be posted fails its task (the API scores it in place), not the thread.
      port.postMessage(failure(id, e));
    }
  }
  running = false;
}

port.on('message', (message: ScoringTask | CancelTask) => {
  if ('cancel' in message) {
    // Only for a task not answered yet (a cancel may cross its answer on the way).
    const id = message.cancel;
    if (queue.some((item) => idOf(item) === id)) cancelled.add(id);
    return;
  }
  queue.push(message);
  void drain();
});
