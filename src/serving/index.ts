/** Scoring: the served models and their hot swap, scoring threads, the answer writers, behind one {@link Scorer}. */
export { answerNumber, csvAnswer, CSV_HEADER, csvRows } from './answer-writer';
export { sampleFlagged } from './flagged-sample';
export { holdModel, ModelCache, type ServedModel, type ServedVersion } from './model-cache';
export { type Scored, type ScoreOptions, Scorer } from './scorer';
export { ScoringCancelled, ScoringClosed, ScoringThreads } from './scoring-threads';
