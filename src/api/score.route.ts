import { type BinnedRecords, driftReferenceOf, type Metrics } from '../metrics';
import { type ModelCache, sampleFlagged, type Scored, ScoringCancelled, type Scorer, type ServedModel } from '../serving';
import { body, TABLE_TYPES } from './request-body';
import { atLines, readDatasetBody } from './dataset-parser';
import { sendJsonBody } from './json-response';
import { batchTooLarge, checkOneFormEach, inColumns, parseJsonScoreRequest, type ParsedScoreRequest } from './score-request';
import { lookupModelName, onlyQuery } from './validation';
import { AppError, NoVersionError } from '../errors';
import type { JobInfo } from '../queue';
import { categoricalNames } from '../nce';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

/** What the scoring route needs. */
export interface ScoreRouteDeps {
  models: ModelCache;
  scorer: Scorer;
  metrics: Metrics;
  maxBatch: number;
  /** Most records one request may ask explanations of (MAX_EXPLAIN_RECORDS). */
  maxExplain: number;
  maxBytes: number;
  auth: RequestHandler[];
  logger: Logger;
  /** A training job of the model that is queued or running, if any: a model scored before its first training ends is told so. */
  trainingOf?: (model: string) => Promise<JobInfo | null>;
}

/**
 * The widest model whose explanations MAX_EXPLAIN_RECORDS counts as they are: an explanation scores
 * 1 + 8 d rows of d features, so its CPU time grows with d² (measured at 2,048 features: 5.4 s
 * a record; its memory is bounded, see `explain`), and a wider model explains MAX_EXPLAIN_RECORDS x (600 / d)² records
 * (100 by default: 8 at 2,048 features).
 */
const EXPLAIN_FULL_FEATURES = 600;

/** The scoring route's path. */
export const SCORE_PATH = '/v1/models/:name/score';

/** Aborted once the client has gone before its answer was written (already gone too, while its model loaded). */
function clientGone(res: Response): AbortSignal {
  const gone = new AbortController();
  if (res.closed) gone.abort();
  else {
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
  }
  return gone.signal;
}

/**
 * An Accept header as negotiation reads it: media types are case-insensitive, and a range's
 * parameters other than its weight say nothing about JSON or CSV (`TEXT/CSV; charset=utf-8` asks
 * for CSV; left as sent, it matched neither and got JSON).
 */
export function mediaRanges(accept: string): string {
  return accept
    .toLowerCase()
    .split(',')
    .map((range) => {
      const [type, ...params] = range.split(';').map((p) => p.trim());
      const weight = params.find((p) => /^q=/.test(p));
      return weight === undefined ? type : `${type};${weight}`;
    })
    .join(',');
}

/**
 * The handlers of the scoring route (at {@link SCORE_PATH}): parse the body, score it (the serving
 * layer's {@link Scorer}), observe the batch, send the answer. Handlers, not a Router: the app
 * mounts them itself, so the hottest route costs no nested router's dispatch.
 */
export function scoreHandlers(deps: ScoreRouteDeps): RequestHandler[] {
  /** The model, loaded; a model that does not exist yet because its first training has not ended says which job to wait for. */
  const modelNamed = (name: string): Promise<ServedModel> =>
    deps.models.get(name).catch(async (e: unknown) => {
      // (Not of a model whose versions are all candidates: its answer says what to do already.)
      if (!(e instanceof NoVersionError) || !deps.trainingOf) throw e;
      // Only a hint: a queue that cannot answer gives none.
      const job = await deps.trainingOf(name).catch(() => null);
      if (!job) throw e;
      throw new AppError('MODEL_NOT_FOUND', `${e.message} yet: its training, job ${job.id}, is ${job.state}; score it once GET /v1/jobs/${job.id} says completed`);
    });
  /** Scores a parsed request with its model and answers. */
  const scoreWith = (req: Request, res: Response, request: ParsedScoreRequest, model: ServedModel): void | Promise<void> => {
    const records = request.records;
    if (request.layout === 'records') checkOneFormEach(records, model.manifest.schema);
    // Negotiated only when the Accept header names a text type at all (text/csv, or text/*, of which
    // CSV is the one this route answers with): most requests carry none or */*.
    const accept = req.headers.accept === undefined ? undefined : mediaRanges(req.headers.accept);
    if (accept !== undefined) req.headers.accept = accept;
    // Explanations come as JSON only: CSV for them only when the client takes nothing else.
    const csv = accept !== undefined && accept.includes('text/') && req.accepts(['application/json', 'text/csv']) === 'text/csv' && !(request.explain && req.accepts('application/json'));
    if (csv && request.explain) throw new AppError('NOT_ACCEPTABLE', 'explanations come as JSON only: accept application/json, or leave explain out', '/explain');
    if (request.explain) {
      if (records.length > deps.maxExplain) {
        throw new AppError('BATCH_TOO_LARGE', `${records.length} records to explain in one request; the limit is ${deps.maxExplain} (MAX_EXPLAIN_RECORDS): each explanation scores its record permutations x features times. Explain the records of interest, such as the flagged ones`, '/explain');
      }
      const features = model.manifest.schema.length;
      const widest = Math.max(1, Math.floor((deps.maxExplain * EXPLAIN_FULL_FEATURES ** 2) / features ** 2));
      if (records.length > widest) {
        throw new AppError('BATCH_TOO_LARGE', `${records.length} records to explain in one request; a model of ${features} features explains at most ${widest} a request (MAX_EXPLAIN_RECORDS x (${EXPLAIN_FULL_FEATURES} / features)²): each explanation scores 1 + 8 x ${features} rows of ${features} features, so its cost grows with their square. Explain fewer records a request`, '/explain');
      }
    }
    // An explanation can take seconds: when its client leaves, the scoring thread drops it.
    const left = request.explain ? clientGone(res) : undefined;
    let scored: Scored | Promise<Scored>;
    try {
      scored = deps.scorer.score(model, records, { ...(request.explain ? { explain: true } : {}), ...(csv ? { format: 'csv' } : {}), ...(left ? { signal: left } : {}) });
    } catch (e: unknown) {
      throw request.layout === 'columns' ? inColumns(e) : e;
    }
    // Binned while a thread scores; the records are not held past here (but by the console's
    // sample, rarely), so a batch in flight does not keep them from the young generation.
    const binned = deps.metrics.drift.bin(model.name, model.version, driftReferenceOf(model.manifest), records);
    const sample = deps.metrics.traffic.wantsSample(model.name) ? records : null;
    const answer = (s: Scored): void => {
      observe(deps.metrics, model, binned, s);
      if (csv) res.type('text/csv').set('x-model-version', model.version).send(s.body);
      else sendJsonBody(res, s.body);
      if (sample) sampleFlagged(deps.metrics.traffic, model, sample, s, deps.logger, (picked) => deps.scorer.explanations(model, picked), s.explanations);
    };
    if (!(scored instanceof Promise)) return answer(scored);
    return scored.then(answer, (e: unknown) => {
      // Nobody is left to answer.
      if (e instanceof ScoringCancelled) return;
      throw e;
    });
  };
  /** Scores a parsed request with the named model, loaded or refreshed as needed. */
  const scoreNamed = (req: Request, res: Response, name: string, request: ParsedScoreRequest): void | Promise<void> => {
    if (request.records.length > deps.maxBatch) throw batchTooLarge(request.records.length, deps.maxBatch, request.layout === 'columns' ? '/columns' : '/records');
    // Synchronously when the model is loaded and fresh: most requests then make no promise at all.
    const model = deps.models.fresh(name);
    return model ? scoreWith(req, res, request, model) : modelNamed(name).then((m) => scoreWith(req, res, request, m));
  };
  return [...deps.auth, body(deps.maxBytes, { tables: true, repeatedKeys: 'passed' }), (req, res) => {
    const name = lookupModelName(req.params.name);
    // Looked at only when there is a query: most requests have none.
    if (req.url.includes('?')) onlyQuery(req.query, [], 'explanations are asked for in the JSON body, {"records": [...], "explain": true}');
    // CSV or NDJSON: left unread by the body parser, parsed here as it streams in.
    if (req.body === undefined && req.is(TABLE_TYPES)) {
      // The model first: its categorical fields are read as written ("02134"), as JSON sends them.
      return modelNamed(name)
        .then((m) => readDatasetBody(req, deps.maxBytes, { text: categoricalNames(m.manifest.schema), scoring: true }))
        .then(({ records, lines }) => atLines(lines, () => scoreNamed(req, res, name, { records, layout: 'table' })));
    }
    const input: unknown = req.body;
    // The parsed request holds the records from here: the body goes, so that nothing keeps a
    // batch's records alive while a thread scores it.
    req.body = undefined;
    const records = (input as { records?: unknown } | undefined)?.records;
    // Refused before its records are validated, which costs more than the check.
    if (Array.isArray(records) && records.length > deps.maxBatch) throw batchTooLarge(records.length, deps.maxBatch, '/records');
    return scoreNamed(req, res, name, parseJsonScoreRequest(input));
  }];
}

/** Counts, score histograms, the drift window and the console's recent scores of one scored batch of a model still served. */
function observe(metrics: Metrics, model: ServedModel, binned: BinnedRecords, scored: Scored): void {
  // Deleted (or evicted) while a thread scored the batch: its series are gone and stay gone.
  if (!metrics.serves(model.name)) return;
  const labels = { model: model.name };
  metrics.score.observeMany(model.name, scored.score);
  metrics.scorePercentile.observeMany(model.name, scored.percentile);
  metrics.scoredRecords.inc(labels, scored.score.length);
  // Counted from 0, so a healthy model's flagged ratio is 0 rather than no data.
  metrics.flaggedRecords.inc(labels, scored.flagged);
  metrics.drift.add(binned, scored.percentile);
  metrics.traffic.observe(model.name, model.version, scored.score, scored.flagged);
}
