import { Router, type Request, type RequestHandler } from 'express';
import { type Manifest, NceError } from '../nce';
import type { Metrics } from '../metrics';
import { listedModel, type ModelStore } from '../store';
import { type Access, type ConsoleOverview, modelConsole } from '../ui';
import type { ModelCache } from '../serving';
import type { Scheduler } from '../queue';
import { lookupModelName, onlyQuery } from './validation';
import { sendJsonMaybeGzipped } from './json-response';

/** What the console's data routes need. */
export interface ConsoleRouteDeps {
  store: ModelStore;
  models: ModelCache;
  metrics: Metrics;
  /** Read auth (score or admin keys). */
  auth: RequestHandler[];
  /** What the request's key may do. */
  access: (req: Request) => Access | null;
  /** CONSOLE_RAW_VALUES: `admin` shows flagged records' values to admin keys (everyone without API_KEYS). */
  rawValues: 'admin' | 'off';
  /** DRIFT_MIN_RECORDS. */
  minRecords: number;
  /** The retraining schedules, for a model page's schedule line. */
  scheduler: Pick<Scheduler, 'get'>;
}

/** Versions summarised at most; a version never changes, so a summary never goes stale. */
const SUMMARIES_MAX = 1024;

/**
 * Features whose drift a model page gets, the most drifted: a 768-feature model's whole table was
 * 557 KB of the page's data every 5 s, and 768 rows to scroll and tab through.
 */
export const CONSOLE_DRIFT_FEATURES = 50;

/**
 * The data of the web console's pages: `GET /v1/console` (every model's current version, its
 * traffic and score drift on this replica) and `GET /v1/models/{name}/console` (training, score
 * distribution, drift, flagged records). Read auth; a flagged record's values only for admin keys.
 */
export function consoleRouter(deps: ConsoleRouteDeps): Router {
  const router = Router();
  const summaries = new Map<string, Pick<Manifest, 'createdAt' | 'training'>>();
  const summaryOf = async (name: string, version: string): Promise<Pick<Manifest, 'createdAt' | 'training'>> => {
    const key = `${name}/${version}`;
    let s = summaries.get(key);
    if (!s) {
      const { manifest } = await deps.store.load(name, version);
      s = { createdAt: manifest.createdAt, training: manifest.training };
      if (summaries.size >= SUMMARIES_MAX) summaries.delete(summaries.keys().next().value as string);
      summaries.set(key, s);
    }
    return s;
  };

  router.get('/v1/console', ...deps.auth, async (req, res) => {
    onlyQuery(req.query, []);
    const names = await deps.store.names();
    const row = async (name: string, again = true): Promise<ConsoleOverview['models'][number] | null> => {
      const listed = await listedModel(deps.store, name);
      if (listed === null) return null;
      // Every version kept back by the quality gate: listed, so that its page (and Promote) can be found.
      if (listed.version === null) return { name, ...listed, scored: 0, flagged: 0, psi: null };
      const { version } = listed;
      const traffic = deps.metrics.traffic.view(name);
      const stats = deps.metrics.drift.stats(name);
      const served = { scored: traffic?.version === version ? traffic.scored : 0, flagged: traffic?.version === version ? traffic.flagged : 0, psi: stats?.version === version ? stats.psi : null };
      try {
        const s = await summaryOf(name, version);
        return { name, version, createdAt: s.createdAt, valAuc: s.training.valAuc, ...served };
      } catch (e: unknown) {
        if (!(e instanceof NceError)) throw e;
        // Deleted while listed (the model's delete, retention's pruning): gone, not damaged (an
        // outside probe); the model as it is now, if it still is.
        const versions = await deps.store.versions(name);
        if (!versions.includes(version)) return again && versions.length > 0 ? row(name, false) : null;
        return { name, version, damaged: e.message, ...served };
      }
    };
    const rows = await Promise.all(names.map((name) => row(name)));
    const answer: ConsoleOverview = { access: deps.access(req) ?? 'score', models: rows.filter((r) => r !== null) };
    res.json(answer);
  });

  router.get('/v1/models/:name/console', ...deps.auth, async (req, res) => {
    const name = lookupModelName(req.params.name);
    onlyQuery(req.query, []);
    const m = await deps.models.get(name);
    const access = deps.access(req) ?? 'score';
    // The page's schedule line is a hint: a scheduler that cannot answer (Redis away) leaves it out.
    const schedule = await deps.scheduler.get(name).then(
      (s) => (s === null ? null : { cron: s.cron, timezone: s.timezone, dataset: s.dataset, nextRun: s.nextRun }),
      () => undefined,
    );
    await sendJsonMaybeGzipped(
      req,
      res,
      modelConsole({
        name,
        version: m.version,
        manifest: m.manifest,
        window: deps.metrics.drift.contents(name),
        traffic: deps.metrics.traffic.view(name),
        minRecords: deps.minRecords,
        access,
        rawValues: deps.rawValues === 'admin' && access !== 'score',
        maxFeatures: CONSOLE_DRIFT_FEATURES,
        schedule,
      }),
    );
  });
  return router;
}
