import { getEventListeners } from 'node:events';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { explainedAnswer, writeAnswer } from '../../src/serving/answer-writer';
import { SCORE_PATH, scoreHandlers } from '../../src/api/score.route';
import { Scorer, ScoringCancelled, ScoringClosed, ScoringThreads, type ServedModel } from '../../src/serving';
import { THREAD_MODELS } from '../../src/serving/scoring-protocol';
import { composeEmbedded, type Service } from '../../src/compose';
import { loadSettings } from '../../src/config';
import { createMetrics } from '../../src/metrics';
import { Detector, explain, initBackend, type Manifest, modelFootprint, type ModelState, toArtifact, train } from '../../src/nce';
import { normalRecords, suffix } from '../helpers/data';
import { listen } from '../helpers/service';

// The same model served twice, from folders of its own (a folder belongs to one service): every batch on a scoring thread, and none.
let dir: string;
let threaded: Service;
let inPlace: Service;
const name = `t-${suffix()}`;

beforeAll(async () => {
  const backend = await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'nce-threads-'));
  threaded = await composeEmbedded(loadSettings({ MODELS_DIR: join(dir, 'a'), DATASETS_DIR: join(dir, 'a-data'), SCORING_THREADS: '1', SCORING_THREAD_MIN_RECORDS: '2' }), pino({ level: 'silent' }), backend);
  inPlace = await composeEmbedded(loadSettings({ MODELS_DIR: join(dir, 'b'), DATASETS_DIR: join(dir, 'b-data'), SCORING_THREADS: '0' }), pino({ level: 'silent' }), backend);
  const result = await train(normalRecords(300, 3, 7), { epochs: 3 });
  await threaded.store.save(name, toArtifact(result, { datasetFingerprint: 'test', datasetRows: 300, backend }));
  await mirror(name);
});

/** Copies `model`'s current version from the threaded service's folder to the other's, version id and all (the folder first, then the pointer). */
async function mirror(model: string): Promise<void> {
  const version = String(await threaded.store.currentVersion(model));
  await cp(join(dir, 'a', model, version), join(dir, 'b', model, version), { recursive: true });
  await cp(join(dir, 'a', model, 'CURRENT'), join(dir, 'b', model, 'CURRENT'));
}

afterAll(async () => {
  await threaded.close();
  await inPlace.close();
  await rm(dir, { recursive: true, force: true });
});

const post = (s: Service, body: object) => request(s.app).post(`/v1/models/${name}/score`).send(body);

describe('scoring threads', () => {
  it('answer a batch byte for byte as scoring in place does, and count where each request was scored', async () => {
    const batches = async (s: Service, path: string) => (await s.metrics.scoredBatches.get()).values.find((v) => v.labels.path === path)?.value ?? 0;
    const before = { thread: await batches(threaded, 'thread'), inPlace: await batches(inPlace, 'in_place') };
    const records = normalRecords(200, 3, 8, 3);
    const [a, b] = await Promise.all([post(threaded, { records }), post(inPlace, { records })]);
    expect(a.status).toBe(200);
    expect(a.body.results).toHaveLength(200);
    expect(a.text).toBe(b.text);
    expect(await batches(threaded, 'thread')).toBe(before.thread + 1);
    expect(await batches(inPlace, 'in_place')).toBe(before.inPlace + 1);
  });

  it('explain a batch on a thread whatever its size, answering byte for byte as explaining in place does', async () => {
    const batches = async (s: Service, path: string) => (await s.metrics.scoredBatches.get()).values.find((v) => v.labels.path === path)?.value ?? 0;
    for (const records of [normalRecords(1, 3, 21), normalRecords(30, 3, 22, 3)]) {
      const before = await batches(threaded, 'thread');
      const [a, b] = await Promise.all([post(threaded, { records, explain: true }), post(inPlace, { records, explain: true })]);
      expect(a.status).toBe(200);
      expect(a.body.results).toHaveLength(records.length);
      expect(Object.keys(a.body.results[0].contributions).sort()).toEqual(['f0', 'f1', 'f2']);
      expect(a.text).toBe(b.text);
      // One record is below SCORING_THREAD_MIN_RECORDS: explained, it goes to the thread all the same.
      expect(await batches(threaded, 'thread')).toBe(before + 1);
    }
  });

  it('score a batch in place when its thread fails, answering it all the same, and say so', async () => {
    // A pool whose thread has died: every task it takes is rejected.
    const dead = { score: () => Promise.reject(new Error('scoring thread exited with code 1')) } as unknown as ScoringThreads;
    const lines: string[] = [];
    const metrics = createMetrics();
    const app = express();
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const scorer = new Scorer({ threads: dead, threadMinRecords: 2, batches: metrics.scoredBatches, logger });
    app.post(SCORE_PATH, ...scoreHandlers({ models: inPlace.models, scorer, metrics, maxBatch: 1000, maxExplain: 100, maxBytes: 1 << 20, auth: [], logger }));
    const records = normalRecords(50, 3, 17);
    const [fallback, reference] = await Promise.all([request(app).post(`/v1/models/${name}/score`).send({ records }), post(inPlace, { records })]);
    expect(fallback.status).toBe(200);
    expect(fallback.text).toBe(reference.text);
    // Every path is exported from 0; only the failed thread's went up.
    expect((await metrics.scoredBatches.get()).values.map((v) => [v.labels.path, v.value])).toEqual([
      ['thread', 0],
      ['in_place', 0],
      ['thread_failed', 1],
    ]);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, model: name, err: 'scoring thread exited with code 1', msg: 'scoring thread failed; the batch is scored in place' });
    // An explained batch falls back in place too, with its contributions.
    const explained = { records: records.slice(0, 3), explain: true };
    const [fallbackExplained, referenceExplained] = await Promise.all([request(app).post(`/v1/models/${name}/score`).send(explained), post(inPlace, explained)]);
    expect(fallbackExplained.status).toBe(200);
    expect(fallbackExplained.text).toBe(referenceExplained.text);
    expect(fallbackExplained.body.results[0].contributions).toBeDefined();
    // Tried on a thread once more first: in place it holds the event loop.
    expect(lines.slice(1).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['scoring thread failed; the batch is tried once more on a thread', 'scoring thread failed; the batch is scored in place']);
  });

  it('drop an explained request whose client hung up: a request behind it on the explaining thread is answered soon', async () => {
    const wideName = `w-${suffix()}`;
    // 300 features: explaining 100 records scores 100 x (1 + 8 x 300) rows, over a second's work.
    const result = await train(normalRecords(200, 300, 41), { epochs: 1 });
    await threaded.store.save(wideName, toArtifact(result, { datasetFingerprint: 'test', datasetRows: 300, backend: tf.getBackend() }));
    const { server, base } = await listen(threaded.app);
    try {
      const explainRequest = (records: object[], signal?: AbortSignal) => fetch(`${base}/v1/models/${wideName}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records, explain: true }), ...(signal ? { signal } : {}) });
      const records = normalRecords(100, 300, 42);
      expect((await explainRequest(records.slice(0, 1))).status).toBe(200);
      let started = performance.now();
      expect((await explainRequest(records)).status).toBe(200);
      const whole = performance.now() - started;
      // The client hangs up 100 ms in; a one-record explanation is sent right after.
      const hangUp = new AbortController();
      const dropped = explainRequest(records, hangUp.signal).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 100));
      hangUp.abort();
      started = performance.now();
      expect((await explainRequest(records.slice(0, 1))).status).toBe(200);
      expect(performance.now() - started).toBeLessThan(whole / 3);
      expect(((await dropped) as Error).name).toBe('AbortError');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('still name the bad record and field before any thread work', async () => {
    const records = normalRecords(10, 3, 9).map((r, i) => (i === 6 ? { ...r, f1: 'x' } : r));
    const res = await post(threaded, { records });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(res.body)).toContain('/records/6/f1');
  });

  it('serve a new version once it is promoted', async () => {
    const records = normalRecords(20, 3, 10);
    const before = await post(threaded, { records });
    const next = await train(normalRecords(300, 3, 11, 2), { epochs: 3 });
    await threaded.store.save(name, toArtifact(next, { datasetFingerprint: 'test2', datasetRows: 300, backend: tf.getBackend() }));
    await mirror(name);
    const version = await threaded.store.currentVersion(name);
    // Each service's model cache looks for a new version on its own schedule.
    const answeredByNewVersion = async (s: Service) => {
      let res = await post(s, { records });
      for (let i = 0; i < 50 && res.body.version !== version; i++) {
        await new Promise((r) => setTimeout(r, 100));
        res = await post(s, { records });
      }
      return res;
    };
    const after = await answeredByNewVersion(threaded);
    expect(after.body.version).toBe(version);
    expect(after.body.version).not.toBe(before.body.version);
    const reference = await answeredByNewVersion(inPlace);
    expect(reference.body.version).toBe(version);
    expect(after.text).toBe(reference.text);
  });

  it('count nothing for a model deleted while a thread scored its batch: its series stay gone', async () => {
    const gone = `gone-${suffix()}`;
    await threaded.store.save(gone, toArtifact(await train(normalRecords(200, 3, 9), { epochs: 2 }), { datasetFingerprint: 'test', datasetRows: 200, backend: 'wasm' }));
    const events: string[] = [];
    // Four large batches queue on the one scoring thread: the later ones are answered well after
    // the delete, however fast this machine scores.
    const records = normalRecords(10_000, 3, 10);
    const scoring = Promise.all(
      Array.from({ length: 4 }, () =>
        request(threaded.app)
          .post(`/v1/models/${gone}/score`)
          .send({ records })
          .then((r) => {
            // A request whose body was still being read at the delete finds no model: 404.
            events.push(r.status === 200 ? 'answered' : `status ${r.status}`);
            return r;
          }),
      ),
    );
    // The model is loaded (served) before its batch goes to the thread; then it is deleted.
    while (!threaded.metrics.serves(gone)) await new Promise((r) => setTimeout(r, 1));
    expect((await request(threaded.app).delete(`/v1/models/${gone}`)).status).toBe(204);
    while (threaded.metrics.serves(gone)) await new Promise((r) => setTimeout(r, 1));
    events.push('unserved');
    for (const r of await scoring) expect([200, 404]).toContain(r.status);
    // The race this is about: answers came after the model's series were removed.
    expect(events.indexOf('unserved')).toBeLessThan(events.lastIndexOf('answered'));
    const text = await threaded.metrics.registry.metrics();
    expect(text).not.toContain(`model="${gone}"`);
  });

  it('leave no tensors behind on the main thread: batches scored in place on the backend, explained, and sent to the thread', async () => {
    const records = normalRecords(600, 3, 12);
    // Larger than the host forward pass takes: in place, the batch runs on the tfjs backend.
    expect(records.length).toBeGreaterThan((await inPlace.models.get(name)).detector.hostForwardRows);
    const round = async (): Promise<void> => {
      expect((await post(inPlace, { records })).status).toBe(200);
      expect((await post(inPlace, { records: records.slice(0, 5), explain: true })).status).toBe(200);
      expect((await post(threaded, { records })).status).toBe(200);
    };
    await round();
    const start = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await round();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('a pool of scoring threads', () => {
  let state: ModelState;
  let detector: Detector;
  let threads: ScoringThreads;

  beforeAll(async () => {
    state = (await train(normalRecords(300, 3, 13), { epochs: 2 })).state;
    detector = new Detector(state);
    threads = new ScoringThreads(1, tf.getBackend(), pino({ level: 'silent' }));
  });

  afterAll(async () => {
    await threads.close();
    detector.dispose();
  });

  const served = (name: string, s: ModelState = state): ServedModel => ({ name, version: 'v1', manifest: {} as Manifest, detector: { state: s } as Detector, holds: 0, retired: false });

  it('load a model again after evicting it, and answer as in place', async () => {
    const encoded = detector.encodeRecords(normalRecords(40, 3, 14));
    const inPlace = writeAnswer({ model: 'm0', version: 'v1' }, detector.scoreRows(encoded));
    expect((await threads.score(served('m0'), encoded)).body.equals(inPlace)).toBe(true);
    // More models than a thread keeps: m0 is evicted; the thread says so and gets its state again.
    for (let i = 1; i <= THREAD_MODELS + 1; i++) await threads.score(served(`m${i}`), encoded);
    const again = await threads.score(served('m0'), encoded);
    expect(again.body.equals(inPlace)).toBe(true);
    expect(again.flagged).toBe(detector.scoreRows(encoded).flagged);
  });

  it('keep the models within their memory (MODEL_CACHE_MEGABYTES): beyond it the least recently used goes and its state is sent again when asked for', async () => {
    const encoded = detector.encodeRecords(normalRecords(20, 3, 16));
    const inPlace = writeAnswer({ model: 'a', version: 'v1' }, detector.scoreRows(encoded));
    /** A served model that counts how often its state is sent to the thread. */
    const counted = (name: string, sends: { n: number }): ServedModel => ({
      ...served(name),
      detector: {
        get state() {
          sends.n++;
          return state;
        },
      } as Detector,
    });
    // Room for one model and a half on the thread, then room enough.
    for (const [room, sentTimes] of [
      [1.5 * modelFootprint(state), 2],
      [Infinity, 1],
    ] as const) {
      const pool = new ScoringThreads(1, tf.getBackend(), pino({ level: 'silent' }), room);
      try {
        const [a, b] = [{ n: 0 }, { n: 0 }];
        expect((await pool.score(counted('a', a), encoded)).body.equals(inPlace)).toBe(true);
        await pool.score(counted('b', b), encoded);
        expect((await pool.score(counted('a', a), encoded)).body.equals(inPlace)).toBe(true);
        expect({ room, sent: a.n }).toEqual({ room, sent: sentTimes });
      } finally {
        await pool.close();
      }
    }
  });

  it('reject a task the thread cannot score with its reason, and keep serving', async () => {
    const encoded = detector.encodeRecords(normalRecords(20, 3, 15));
    // A noise the thread cannot evaluate: scoring it throws there.
    const broken = { ...state, noise: { ...state.noise, fitted: { type: 'none' } } } as unknown as ModelState;
    await expect(threads.score(served('broken', broken), encoded)).rejects.toThrow(/logDensity/);
    const ok = await threads.score(served('fine'), encoded);
    expect(ok.body.equals(writeAnswer({ model: 'fine', version: 'v1' }, detector.scoreRows(encoded)))).toBe(true);
  });

  it('explain on a thread of their own: a plain batch sent after a long explanation is answered first', async () => {
    // 40 features: explaining 100 records scores 100 x (1 + 8 x 40) rows, about a second's work.
    const wide = (await train(normalRecords(300, 40, 21), { epochs: 1 })).state;
    const wideDetector = new Detector(wide);
    const pool = new ScoringThreads(1, tf.getBackend(), pino({ level: 'silent' }));
    try {
      const records = normalRecords(100, 40, 22);
      const encoded = wideDetector.encodeRecords(records);
      // Both threads have the model loaded before the race.
      await pool.score(served('wide', wide), encoded);
      await pool.score(served('wide', wide), wideDetector.encodeRecords(records.slice(0, 1)), records.slice(0, 1));
      const finished: string[] = [];
      const explained = pool.score(served('wide', wide), encoded, records).then(() => finished.push('explained'));
      const plain = pool.score(served('wide', wide), encoded).then(() => finished.push('plain'));
      await Promise.all([explained, plain]);
      expect(finished).toEqual(['plain', 'explained']);
    } finally {
      await pool.close();
      wideDetector.dispose();
    }
  });

  it('explain requests taking turns a record at a time: a small explanation sent behind a long one of a wide model is answered first, and both as in place', async () => {
    // 60 features: each record's explanation scores 1 + 8 x 60 rows; 150 of them take seconds.
    const wide = (await train(normalRecords(300, 60, 41), { epochs: 1 })).state;
    const wideDetector = new Detector(wide);
    const pool = new ScoringThreads(1, tf.getBackend(), pino({ level: 'silent' }));
    try {
      const records = normalRecords(150, 60, 42);
      const encoded = wideDetector.encodeRecords(records);
      const small = normalRecords(1, 3, 43);
      const smallEncoded = detector.encodeRecords(small);
      // Both models loaded on the explaining thread before the race.
      await pool.score(served('wide', wide), wideDetector.encodeRecords(records.slice(0, 1)), records.slice(0, 1));
      await pool.score(served('small'), smallEncoded, small);
      const newer = (await train(normalRecords(300, 60, 44), { epochs: 1 })).state;
      const newerDetector = new Detector(newer);
      const finished: string[] = [];
      const started = performance.now();
      let smallMs = 0;
      const long = pool.score(served('wide', wide), encoded, records).then((r) => (finished.push('long'), r));
      // A new version of the wide model arrives while its old one explains (below): the old one serves on.
      const short = pool.score(served('small'), smallEncoded, small).then((r) => {
        smallMs = performance.now() - started;
        finished.push('short');
        return r;
      });
      const swapped = pool.score({ ...served('wide', newer), version: 'v2' }, newerDetector.encodeRecords(records.slice(0, 5)), records.slice(0, 5));
      const [longAnswer, shortAnswer, swappedAnswer] = await Promise.all([long, short, swapped]);
      const longMs = performance.now() - started;
      expect(finished).toEqual(['short', 'long']);
      expect(smallMs).toBeLessThan(longMs / 4);
      const inPlace = (d: Detector, name: string, version: string, r: typeof records): string =>
        JSON.stringify(JSON.parse(explainedAnswer({ model: name, version }, d.scoreRows(d.encodeRecords(r)), explain(d, r)).toString()));
      expect(JSON.stringify(JSON.parse(longAnswer.body.toString()))).toBe(inPlace(wideDetector, 'wide', 'v1', records));
      expect(JSON.stringify(JSON.parse(shortAnswer.body.toString()))).toBe(inPlace(detector, 'small', 'v1', small));
      expect(JSON.stringify(JSON.parse(swappedAnswer.body.toString()))).toBe(inPlace(newerDetector, 'wide', 'v2', records.slice(0, 5)));
      newerDetector.dispose();
    } finally {
      await pool.close();
      wideDetector.dispose();
    }
  });

  it('reject the tasks still pending when closed, and every task after: no thread is started again', async () => {
    const pool = new ScoringThreads(1, tf.getBackend(), pino({ level: 'silent' }));
    const encoded = detector.encodeRecords(normalRecords(20, 3, 16));
    const rejected = expect(pool.score(served('late'), encoded)).rejects.toBeInstanceOf(ScoringClosed);
    await pool.close();
    await rejected;
    await expect(pool.score(served('later'), encoded, normalRecords(20, 3, 16))).rejects.toBeInstanceOf(ScoringClosed);
    // The scorer neither tries another thread nor explains in place then: the process is stopping.
    const scorer = new Scorer({ threads: pool, threadMinRecords: 1, batches: createMetrics().scoredBatches, logger: pino({ level: 'silent' }) });
    await expect(scorer.score({ ...served('later'), detector }, normalRecords(20, 3, 16), { explain: true })).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('drop an explanation whose client left at its next record: the explanation queued behind it is answered in a fraction of the time', async () => {
    // 60 features: each record's explanation scores 1 + 8 x 60 rows; 200 of them take seconds.
    const wide = (await train(normalRecords(300, 60, 31), { epochs: 1 })).state;
    const wideDetector = new Detector(wide);
    const pool = new ScoringThreads(1, tf.getBackend(), pino({ level: 'silent' }));
    try {
      const records = normalRecords(200, 60, 32);
      const encoded = wideDetector.encodeRecords(records);
      const one = wideDetector.encodeRecords(records.slice(0, 1));
      // The whole batch, timed alone (the model loaded first).
      await pool.score(served('wide', wide), one, records.slice(0, 1));
      let started = performance.now();
      await pool.score(served('wide', wide), encoded, records);
      const whole = performance.now() - started;
      // Again, its client leaving at once; a one-record explanation waits behind it.
      const left = new AbortController();
      const dropped = pool.score(served('wide', wide), encoded, records, left.signal);
      started = performance.now();
      const next = pool.score(served('wide', wide), one, records.slice(0, 1));
      left.abort();
      await expect(dropped).rejects.toBeInstanceOf(ScoringCancelled);
      await next;
      expect(performance.now() - started).toBeLessThan(whole / 4);
      // Aborted before it was sent: rejected without reaching the thread.
      await expect(pool.score(served('wide', wide), one, records.slice(0, 1), left.signal)).rejects.toBeInstanceOf(ScoringCancelled);
      // Tasks that settle let go of a signal that outlives them.
      const lasting = new AbortController();
      for (let i = 0; i < 5; i++) await pool.score(served('wide', wide), one, records.slice(0, 1), lasting.signal);
      expect(getEventListeners(lasting.signal, 'abort')).toHaveLength(0);
    } finally {
      await pool.close();
      wideDetector.dispose();
    }
  });
});
