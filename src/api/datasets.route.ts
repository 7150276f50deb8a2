import { Router, type RequestHandler } from 'express';
import { checkContract, type DatasetStore } from '../store';
import { body } from './request-body';
import { atCsvLines, checkColumns, readDatasetBody } from './dataset-parser';
import { AppError } from '../errors';
import { validName } from './validation';

/** Dataset routes: create/replace, append with retention, inspect, list, delete. */
export function datasetsRouter(deps: { datasets: DatasetStore; maxBytes: number; readAuth: RequestHandler[]; writeAuth: RequestHandler[] }): Router {
  const router = Router();
  const upload = body(deps.maxBytes, { tables: true });

  router.put('/v1/datasets/:name', ...deps.writeAuth, upload, async (req, res) => {
    const name = validName(req.params.name, 'dataset');
    const { columns, records, lines } = await readDatasetBody(req, deps.maxBytes);
    res.json(await atCsvLines(lines, () => deps.datasets.put(name, columns, records)));
  });

  router.post('/v1/datasets/:name/records', ...deps.writeAuth, upload, async (req, res) => {
    const name = validName(req.params.name, 'dataset');
    const maxRows = req.query.maxRows === undefined ? undefined : Number(req.query.maxRows);
    if (maxRows !== undefined && !(Number.isInteger(maxRows) && maxRows > 0)) throw new AppError('INVALID_REQUEST', 'maxRows must be a positive integer', '/maxRows');
    const existing = await deps.datasets.info(name);
    if (!existing) throw new AppError('NOT_FOUND', `dataset "${name}" does not exist; create it with PUT first`);
    const { records, lines } = await readDatasetBody(req, deps.maxBytes);
    const appended = await atCsvLines(lines, () => {
      checkColumns(records, existing.columns);
      // Datasets created before contracts existed have none to check against.
      if (existing.schema) checkContract(existing.schema, records);
      return deps.datasets.append(name, records, maxRows);
    });
    res.json(appended);
  });

  router.get('/v1/datasets', ...deps.readAuth, async (_req, res) => {
    res.json({ datasets: await deps.datasets.list() });
  });

  router.get('/v1/datasets/:name', ...deps.readAuth, async (req, res) => {
    const name = validName(req.params.name, 'dataset');
    const info = await deps.datasets.info(name);
    if (!info) throw new AppError('NOT_FOUND', `dataset "${name}" does not exist`);
    res.json(info);
  });

  router.delete('/v1/datasets/:name', ...deps.writeAuth, async (req, res) => {
    const name = validName(req.params.name, 'dataset');
    if (!(await deps.datasets.delete(name))) throw new AppError('NOT_FOUND', `dataset "${name}" does not exist`);
    res.status(204).end();
  });
  return router;
}
