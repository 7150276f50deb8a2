import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import type { Detector, Encoded, Manifest, ScoredRows } from '../../../src/nce';
import { Scorer, type ScoringThreads, type ServedModel } from '../../../src/serving';

/** Rows of `n` records, none flagged. */
const rowsOf = (n: number): ScoredRows => ({ score: new Float64Array(n), logRatio: new Float64Array(n), logDensity: new Float64Array(n), percentile: new Float64Array(n), ood: new Uint8Array(n), flagged: 0 });

/** A served model whose detector counts what it is asked to do. */
function served(): ServedModel & { disposed: () => number } {
  let disposed = 0;
  const detector = {
    encodeRecords: (records: readonly unknown[]): Encoded => ({ n: records.length, numeric: new Float64Array(0), codes: new Int32Array(0) }),
    scoreRows: (e: Encoded) => rowsOf(e.n),
    dispose: () => disposed++,
  } as unknown as Detector;
  return { name: 'm', version: 'v1', manifest: {} as Manifest, detector, holds: 0, retired: false, disposed: () => disposed };
}

/** Scoring threads whose one task settles when the test says. */
function threadsThatWait(): { threads: ScoringThreads; fail: (e: Error) => void } {
  let fail: (e: Error) => void = () => undefined;
  const threads = { score: () => new Promise((_resolve, reject) => (fail = reject)) } as unknown as ScoringThreads;
  return { threads, fail: (e) => fail(e) };
}

const counter = (): Counter<'path'> => new Counter({ name: 'batches', help: 'x', labelNames: ['path'], registers: [new Registry()] });
const records = (n: number) => Array.from({ length: n }, () => ({ a: 1 }));

describe('Scorer', () => {
  it('scores a small batch in place, synchronously, and counts it there', async () => {
    const batches = counter();
    const scorer = new Scorer({ threads: threadsThatWait().threads, threadMinRecords: 10, batches, logger: pino({ level: 'silent' }) });
    const scored = scorer.score(served(), records(3));
    expect(scored).not.toBeInstanceOf(Promise);
    expect((await batches.get()).values.map((v) => [v.labels.path, v.value])).toEqual([['in_place', 1]]);
  });

  it('holds the model while a thread scores it, so a swap meanwhile disposes its detector only after the fallback scored with it', async () => {
    const { threads, fail } = threadsThatWait();
    const batches = counter();
    const scorer = new Scorer({ threads, threadMinRecords: 10, batches, logger: pino({ level: 'silent' }) });
    const model = served();
    const pending = scorer.score(model, records(20));
    expect(pending).toBeInstanceOf(Promise);
    expect(model.holds).toBe(1);
    // A hot swap retires the model while its batch is on the thread.
    model.retired = true;
    fail(new Error('scoring thread exited with code 1'));
    const scored = await pending;
    expect(scored.score).toHaveLength(20);
    // Let go once the fallback has scored: the retired detector goes then, once.
    expect(model.holds).toBe(0);
    expect(model.disposed()).toBe(1);
    expect((await batches.get()).values.map((v) => [v.labels.path, v.value])).toEqual([['thread_failed', 1]]);
  });
});
