import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { Detector, explain, initBackend, train } from '../../src/nce';
import { createRng } from '../../src/nce/random';
import { ROOT } from '../helpers/processes';
import { type EmbeddedService, jobFinished, startEmbedded } from '../helpers/service';

/**
 * Values the reference data never had score as what they are: a null where no record had one, a
 * category outside those seen. High-cardinality fields, where unseen values are ordinary, are the
 * exception.
 */
let running: EmbeddedService;

beforeAll(async () => {
  running = await startEmbedded();
});

afterAll(async () => {
  await running.close();
});

const finished = (id: string) => jobFinished<{ state: string }>(running.service.app, id);

describe('values training never had', () => {
  it('the payments walkthrough: {"amount": null} and {"channel": "phone"} come back ood, a usual payment does not', async () => {
    const { app } = running.service;
    const csv = await readFile(join(ROOT, 'examples', 'payments.csv'), 'utf8');
    await request(app).put('/v1/datasets/payments').set('content-type', 'text/csv').send(csv);
    const job = await request(app).post('/v1/models/payments/train').send({ dataset: 'payments' });
    expect((await finished(job.body.jobId)).state).toBe('completed');
    const scored = await request(app)
      .post('/v1/models/payments/score')
      .send({ records: [{ amount: 38.5, channel: 'web', hour: 14 }, { amount: null, channel: 'web', hour: 14 }, { amount: 38.5, channel: 'phone', hour: 14 }] });
    expect(scored.status).toBe(200);
    const [usual, missing, unseen] = scored.body.results as { score: number; ood: boolean }[];
    expect(usual.ood).toBe(false);
    expect(missing.ood).toBe(true);
    expect(unseen.ood).toBe(true);
    expect(missing.score).toBeLessThan(usual.score);
    expect(unseen.score).toBeLessThan(usual.score);
    // A batch large enough for a scoring thread carries the same information there.
    const batch = [...Array.from({ length: 19 }, () => ({ amount: 38.5, channel: 'web', hour: 14 })), { amount: null, channel: 'web', hour: 14 }];
    const threaded = (await request(app).post('/v1/models/payments/score').send({ records: batch })).body.results as { score: number; ood: boolean }[];
    expect(threaded.map((r) => r.ood)).toEqual([...Array(19).fill(false), true]);
    expect(threaded[19]?.score).toBeCloseTo(missing.score, 5);
  });

  it('an unseen value of a high-cardinality field (training had more values than are kept) is an ordinary "other", not flagged; explanations name the field of a novel value', async () => {
    await initBackend();
    const rng = createRng(3);
    const records = Array.from({ length: 600 }, (_, i) => ({ x: rng.normal(), merchant: `m${i % 300}`, channel: ['web', 'app'][i % 2] as string }));
    const result = await train(records, { epochs: 3 });
    const detector = new Detector(result.state);
    try {
      const [usual, newMerchant, newChannel] = detector.score([
        { x: 0, merchant: 'm1', channel: 'web' },
        { x: 0, merchant: 'never-seen', channel: 'web' },
        { x: 0, merchant: 'm1', channel: 'phone' },
      ]);
      expect(newMerchant?.ood).toBe(false);
      expect(newChannel?.ood).toBe(true);
      // A value of the bucket is one of its 236 values, each about as frequent as m1: scored so,
      // not at the whole bucket's frequency (79% of the records: 5.5 nats above m1 before).
      expect(result.state.schema.find((f) => f.name === 'merchant')).toMatchObject({ hasOther: true, otherValues: 236 });
      expect(Math.abs((newMerchant?.score as number) - (usual?.score as number))).toBeLessThan(1.5);
      expect((usual?.score as number) - (newChannel?.score as number)).toBeGreaterThan(-(result.state.noveltyLogProb as number) - 3);
      const [why] = explain(detector, [{ x: 0, merchant: 'm1', channel: 'phone' }]);
      const worst = Object.entries(why?.contributions ?? {}).sort((a, b) => a[1] - b[1])[0];
      expect(worst?.[0]).toBe('channel');
    } finally {
      detector.dispose();
    }
  });

  it('GET /v1/models/{name} says per categorical feature how many values it keeps and whether a value never seen is flagged or pooled as "other" (an outside probe: a town typo passed unflagged, and nothing showed why)', async () => {
    const { app } = running.service;
    const records = Array.from({ length: 600 }, (_, i) => ({ x: Math.sin(i), merchant: `m${i % 300}`, channel: ['web', 'app'][i % 2] as string }));
    expect((await request(app).put('/v1/datasets/pooled').send({ records })).status).toBe(200);
    const started = await request(app).post('/v1/models/pooled/train').send({ dataset: 'pooled', config: { epochs: 2, kernelPartner: false } });
    expect((await finished(started.body.jobId)).state).toBe('completed');
    const { features } = (await request(app).get('/v1/models/pooled')).body;
    expect(features).toEqual([
      { name: 'x', kind: 'numeric', hasMissing: false },
      { name: 'merchant', kind: 'categorical', hasMissing: false, categories: 64, unseenValues: 'pooled' },
      { name: 'channel', kind: 'categorical', hasMissing: false, categories: 2, unseenValues: 'flagged' },
    ]);
  });

  it('a small reference whose field has many values seen once: unseen values are common there, pooled as "other" and not flagged by themselves; a field without such values still flags them', async () => {
    await initBackend();
    const rng = createRng(5);
    // 60 rows, 30 countries: about a third of the rows carry a country no other row has, as a
    // third of new records will. The channel has two values, every one seen many times.
    const country = (): string => `c${Math.floor(30 * rng.uniform() ** 2)}`;
    const row = () => ({ x: rng.normal(), country: country(), channel: rng.uniform() < 0.5 ? 'web' : 'app' });
    const records = Array.from({ length: 60 }, row);
    const result = await train(records, { epochs: 3, seed: 2 });
    const feature = result.state.schema.find((f) => f.name === 'country');
    expect(feature).toMatchObject({ kind: 'categorical', hasOther: true });
    expect(result.state.schema.find((f) => f.name === 'channel')).toMatchObject({ kind: 'categorical', hasOther: false });
    const detector = new Detector(result.state);
    try {
      const [newCountry, newChannel] = detector.score([
        { x: 0, country: 'never-seen', channel: 'web' },
        { x: 0, country: 'c0', channel: 'phone' },
      ]);
      expect(newCountry?.ood).toBe(false);
      expect(newChannel?.ood).toBe(true);
      // Fresh records of the same source: before pooling, about a third were flagged for their country alone.
      const fresh = detector.score(Array.from({ length: 500 }, row));
      expect(fresh.filter((r) => r.ood).length / 500).toBeLessThan(0.15);
    } finally {
      detector.dispose();
    }
  });

  it('a column empty in every training record: the training says so, and any value there is one never seen (flagged, whatever the number), a null is not', async () => {
    await initBackend();
    const rng = createRng(5);
    const records = Array.from({ length: 300 }, () => ({ x: rng.normal(), y: rng.normal(), note: null }));
    const result = await train(records, { epochs: 3 });
    expect(result.training.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^column "note" is empty in every record/)]));
    const detector = new Detector(result.state);
    try {
      const [usual, zero, one, far, text] = detector.score([
        { x: 0, y: 0, note: null },
        { x: 0, y: 0, note: 0 },
        { x: 0, y: 0, note: 1 },
        { x: 0, y: 0, note: 1e9 },
        { x: 0, y: 0, note: 'n/a' },
      ]);
      expect(usual?.ood).toBe(false);
      // Every value alike: a novelty of noveltyLogProb, not a distance from a scale no record gave.
      for (const r of [zero, one, far, text]) {
        expect(r?.ood).toBe(true);
        expect(r?.score).toBeCloseTo(zero?.score as number, 6);
      }
      const gap = (usual?.score as number) - (zero?.score as number);
      expect(gap).toBeGreaterThan(-(result.state.noveltyLogProb as number) - 1);
      expect(gap).toBeLessThan(30);
    } finally {
      detector.dispose();
    }
  });
});
