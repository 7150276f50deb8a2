import { z } from 'zod';
import { type DataRecord, type Encoded, explain, type Explanation, messageOf, NceError, resultsOf, type ScoredRows } from '../nce';
import type { BinnedRecords, Metrics } from '../metrics';
import { body, TABLE_TYPES } from './body';
import { readDatasetBody } from './dataset-body';
import { sendJsonBody } from './json-body';
import { answerBody, type AnswerHead, answerNumber, scoreAnswer } from './score-answer';
import type { ScoreColumns } from './scoring-protocol';
import type { ScoringThreads, ThreadScores } from './scoring-threads';
import { AppError, escapePointer } from './errors';
import { sampleFlagged } from './flagged-sample';
import { fieldValue, lookupModelName, requestError } from './validation';
import { holdModel, type ModelCache, type ServedModel } from './model-cache';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

/** The body of `POST /v1/models/{name}/score`. */
export const scoreRequestSchema = z
  .object({
    records: z.array(z.record(z.string(), fieldValue)).min(1),
    explain: z.boolean().optional(),
  })
  .strict();

/** A valid score request. */
export type ScoreRequest = z.infer<typeof scoreRequestSchema>;

/**
 * The columnar body of `POST /v1/models/{name}/score`: one array per field, all of one length, as
 * pandas' `DataFrame.to_dict("list")` gives (`{"columns": {"amount": [...], "channel": [...]}}`).
 */
export const columnarScoreRequestSchema = z
  .object({
    columns: z.record(z.string(), z.array(fieldValue).min(1)),
    explain: z.boolean().optional(),
  })
  .strict();

/** How a score request's records came: as objects, as columns, or as a table (CSV, NDJSON). */
type Layout = 'records' | 'columns' | 'table';

/** A score request as the route scores it: its records, in whatever layout they came. */
interface ParsedScoreRequest {
  records: DataRecord[];
  explain?: boolean;
  layout: Layout;
}

/** The records of a columnar request, row by row; the columns must be of one length. */
export function recordsFromColumns(columns: Record<string, (number | string | null)[]>): DataRecord[] {
  const names = Object.keys(columns);
  if (names.length === 0) throw new AppError('INVALID_REQUEST', 'columns: give at least one column', '/columns');
  const n = (columns[names[0] as string] as unknown[]).length;
  for (const name of names) {
    const length = (columns[name] as unknown[]).length;
    if (length !== n) throw new AppError('INVALID_REQUEST', `column "${name}" has ${length} values where "${names[0]}" has ${n}: every column needs one value per record`, `/columns/${escapePointer(name)}`);
  }
  const records: DataRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r: Record<string, number | string | null> = {};
    for (const name of names) r[name] = (columns[name] as (number | string | null)[])[i] as number | string | null;
    records[i] = r;
  }
  return records;
}

/** A JSON score body, as records or as columns. */
function parseJsonScoreRequest(input: unknown): ParsedScoreRequest {
  if (input !== null && typeof input === 'object' && 'columns' in input) {
    const parsed = columnarScoreRequestSchema.safeParse(input);
    if (!parsed.success) throw requestError(parsed.error.issues[0]);
    return { records: recordsFromColumns(parsed.data.columns), layout: 'columns', ...(parsed.data.explain === undefined ? {} : { explain: parsed.data.explain }) };
  }
  const request = parseScoreRequest(input);
  return { records: request.records as DataRecord[], layout: 'records', ...(request.explain === undefined ? {} : { explain: request.explain }) };
}

/** A record error of a columnar request, pointed at its column and row (`/columns/amount/3`). */
function inColumns(e: unknown): unknown {
  if (!(e instanceof NceError) || e.record === undefined || e.field === undefined) return e;
  return new AppError('INVALID_RECORD', `column "${e.field}" row ${e.record}: ${e.message.replace(/^record \d+ field "[^"]*" /, '')}`, `/columns/${escapePointer(e.field)}/${e.record}`);
}

/** The answer to a request of more than `max` records (`pointer`: where they are). */
function batchTooLarge(n: number, max: number, pointer: string): AppError {
  return new AppError('BATCH_TOO_LARGE', `${n} records in one request; the limit is ${max}`, pointer);
}

/** The CSV answer of scored rows: a header row, then one row per record (numbers as in JSON answers). */
function csvAnswer(rows: ScoredRows): string {
  const lines = ['score,logRatio,logDensity,percentile,ood'];
  for (let i = 0; i < rows.score.length; i++) {
    const logDensity = rows.logDensity[i] as number;
    lines.push(`${answerNumber(rows.score[i] as number)},${answerNumber(rows.logRatio[i] as number)},${Number.isFinite(logDensity) ? answerNumber(logDensity) : ''},${answerNumber(rows.percentile[i] as number)},${rows.ood[i] === 1}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Validates a score request. The schema is the authority (it also generates the OpenAPI document);
 * a body it would accept is recognised by a direct check first, since running the schema over
 * every field of a large batch costs more than scoring it. The schema only runs to name what is wrong.
 */
export function parseScoreRequest(input: unknown): ScoreRequest {
  if (isValidScoreRequest(input)) return input;
  const parsed = scoreRequestSchema.safeParse(input);
  if (!parsed.success) throw requestError(parsed.error.issues[0]);
  return parsed.data;
}

/**
 * Exactly the bodies `scoreRequestSchema` accepts (a property test holds the two together). An
 * accepted body is used as it is, where the schema would return a copy: the one difference is that
 * a record's `__proto__` key, which the schema drops, stays (the engine reads it like any field).
 */
export function isValidScoreRequest(input: unknown): input is ScoreRequest {
  if (!isPlainObject(input)) return false;
  for (const key in input) if (key !== 'records' && key !== 'explain') return false;
  const { records, explain } = input as { records?: unknown; explain?: unknown };
  if (explain !== undefined && typeof explain !== 'boolean') return false;
  if (!Array.isArray(records) || records.length === 0) return false;
  for (let i = 0; i < records.length; i++) {
    const r: unknown = records[i];
    if (!isPlainObject(r)) return false;
    for (const key in r) {
      // The schema passes over a "__proto__" key without looking at its value; so does this check.
      if (key === '__proto__') continue;
      const v = (r as Record<string, unknown>)[key];
      if (v !== null && typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) return false;
    }
  }
  return true;
}

function isPlainObject(v: unknown): v is object {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** What the scoring route needs. */
export interface ScoreRouteDeps {
  models: ModelCache;
  metrics: Metrics;
  maxBatch: number;
  maxBytes: number;
  auth: RequestHandler[];
  /** Where batches of at least `threadMinRecords` records are scored; null = all in place. */
  threads: ScoringThreads | null;
  threadMinRecords: number;
  logger: Logger;
}

/** The scoring route's path. */
export const SCORE_PATH = '/v1/models/:name/score';

/**
 * The handlers of the scoring route (at {@link SCORE_PATH}): validates the body, scores in order,
 * names the model version. Handlers, not a Router: the app mounts them itself, so the hottest
 * route costs no nested router's dispatch.
 */
export function scoreHandlers(deps: ScoreRouteDeps): RequestHandler[] {
  // Each path's counter bound once: a labelled increment hashes its labels every time.
  const counted = deps.metrics.scoredBatches;
  const inPlace = counted.labels('in_place');
  const threadPath: ThreadPath | null = deps.threads ? { ...deps, threads: deps.threads, scored: counted.labels('thread'), failed: counted.labels('thread_failed') } : null;
  /** Scores a validated request with its model and answers. */
  const scoreWith = (req: Request, res: Response, request: ParsedScoreRequest, model: ServedModel): void | Promise<void> => {
    const recs = request.records;
    const head = { model: model.name, version: model.version };
    // Encoded here whatever scores the records, so that a bad record is named the same way; binned
    // for the drift window before they are scored.
    let encoded: Encoded;
    try {
      encoded = model.detector.encodeRecords(recs);
    } catch (e: unknown) {
      throw request.layout === 'columns' ? inColumns(e) : e;
    }
    const binned = deps.metrics.drift.bin(model.name, model.version, model.manifest.featureReference, recs, model.manifest.calibration.referenceShares);
    // Kept past scoring only when the console's flagged sample wants this batch (a few per second at most).
    const sample = deps.metrics.traffic.wantsSample(model.name) ? recs : null;
    // Negotiated only when the Accept header names CSV at all: most requests carry none or */*.
    const accept = req.headers.accept;
    const csv = accept !== undefined && accept.includes('text/csv') && req.accepts(['application/json', 'text/csv']) === 'text/csv';
    if (threadPath && !request.explain && !csv && recs.length >= deps.threadMinRecords) {
      // Nothing reads the records past here (but the console's sample, rarely). Letting go of the
      // parsed body while a thread scores lets the young generation collect it: held across the
      // wait, the records of every batch in flight would be promoted to the old generation, whose
      // collection is far dearer.
      req.body = undefined;
      return scoreOnThread(threadPath, model, head, encoded, binned, sample, res);
    }
    inPlace.inc();
    const rows = model.detector.scoreRows(encoded);
    observe(deps.metrics, model, binned, rows);
    let explanations: Explanation[] | undefined;
    if (csv) {
      res.type('text/csv').set('x-model-version', model.version).send(csvAnswer(rows));
    } else if (!request.explain) {
      sendJsonBody(res, answerBody(head, rows));
    } else {
      const explained = explain(model.detector, recs);
      explanations = explained;
      sendJsonBody(res, scoreAnswer(head, resultsOf(rows).map((r, i) => ({ ...r, contributions: explained[i].contributions }))));
    }
    if (sample) sampleFlagged(deps.metrics.traffic, model, sample, rows, deps.logger, explanations);
  };
  /** Scores a parsed request with the named model, loaded or refreshed as needed. */
  const scoreNamed = (req: Request, res: Response, name: string, request: ParsedScoreRequest): void | Promise<void> => {
    if (request.records.length > deps.maxBatch) throw batchTooLarge(request.records.length, deps.maxBatch, request.layout === 'columns' ? '/columns' : '/records');
    // Synchronously when the model is loaded and fresh: most requests then make no promise at all.
    const model = deps.models.fresh(name);
    return model ? scoreWith(req, res, request, model) : deps.models.get(name).then((m) => scoreWith(req, res, request, m));
  };
  return [...deps.auth, body(deps.maxBytes, { tables: true }), (req, res) => {
    const name = lookupModelName(req.params.name);
    // CSV or NDJSON: left unread by the body parser, parsed here as it streams in.
    if (req.body === undefined && req.is(TABLE_TYPES)) return readDatasetBody(req, deps.maxBytes).then(({ records }) => scoreNamed(req, res, name, { records, layout: 'table' }));
    const input: unknown = req.body;
    const records = (input as { records?: unknown } | undefined)?.records;
    // Refused before its records are validated, which costs more than the check.
    if (Array.isArray(records) && records.length > deps.maxBatch) throw batchTooLarge(records.length, deps.maxBatch, '/records');
    return scoreNamed(req, res, name, parseJsonScoreRequest(input));
  }];
}

/** What scoring on a thread needs: the route's dependencies, its threads and its two batch counters. */
interface ThreadPath extends ScoreRouteDeps {
  threads: ScoringThreads;
  scored: { inc(): void };
  failed: { inc(): void };
}

/**
 * Scores encoded rows on a scoring thread and answers; when the thread fails (it died, or cannot
 * score the model), scores them in place instead, so the request is still answered.
 */
async function scoreOnThread(deps: ThreadPath, model: ServedModel, head: AnswerHead, encoded: Encoded, binned: BinnedRecords, sample: readonly DataRecord[] | null, res: Response): Promise<void> {
  // Held across the wait: a swap meanwhile must not dispose the detector the fallback scores with.
  const release = holdModel(model);
  try {
    let scored: ThreadScores | null = null;
    try {
      scored = await deps.threads.score(model, encoded);
    } catch (e: unknown) {
      deps.logger.warn({ model: model.name, version: model.version, err: messageOf(e) }, 'scoring thread failed; the batch is scored in place');
    }
    if (scored) {
      deps.scored.inc();
      observe(deps.metrics, model, binned, scored);
      sendJsonBody(res, scored.body);
      if (sample) sampleFlagged(deps.metrics.traffic, model, sample, scored, deps.logger);
      return;
    }
    deps.failed.inc();
    const rows = model.detector.scoreRows(encoded);
    observe(deps.metrics, model, binned, rows);
    sendJsonBody(res, answerBody(head, rows));
    if (sample) sampleFlagged(deps.metrics.traffic, model, sample, rows, deps.logger);
  } finally {
    release();
  }
}

/** Counts, score histograms, the drift window and the console's recent scores of one scored batch. */
function observe(metrics: Metrics, model: ServedModel, binned: BinnedRecords, scored: ScoreColumns): void {
  const labels = { model: model.name };
  metrics.score.observeMany(model.name, scored.score);
  metrics.scorePercentile.observeMany(model.name, scored.percentile);
  metrics.scoredRecords.inc(labels, scored.score.length);
  if (scored.flagged) metrics.flaggedRecords.inc(labels, scored.flagged);
  metrics.drift.add(binned, scored.percentile);
  metrics.traffic.observe(model.name, model.version, scored.score, scored.flagged);
}
