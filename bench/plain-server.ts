/**
 * The comparison endpoint of `npm run bench:serve`: plain Express 5 that parses the same JSON body
 * and answers a response of the same shape as the scoring route, with no model work.
 */
import express from 'express';

const app = express();
app.use(express.json({ limit: 64 << 20 }));
app.post('/v1/models/:name/score', (req, res) => {
  const records = (req.body as { records: unknown[] }).records;
  res.json({
    model: req.params.name,
    version: 'plain',
    results: records.map(() => ({ score: -1.5, logRatio: 0.5, logDensity: -1.5, percentile: 0.5, ood: false })),
  });
});
app.listen(Number(process.env.PORT ?? 0));
