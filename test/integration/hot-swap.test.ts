import type { Server } from 'node:http';
import { toArtifact, train } from '../../src/nce';
import { normalRecords } from '../helpers/data';
import { swapUnderLoad } from '../helpers/hot-swap';
import { type EmbeddedService, listen, startEmbedded } from '../helpers/service';

/**
 * Hot swap under load, embedded mode with a scoring thread: two versions promoted back and forth
 * every 40 ms for 20 s while 8 clients score batches of 1, 16, 64 and 300 records (all but the
 * single records go to the thread). Every answer is a 200 naming one of the two versions. The
 * distributed form is in test/e2e/distributed.test.ts.
 */
const SWAP_MS = 20_000;
let running: EmbeddedService;
let server: Server;
let base: string;

beforeAll(async () => {
  running = await startEmbedded({ SCORING_THREADS: '1', SCORING_THREAD_MIN_RECORDS: '16' });
  ({ server, base } = await listen(running.service.app));
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
  await running.close();
});

describe('hot swap under load', () => {
  it('promotes two versions back and forth every 40 ms while 8 clients score batches of 1-300 records: only 200s, each naming one of the two', async () => {
    const { store } = running.service;
    const trained = async (seed: number) => toArtifact(await train(normalRecords(300, 3, seed), { epochs: 2, seed }), { datasetFingerprint: String(seed), datasetRows: 300, backend: running.backend });
    const v1 = await store.save('m', await trained(1));
    const v2 = await store.save('m', await trained(2));
    const { answers, wrong, promotes } = await swapUnderLoad([base], base, v1, v2, SWAP_MS);
    expect(wrong.slice(0, 5)).toEqual([]);
    // Both versions answered, often, through as many swaps as 40 ms allow.
    expect(answers.get(`200 ${v1}`)).toBeGreaterThan(50);
    expect(answers.get(`200 ${v2}`)).toBeGreaterThan(50);
    expect(promotes).toBeGreaterThan(100);
    // The thread path was taken, and never failed over to scoring in place.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(Number(/nce_ood_scored_batches_total\{path="thread"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(50);
    expect(metrics).not.toMatch(/nce_ood_scored_batches_total\{path="thread_failed"\} [1-9]/);
  }, 60_000);
});
