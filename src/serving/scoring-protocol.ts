/** The messages between the scorer and its scoring threads ({@link ScoringThreads}). */
import type { DataRecord, Encoded, Explanation, ModelState } from '../nce';

/** What the API sends a scoring thread: encoded rows of one model version, with its state the first time. */
export interface ScoringTask {
  id: number;
  model: string;
  version: string;
  state?: ModelState | undefined;
  encoded: Encoded;
  /** The records themselves when the answer explains them (explanations sample from raw records). */
  explain?: DataRecord[];
}

/** Tells a scoring thread to drop a task: explained records stop at the next record (their client left). */
export interface CancelTask {
  cancel: number;
}

/** What a scoring thread answers. */
export type ScoringReply =
  /** `body`: the whole JSON answer, as answer-writer.ts writes it. */
  | { id: number; type: 'scored'; body: Uint8Array; score: Float64Array; percentile: Float64Array; flagged: number; explanations?: Explanation[]; explainMs?: number }
  /** The thread does not hold the model (never sent, or evicted): send the task again with its state. */
  | { id: number; type: 'missing' }
  | { id: number; type: 'error'; message: string };

/** Models a thread keeps loaded, least recently used dropped first. */
export const THREAD_MODELS = 32;

/** What metrics and drift need of a scored batch, wherever it was scored. */
export interface ScoreColumns {
  score: Float64Array;
  percentile: Float64Array;
  flagged: number;
}
