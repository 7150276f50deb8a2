import { type Request, type RequestHandler, type Response, Router } from 'express';
import { checkContract, checkNumbersAsText, type DatasetStore, datasetNotFound, withCategories } from '../store';
import { body, stalled } from './request-body';
import { atLines, readDatasetBody } from './dataset-parser';
import { AppError } from '../errors';
import { canonicalName, categoricalNames } from '../nce';
import { lookupDatasetName, onlyQuery, validName } from './validation';

/** The Retry-After of an UPLOADS_BUSY answer: about what reading a large upload takes. */
export const UPLOADS_BUSY_RETRY_SECONDS = 10;

/**
 * Lets at most `max` dataset uploads be read and stored at once in this process, refusing more
 * with 503 UPLOADS_BUSY before their bodies are read: an upload's records are held in memory until
 * stored, at 70-180 bytes a value (one of 4 million values took 730 MB RSS), so a few concurrent
 * uploads of the largest size would take the process past its heap (two did at a 640 MB heap).
 * An upload holds its place until its handler is done with it, whether or not its client waits
 * for the answer (a client that timed out and retried would otherwise add one more body in memory
 * each time); only a client gone before its body ended frees it at once, since then no record of
 * it will be stored, and a body arriving too slowly (see `stalled`) is
 * refused with 408.
 * @returns a wrapper of upload handlers, which parses the body (`parse`) in the place too
 */
export function fewAtOnce(max: number, parse: RequestHandler): (handle: (req: Request, res: Response) => Promise<void>) => RequestHandler {
  let reading = 0;
  return (handle) => async (req, res) => {
    if (reading >= max) {
      res.set('Retry-After', String(UPLOADS_BUSY_RETRY_SECONDS));
      throw new AppError('UPLOADS_BUSY', `${max} dataset uploads are being read on this replica (MAX_CONCURRENT_UPLOADS), each held in memory until stored; nothing was stored: retry after the Retry-After header's seconds`);
    }
    reading++;
    let onClose: (() => void) | undefined;
    // A body cut off leaves its reader waiting, maybe for ever: the place is freed then.
    const cutOff = new Promise<never>((_, reject) => {
      onClose = () => {
        if (!req.complete) reject(new AppError('MALFORMED_BODY', 'the client closed the connection before the body ended'));
      };
      res.once('close', onClose);
    });
    cutOff.catch(() => undefined);
    // Over the parse (JSON) and the handler, which reads CSV and NDJSON as they stream in.
    res.locals.paceWatched = true;
    const slow = stalled(req, `holding one of the few places uploads are read in (MAX_CONCURRENT_UPLOADS): nothing was stored; send it again over a faster link, or in smaller appends`);
    try {
      await Promise.race([new Promise<void>((resolve, reject) => parse(req, res, (e?: unknown) => (e ? reject(e) : resolve()))), cutOff, slow.stopped]);
      await Promise.race([handle(req, res), cutOff, slow.stopped]);
    } catch (e: unknown) {
      // The rest of a body too slow is not waited for: the connection closes after the answer.
      if (e instanceof AppError && e.code === 'REQUEST_TIMEOUT') res.set('connection', 'close');
      throw e;
    } finally {
      slow.stop();
      if (onClose) res.off('close', onClose);
      reading--;
    }
  };
}

/** Dataset routes: create/replace, append with retention, inspect, list, delete. */
export function datasetsRouter(deps: { datasets: DatasetStore; maxBytes: number; maxColumns: number; maxValues: number; maxUploads: number; readAuth: RequestHandler[]; writeAuth: RequestHandler[] }): Router {
  const router = Router();
  const upload = fewAtOnce(deps.maxUploads, body(deps.maxBytes, { tables: true, setting: 'MAX_DATASET_BYTES' }));

  router.put(
    '/v1/datasets/:name',
    ...deps.writeAuth,
    upload(async (req, res) => {
      const name = validName(req.params.name, 'dataset');
      onlyQuery(req.query, ['categorical']);
      // Declared categorical columns of a CSV keep their codes as written ("02134", "2.10").
      const declared = declaredCategorical(req.query.categorical);
      const { columns, records, lines } = await readDatasetBody(req, deps.maxBytes, { setting: 'MAX_DATASET_BYTES', text: declared, maxColumns: deps.maxColumns, maxValues: deps.maxValues });
      const unknown = declared.find((c) => !columns.includes(c));
      if (unknown !== undefined) throw new AppError('INVALID_REQUEST', `categorical names "${unknown}", which is not a column (columns: ${columns.join(', ')})`, '/categorical');
      const typed = withCategories(records, declared);
      res.json(
        await atLines(lines, () => {
          checkNumbersAsText(columns, typed, declared);
          return deps.datasets.put(name, columns, typed, declared);
        }),
      );
    }),
  );

  router.post(
    '/v1/datasets/:name/records',
    ...deps.writeAuth,
    upload(async (req, res) => {
      const name = lookupDatasetName(req.params.name);
      onlyQuery(req.query, ['maxRows']);
      const key = idempotencyKey(req.get('idempotency-key'));
      const maxRows = req.query.maxRows === undefined ? undefined : /^[0-9]+$/.test(String(req.query.maxRows)) ? Number(req.query.maxRows) : Number.NaN;
      if (maxRows !== undefined && !(Number.isSafeInteger(maxRows) && maxRows > 0)) throw new AppError('INVALID_REQUEST', `maxRows must be a positive integer of at most ${Number.MAX_SAFE_INTEGER}`, '/maxRows');
      const existing = await deps.datasets.info(name);
      if (!existing) throw new AppError('DATASET_NOT_FOUND', `dataset "${name}" does not exist; create it with PUT first`);
      const categorical = categoricalNames(existing.schema ?? []);
      // Categorical CSV fields as written, as the dataset's own were stored; a dataset from before
      // that (no generation) stored them as the numbers they spell, and its appends still do.
      const body = await readDatasetBody(req, deps.maxBytes, { setting: 'MAX_DATASET_BYTES', dataset: existing.columns, text: existing.generation ? categorical : [], maxColumns: deps.maxColumns, maxValues: deps.maxValues });
      // A number in a categorical column (JSON) is stored as its text, as a PUT with ?categorical= stores
      // it, or as the dataset's own spelling of it ("4.0").
      const records = withCategories(body.records, categorical, existing.schema ?? []);
      const appended = await atLines(body.lines, () => {
        // Datasets created before contracts existed have none to check against.
        if (existing.schema) checkContract(existing.schema, records);
        // Appended only to the dataset checked against: a PUT that replaced it meanwhile makes this a 409.
        return deps.datasets.append(name, records, { ...(maxRows === undefined ? {} : { maxRows }), expect: existing, ...(key === undefined ? {} : { key }) });
      });
      const { replayed, ...info } = appended;
      if (replayed) res.set('Idempotent-Replayed', 'true');
      res.json(info);
    }),
  );

  router.get('/v1/datasets', ...deps.readAuth, async (req, res) => {
    // No parameters: a `?limit=` that would be ignored is refused instead.
    onlyQuery(req.query, []);
    res.json({ datasets: await deps.datasets.list() });
  });

  router.get('/v1/datasets/:name', ...deps.readAuth, async (req, res) => {
    const name = lookupDatasetName(req.params.name);
    onlyQuery(req.query, []);
    const info = await deps.datasets.info(name);
    if (!info) throw datasetNotFound(name);
    res.json(info);
  });

  router.delete('/v1/datasets/:name', ...deps.writeAuth, async (req, res) => {
    const name = lookupDatasetName(req.params.name);
    onlyQuery(req.query, []);
    if (!(await deps.datasets.delete(name))) throw datasetNotFound(name);
    res.status(204).end();
  });
  return router;
}

/**
 * The columns `?categorical=a,b` declares categorical (codes that look like numbers, such as floor
 * 1-30 and "G"); the route checks, once the upload is read, that each is one of its columns.
 */
function declaredCategorical(raw: unknown): string[] {
  if (raw === undefined) return [];
  if (typeof raw !== 'string') throw new AppError('INVALID_REQUEST', 'categorical is one comma-separated list of column names', '/categorical');
  // In the Unicode form the columns are read in (NFC), as a name copied from a file may not be.
  return raw.split(',').map((c) => canonicalName(c.trim())).filter((c) => c !== '');
}

/** Longest `Idempotency-Key` an append takes. */
export const IDEMPOTENCY_KEY_MAX = 255;

/**
 * An append's `Idempotency-Key` header (see `AppendOptions.key`): 1 to {@link IDEMPOTENCY_KEY_MAX}
 * visible ASCII characters, such as a UUID; undefined when absent.
 */
function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length === 0 || header.length > IDEMPOTENCY_KEY_MAX || !/^[\x21-\x7e]+$/.test(header)) {
    throw new AppError('INVALID_REQUEST', `the Idempotency-Key header must be 1 to ${IDEMPOTENCY_KEY_MAX} visible ASCII characters, such as a UUID`);
  }
  return header;
}
