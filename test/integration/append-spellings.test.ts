import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { type EmbeddedService, startEmbedded } from '../helpers/service';

/** Appends that spell one category in two ways are one append, and a bad numeric field is told apart from a number sent as text. */
let running: EmbeddedService;

beforeAll(async () => {
  running = await startEmbedded();
});

afterAll(async () => {
  await running.close();
});

/** A fresh dataset of payments (amount and hour numeric, channel categorical: web, store, app); its name. */
async function payments(): Promise<string> {
  const name = `pay-${randomBytes(4).toString('hex')}`;
  const csv = ['amount,channel,hour', ...Array.from({ length: 30 }, (_, i) => `${10 + i},${['web', 'store', 'app'][i % 3]},${i % 24}`)].join('\n');
  expect((await request(running.service.app).put(`/v1/datasets/${name}`).set('content-type', 'text/csv').send(csv)).status).toBe(200);
  return name;
}

describe('POST /v1/datasets/:name/records', () => {
  it('when an append is retried under its Idempotency-Key with a boolean spelt TRUE in CSV where JSON sent true, replays it and stores one spelling', async () => {
    const { app } = running.service;
    const name = await payments();
    const first = await request(app).post(`/v1/datasets/${name}/records`).set('Idempotency-Key', 'k2').send({ records: [{ amount: 1.5, channel: true, hour: 2 }] });
    expect(first.status).toBe(200);

    const retry = await request(app).post(`/v1/datasets/${name}/records`).set('Idempotency-Key', 'k2').set('content-type', 'text/csv').send('amount,channel,hour\n1.5,TRUE,2\n');

    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.rows).toBe(31);
    // Sent again as a new append, TRUE is the category the first one stored, not a second one.
    expect((await request(app).post(`/v1/datasets/${name}/records`).set('content-type', 'text/csv').send('amount,channel,hour\n2.5,TRUE,3\n')).body.rows).toBe(32);
    expect((await running.service.datasets.records(name)).records.slice(-2).map((r) => r.channel)).toEqual(['true', 'true']);
  });

  it('when an append is retried under its Idempotency-Key with a category in NFD where it was sent in NFC, replays it and stores the NFC form', async () => {
    const { app } = running.service;
    const name = await payments();
    const nfc = 'Gr\u00f6\u00dfe';
    const nfd = 'Gro\u0308\u00dfe';
    expect((await request(app).post(`/v1/datasets/${name}/records`).set('Idempotency-Key', 'k3').send({ records: [{ amount: 1.5, channel: nfc, hour: 2 }] })).status).toBe(200);

    const retry = await request(app).post(`/v1/datasets/${name}/records`).set('Idempotency-Key', 'k3').set('content-type', 'text/csv').send(`amount,channel,hour\n1.5,${nfd},2\n`);

    expect(retry.status).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect((await request(app).post(`/v1/datasets/${name}/records`).send({ records: [{ amount: 2.5, channel: nfd, hour: 3 }] })).body.rows).toBe(32);
    expect((await running.service.datasets.records(name)).records.slice(-2).map((r) => r.channel)).toEqual([nfc, nfc]);
  });

  it('when other records are sent under an Idempotency-Key, still answers 422 IDEMPOTENCY_KEY_REUSED and appends nothing', async () => {
    const { app } = running.service;
    const name = await payments();
    expect((await request(app).post(`/v1/datasets/${name}/records`).set('Idempotency-Key', 'k4').send({ records: [{ amount: 1.5, channel: true, hour: 2 }] })).status).toBe(200);

    const other = await request(app).post(`/v1/datasets/${name}/records`).set('Idempotency-Key', 'k4').set('content-type', 'text/csv').send('amount,channel,hour\n1.5,FALSE,2\n');

    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await running.service.datasets.info(name))?.rows).toBe(31);
  });

  it('when a CSV field of a numeric column is 0x10, returns 400 calling it not a number, with no advice about JSON numbers', async () => {
    const { app } = running.service;
    const name = await payments();

    const res = await request(app).post(`/v1/datasets/${name}/records`).set('content-type', 'text/csv').send('amount,channel,hour\n0x10,web,2\n');

    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'INVALID_RECORD', pointer: '/records/0/amount', detail: 'CSV line 2: record 0 field "amount" is "0x10", not a number, but the dataset\'s contract says numeric' });
    expect((await running.service.datasets.info(name))?.rows).toBe(30);
  });

  it('when a JSON field of a numeric column is a decimal number as text, returns 400 advising the JSON number', async () => {
    const { app } = running.service;
    const name = await payments();

    const res = await request(app).post(`/v1/datasets/${name}/records`).send({ records: [{ amount: '-1.5e2', channel: 'web', hour: 2 }] });

    expect(res.body).toMatchObject({ status: 400, code: 'INVALID_RECORD', detail: 'record 0 field "amount" is the text "-1.5e2", a number sent as text, but the dataset\'s contract says numeric: send it as a JSON number (-1.5e2, not "-1.5e2")' });
  });
});

describe('PUT /v1/datasets/:name', () => {
  it('when a CSV column of numbers holds 0x10, returns 400 without advice about JSON numbers', async () => {
    const csv = ['amount', ...Array.from({ length: 30 }, (_, i) => String(i)), '0x10'].join('\n');

    const res = await request(running.service.app).put(`/v1/datasets/hex-${randomBytes(4).toString('hex')}`).set('content-type', 'text/csv').send(csv);

    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('is "0x10", but 30 of the column\'s 31 values are numbers');
    expect(res.body.detail).not.toContain('JSON number');
  });
});
