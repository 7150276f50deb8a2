import type { Logger } from 'pino';
import { type DataRecord, type Encoded, explain, type Explanation, messageOf } from '../nce';
import { answerBody, type AnswerHead, csvAnswer, explainedAnswer } from './answer-writer';
import { holdModel, type ServedModel } from './model-cache';
import type { ScoreColumns } from './scoring-protocol';
import { ScoringCancelled, ScoringClosed, type ScoringThreads, type ThreadScores } from './scoring-threads';
import { AppError } from '../errors';

/** How a batch is to be answered. */
export interface ScoreOptions {
  /** Add each record's per-feature `contributions`. */
  explain?: boolean;
  /** The answer's format. @defaultValue 'json' */
  format?: 'json' | 'csv';
  /** Aborted when the client leaves: a batch on a thread is dropped there (rejects with ScoringCancelled). */
  signal?: AbortSignal;
}

/** A scored batch: its whole answer, and what metrics, drift and the console's sample need of it. */
export interface Scored extends ScoreColumns {
  /** The answer's bytes, in the format asked for. */
  body: string | Buffer;
  /** Each record's explanation, when asked for. */
  explanations?: readonly Explanation[];
}

/** A counter of scored batches by where they were scored (`nce_ood_scored_batches_total`). */
interface BatchCounter {
  labels(path: 'in_place' | 'thread' | 'thread_failed'): { inc(): void };
}

/** What a {@link Scorer} is built from. */
export interface ScorerOptions {
  /** Where batches of at least `threadMinRecords` records are scored; null = all in place. */
  threads: ScoringThreads | null;
  threadMinRecords: number;
  batches: BatchCounter;
  logger: Logger;
}

/**
 * The one way records are scored into an answer. A plain JSON batch of `threadMinRecords` or more
 * goes to a scoring thread, which writes the whole answer off the event loop, and so does an
 * explained batch of any size (explanations score each record permutations x features times); a
 * smaller plain batch or a CSV answer is scored in place. A thread that fails (it died, or cannot load the
 * model) costs only time: the batch is then scored in place. The model is held across the wait, so
 * that a hot swap meanwhile cannot dispose the detector the fallback scores with.
 */
export class Scorer {
  private readonly threads: ScoringThreads | null;
  private readonly threadMinRecords: number;
  private readonly logger: Logger;
  // Each path's counter bound once: a labelled increment hashes its labels every time.
  private readonly inPlace: { inc(): void };
  private readonly onThread: { inc(): void };
  private readonly threadFailed: { inc(): void };

  constructor(options: ScorerOptions) {
    this.threads = options.threads;
    this.threadMinRecords = options.threadMinRecords;
    this.logger = options.logger;
    this.inPlace = options.batches.labels('in_place');
    this.onThread = options.batches.labels('thread');
    this.threadFailed = options.batches.labels('thread_failed');
  }

  /**
   * Scores records with a served model, in order, into their answer: synchronously in place, or a
   * promise when a thread scores them. Nothing holds the records once this returns (a thread gets
   * them encoded), so a caller that lets go of them too lets them be collected young.
   * @throws NceError INVALID_RECORD naming the record and field, before any scoring
   */
  score(model: ServedModel, records: readonly DataRecord[], options: ScoreOptions = {}): Scored | Promise<Scored> {
    const encoded = model.detector.encodeRecords(records);
    const head = { model: model.name, version: model.version };
    if (this.threads && options.format !== 'csv' && (options.explain || encoded.n >= this.threadMinRecords)) {
      return this.scoreOnThread(this.threads, model, head, encoded, options.explain ? records : undefined, options.signal);
    }
    this.inPlace.inc();
    return options.explain ? explainedInPlace(model, head, encoded, records) : inPlace(model, head, encoded, options.format === 'csv' ? 'csv' : 'json');
  }

  /**
   * Explanations of a few records (the console's sample of flagged ones): on the explaining thread
   * when there are scoring threads, so that a wide model's (a 1,555-feature one: 0.4 s a record)
   * do not hold the event loop; in place otherwise.
   */
  explanations(model: ServedModel, records: readonly DataRecord[]): Promise<TimedExplanations> {
    if (!this.threads) return Promise.resolve(timedExplain(model, records));
    return this.threads.score(model, model.detector.encodeRecords(records), records).then(
      (s) => ({ explanations: s.explanations ?? [], costMs: s.explainMs ?? 0 }),
      (e: unknown) => {
        if (e instanceof ScoringClosed) throw e;
        // A failed thread: explained in place, as a batch would be.
        return timedExplain(model, records);
      },
    );
  }

  private async scoreOnThread(threads: ScoringThreads, model: ServedModel, head: AnswerHead, encoded: Encoded, explain?: readonly DataRecord[], signal?: AbortSignal): Promise<Scored> {
    const release = holdModel(model);
    try {
      let scored: ThreadScores | null = null;
      // An explained batch is tried on a fresh thread once more before it is explained in place:
      // in place it would hold the event loop for as long as it takes (seconds to a minute).
      for (let attempt = explain ? 2 : 1; scored === null && attempt > 0; attempt--) {
        try {
          scored = await threads.score(model, encoded, explain, signal);
        } catch (e: unknown) {
          // The client left: nothing to answer. The process is stopping: no thread to try, and an
          // explanation in place would hold the exit for as long as it takes.
          if (e instanceof ScoringCancelled) throw e;
          if (e instanceof ScoringClosed) throw new AppError('SHUTTING_DOWN', 'this replica is shutting down: the batch was not scored; send it again (to another replica)');
          this.logger.warn({ model: model.name, version: model.version, err: messageOf(e) }, attempt > 1 ? 'scoring thread failed; the batch is tried once more on a thread' : 'scoring thread failed; the batch is scored in place');
        }
      }
      if (scored) {
        this.onThread.inc();
        return scored;
      }
      this.threadFailed.inc();
      return explain ? explainedInPlace(model, head, encoded, explain) : inPlace(model, head, encoded, 'json');
    } finally {
      release();
    }
  }
}

/** Explanations and the milliseconds spent computing them (what the console's sample paces itself by). */
export interface TimedExplanations {
  explanations: Explanation[];
  costMs: number;
}

function timedExplain(model: ServedModel, records: readonly DataRecord[]): TimedExplanations {
  const started = performance.now();
  const explanations = explain(model.detector, records);
  return { explanations, costMs: performance.now() - started };
}

/** Scores and explains records on this thread into a JSON answer with their contributions. */
function explainedInPlace(model: ServedModel, head: AnswerHead, encoded: Encoded, records: readonly DataRecord[]): Scored {
  const rows = model.detector.scoreRows(encoded);
  const explanations = explain(model.detector, records);
  return { body: explainedAnswer(head, rows, explanations), score: rows.score, percentile: rows.percentile, flagged: rows.flagged, explanations };
}

/** Scores encoded rows on this thread into a JSON or CSV answer. */
function inPlace(model: ServedModel, head: AnswerHead, encoded: Encoded, format: 'json' | 'csv'): Scored {
  const rows = model.detector.scoreRows(encoded);
  return { body: format === 'csv' ? csvAnswer(rows) : answerBody(head, rows), score: rows.score, percentile: rows.percentile, flagged: rows.flagged };
}
