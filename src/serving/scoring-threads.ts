import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { type DataRecord, type Encoded, type Explanation, owned } from '../nce';
import type { ServedModel } from './model-cache';
import { type CancelTask, type ScoreColumns, type ScoringReply, type ScoringTask, THREAD_MODELS } from './scoring-protocol';

/** A batch scored on a thread: its answer, and what metrics and drift need. */
export interface ThreadScores extends ScoreColumns {
  /** The whole JSON answer. */
  body: Buffer;
  /** Each record's explanation, when the task asked for them. */
  explanations?: Explanation[];
  /** Milliseconds the thread spent explaining (not waiting, not loading the model). */
  explainMs?: number;
}

function workerScript(): string {
  return __filename.endsWith('.ts') ? join(__dirname, '..', '..', 'dist', 'src', 'serving', 'scoring.worker.js') : join(__dirname, 'scoring.worker.js');
}

interface Pending {
  task: ScoringTask;
  model: ServedModel;
  resolve: (s: ThreadScores) => void;
  reject: (e: Error) => void;
}

let nextId = 0;

/** A task whose client gave up (its signal aborted): the thread drops it; nothing is to be answered. */
export class ScoringCancelled extends Error {
  constructor() {
    super('the client left before its batch was scored');
  }
}

/** A task sent after {@link ScoringThreads.close}, or pending then: the process is stopping. */
export class ScoringClosed extends Error {
  constructor() {
    super('scoring threads closed');
  }
}

/** One scoring thread and the tasks it has not answered yet. */
class ScoringThread {
  readonly pending = new Map<number, Pending>();
  private readonly worker: Worker;
  /** `name@version` of the models sent with their state: the thread holds them unless it evicted them (it then says so). */
  private readonly sent = new Set<string>();
  private ended = false;

  constructor(backend: string, maxBytes: number, onEnd: (thread: ScoringThread, error: Error) => void) {
    this.worker = new Worker(workerScript(), { workerData: { backend, maxBytes } });
    // Idle threads never keep the process alive; close() ends them at shutdown.
    this.worker.unref();
    this.worker.on('message', (r: ScoringReply) => this.answer(r));
    const end = (error: Error): void => {
      if (this.ended) return;
      this.fail(error);
      onEnd(this, error);
    };
    this.worker.on('error', end);
    this.worker.on('exit', (code) => end(new Error(`scoring thread exited with code ${code}`)));
  }

  private fail(error: Error): void {
    this.ended = true;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  score(model: ServedModel, encoded: Encoded, explain?: readonly DataRecord[], signal?: AbortSignal): Promise<ThreadScores> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new ScoringCancelled());
      // Arrays that own their buffers: posting a view of a shared slab would copy the whole slab.
      const task: ScoringTask = {
        id: nextId++,
        model: model.name,
        version: model.version,
        encoded: { n: encoded.n, numeric: owned(encoded.numeric), codes: owned(encoded.codes), ...(encoded.novel ? { novel: owned(encoded.novel) } : {}) },
        ...(explain ? { explain: [...explain] } : {}),
      };
      if (!this.sent.has(keyOf(task))) this.withState(task, model);
      // The client left: the thread drops the task (an explained one at its next record).
      const onAbort = (): void => {
        if (!this.pending.delete(task.id)) return;
        if (!this.ended) this.worker.postMessage({ cancel: task.id } satisfies CancelTask);
        reject(new ScoringCancelled());
      };
      // Settled, the task lets go of the signal (one that outlives it would hold every task's rows).
      const settled = (): void => signal?.removeEventListener('abort', onAbort);
      this.pending.set(task.id, {
        task,
        model,
        resolve: (s) => {
          settled();
          resolve(s);
        },
        reject: (e) => {
          settled();
          reject(e);
        },
      });
      this.worker.postMessage(task);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  terminate(): Promise<number> {
    this.fail(new ScoringClosed());
    return this.worker.terminate();
  }

  private withState(task: ScoringTask, model: ServedModel): void {
    task.state = model.detector.state;
    // Bounded like the thread's own models; forgetting a key only costs sending its state again.
    if (this.sent.size >= 4 * THREAD_MODELS) this.sent.clear();
    this.sent.add(keyOf(task));
  }

  private answer(r: ScoringReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    if (r.type === 'missing') {
      this.withState(p.task, p.model);
      this.worker.postMessage(p.task);
      return;
    }
    this.pending.delete(r.id);
    if (r.type === 'error') p.reject(new Error(r.message));
    else {
      const body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
      p.resolve({ body, score: r.score, percentile: r.percentile, flagged: r.flagged, ...(r.explanations ? { explanations: r.explanations } : {}), ...(r.explainMs === undefined ? {} : { explainMs: r.explainMs }) });
    }
  }
}

function keyOf(task: ScoringTask): string {
  return `${task.model}@${task.version}`;
}

/**
 * Worker threads that score batches off the event loop: the network, the noise density and the
 * whole JSON answer of a batch run there, so one process scores on more than one core and a large
 * batch never holds up the requests behind it. Explained batches have a thread of their own: an
 * explanation scores its record permutations x features times (a 100-record batch of a
 * 1,555-feature model takes 40 s), and plain batches must not wait behind it; that thread explains
 * a record at a time, so a batch whose client left ({@link ScoringCancelled}) ends at its next record. Each thread loads a model
 * version the first time it gets rows of it (the state travels with that task) and keeps a few. A
 * thread that dies fails its tasks (the caller scores them in-process) and is replaced on next use.
 */
export class ScoringThreads {
  private threads: ScoringThread[] = [];
  /** The thread that explains; started on the first explained batch. */
  private explainer: ScoringThread | null = null;
  private closed = false;

  /** Starts the threads now: the first batch should not wait for a thread to start its backend. */
  constructor(
    readonly size: number,
    private readonly backend: string,
    private readonly logger: Logger,
    /** Most memory each thread's models may hold together (the engine's modelFootprint), least recently used dropped first. */
    private readonly maxBytes = Infinity,
  ) {
    this.fill();
  }

  /**
   * Scores encoded rows of `model` on the least busy thread, or explains them on the explaining
   * thread. `signal` aborted (the client left) drops the task: it rejects with
   * {@link ScoringCancelled}. After {@link close}, every task rejects with {@link ScoringClosed}.
   */
  score(model: ServedModel, encoded: Encoded, explain?: readonly DataRecord[], signal?: AbortSignal): Promise<ThreadScores> {
    if (this.closed) return Promise.reject(new ScoringClosed());
    if (explain) {
      this.explainer ??= this.start();
      return this.explainer.score(model, encoded, explain, signal);
    }
    this.fill();
    let best = this.threads[0];
    for (const t of this.threads) if (t.pending.size < best.pending.size) best = t;
    return best.score(model, encoded, explain);
  }

  /** Starts threads up to `size` (in place of any that ended). */
  private fill(): void {
    while (this.threads.length < this.size) this.threads.push(this.start());
  }

  private start(): ScoringThread {
    return new ScoringThread(this.backend, this.maxBytes, (thread, error) => {
      this.threads = this.threads.filter((t) => t !== thread);
      if (this.explainer === thread) this.explainer = null;
      this.logger.warn({ err: error.message }, 'scoring thread ended; it is replaced on next use');
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const threads = this.explainer ? [...this.threads, this.explainer] : this.threads;
    this.threads = [];
    this.explainer = null;
    await Promise.all(threads.map((t) => t.terminate()));
  }
}
