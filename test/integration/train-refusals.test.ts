import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

/** A training its dataset is too small for is refused at once, not by a job that fails later. */
let running: EmbeddedService;

beforeAll(async () => {
  running = await startEmbedded();
});

afterAll(async () => {
  await running.close();
});

/** A fresh dataset of `rows` records of two numeric columns; its name. */
async function dataset(rows: number): Promise<string> {
  const name = `small-${randomBytes(4).toString('hex')}`;
  const records = Array.from({ length: rows }, (_, i) => ({ x: i, y: (i * 7) % 11 }));
  expect((await request(running.service.app).put(`/v1/datasets/${name}`).send({ records })).status).toBe(200);
  return name;
}

describe('POST /v1/models/:name/train', () => {
  it('when a gmm noise has more components than the 30-record dataset fits q to, returns 422 INSUFFICIENT_DATA naming noise.components and what would do', async () => {
    const name = await dataset(30);

    const res = await request(running.service.app).post(`/v1/models/${name}/train`).send({ dataset: name, config: { noise: { type: 'gmm', components: 32 } } });

    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ code: 'INSUFFICIENT_DATA', pointer: '/config/noise/components' });
    expect(res.body.detail).toContain('noise.components');
    expect(res.body.detail).toContain('at most 24');
    expect((await request(running.service.app).get(`/v1/jobs?model=${name}`)).body.jobs).toEqual([]);
  });

  it('when only the trimmed second pass (contaminationTrim) would fit q to too few records, returns 422 naming that count', async () => {
    const name = await dataset(40);

    // 40 records: 8 held out, 32 fitted in the first pass, 29 after trimming a tenth.
    const res = await request(running.service.app)
      .post(`/v1/models/${name}/train`)
      .send({ dataset: name, config: { contaminationTrim: 0.1, noise: { type: 'gmm', components: 30 } } });

    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'INSUFFICIENT_DATA', pointer: '/config/noise/components' });
    expect(res.body.detail).toContain('at most 29');
  });

  it('when a gmm inside a mixture has too many components, returns 422 pointing at that component', async () => {
    const name = await dataset(30);
    const noise = { type: 'mixture', components: [{ weight: 1, noise: { type: 'gaussian' } }, { weight: 1, noise: { type: 'gmm', components: 25 } }] };

    const res = await request(running.service.app).put(`/v1/models/${name}/schedule`).send({ cron: '0 3 * * *', dataset: name, config: { noise } });

    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'INSUFFICIENT_DATA', pointer: '/config/noise/components/1/noise/components' });
    expect((await request(running.service.app).get(`/v1/models/${name}/schedule`)).status).toBe(404);
  });
});
