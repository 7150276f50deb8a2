import pino from 'pino';
import { DriftRetrainer, MAX_BACKOFF_DOUBLINGS, MIN_BACKOFF_MS, type ModelDrift } from '../../../src/queue/drift-retrainer';
import type { JobInfo, JobQueue } from '../../../src/queue';

const AFTER = 60_000;

/**
 * A retrainer of model m on drift that stays at `drift` (changeable), against a queue whose jobs
 * end at once unless `pending`, and whose clock runs `queueClockAheadMs` ahead of this host's.
 */
function setUp(afterMs = AFTER, queueClockAheadMs = 0) {
  const state: { drift: ModelDrift | null; pending: boolean; running: string | null; enqueued: number; counted: number; others: JobInfo[]; enqueuedPayloads: unknown[] } = { drift: { psi: 1, version: 'v1' }, pending: false, running: null, enqueued: 0, counted: 0, others: [], enqueuedPayloads: [] };
  const queue = {
    // The clock jobs are timed on (Redis's in distributed mode), which this host's may be off.
    now: async () => new Date(Date.now() + queueClockAheadMs),
    // The jobs other replicas enqueued, as the shared queue lists them.
    list: async () => state.others,
    enqueue: async (payload: unknown) => {
      state.enqueuedPayloads.push(payload);
      // A retrain still running is handed back as it is, as the queue's dedupe does.
      if (state.running) return { id: state.running, created: false } as JobInfo & { created: boolean };
      state.enqueued++;
      return { id: `job-${state.enqueued}`, created: !state.pending } as JobInfo & { created: boolean };
    },
  } as unknown as JobQueue;
  const retrainer = new DriftRetrainer({
    policies: [{ model: 'm', dataset: 'd' }],
    psi: 0.25,
    afterMs,
    drift: () => state.drift,
    configOf: async () => ({}),
    queue,
    logger: pino({ level: 'silent' }),
    onTrigger: () => state.counted++,
  });
  return { state, retrainer };
}

/** The times at which checks every second from `from` to `to` trigger a retrain. */
async function triggers(retrainer: DriftRetrainer, from: number, to: number): Promise<number[]> {
  const at: number[] = [];
  for (let t = from; t <= to; t += 1000) if ((await retrainer.check(t)).length > 0) at.push(t);
  return at;
}

describe('DriftRetrainer', () => {
  it('with DRIFT_RETRAIN_AFTER_SECONDS 0 retrains at once, then backs off from a minute, not from 0 (a retrain a minute, then 2, 4 ...)', async () => {
    const { retrainer } = setUp(0);
    const at = await triggers(retrainer, 0, 8 * MIN_BACKOFF_MS);
    // The first at once; each further one after drift stayed high for 2, 4 ... minutes from the
    // check after the last (checks are 1 s apart).
    expect(at).toEqual([0, 1000 + 2 * MIN_BACKOFF_MS, 2000 + 6 * MIN_BACKOFF_MS]);
  });

  it('retrains a version whose drift stays high after afterMs, then waits twice as long each time the same version stays served', async () => {
    const { state, retrainer } = setUp();
    const at = await triggers(retrainer, 0, 16 * AFTER);
    // afterMs, then 2, 4 and 8 afterMs of drift from the check after each trigger (checks are 1 s apart).
    expect(at).toEqual([AFTER, 3 * AFTER + 1000, 7 * AFTER + 2000, 15 * AFTER + 3000]);
    expect(state.counted).toBe(4);
    // The wait stops doubling at 2^MAX_BACKOFF_DOUBLINGS afterMs.
    let t = 20 * AFTER;
    for (let i = 0; i < 2 * MAX_BACKOFF_DOUBLINGS; i++) {
      await retrainer.check(t);
      t += retrainer.waitMs('m', 'v1');
      expect(await retrainer.check(t)).toEqual(['m']);
      t += 1000;
    }
    expect(retrainer.waitMs('m', 'v1')).toBe(AFTER * 2 ** MAX_BACKOFF_DOUBLINGS);
  });

  it('starts over when a new version is served; after drift falls and rises again the wait runs from the rise', async () => {
    const { state, retrainer } = setUp();
    expect(await triggers(retrainer, 0, 4 * AFTER)).toEqual([AFTER, 3 * AFTER + 1000]);
    // The retrain made a new version, whose window starts empty (no PSI), then drifts too: it is
    // judged after afterMs again.
    state.drift = null;
    expect(await triggers(retrainer, 4 * AFTER, 4 * AFTER)).toEqual([]);
    state.drift = { psi: 1, version: 'v2' };
    expect(await triggers(retrainer, 4 * AFTER + 1000, 5 * AFTER + 1000)).toEqual([5 * AFTER + 1000]);
    // Drift falls, then rises again: the (doubled) wait runs from the rise.
    state.drift = { psi: 0.05, version: 'v2' };
    expect(await triggers(retrainer, 5 * AFTER + 2000, 6 * AFTER)).toEqual([]);
    state.drift = { psi: 1, version: 'v2' };
    expect(await triggers(retrainer, 6 * AFTER + 1000, 9 * AFTER + 1000)).toEqual([8 * AFTER + 1000]);
  });

  it('backs off as well when the retrain is still pending from another replica, without counting it', async () => {
    const { state, retrainer } = setUp();
    state.pending = true;
    expect(await triggers(retrainer, 0, 4 * AFTER)).toEqual([]);
    // Asked at afterMs and 3 afterMs: the queue handed back the pending job both times.
    expect(state.enqueued).toBe(2);
    expect(state.counted).toBe(0);
    expect(retrainer.waitMs('m', 'v1')).toBe(4 * AFTER);
  });

  it('counts a retrain once while it runs: a long training found pending at every later check does not lengthen the wait', async () => {
    const { state, retrainer } = setUp();
    expect(await triggers(retrainer, 0, AFTER)).toEqual([AFTER]);
    state.running = 'job-1';
    expect(await triggers(retrainer, AFTER + 1000, 20 * AFTER)).toEqual([]);
    expect(retrainer.waitMs('m', 'v1')).toBe(2 * AFTER);
    // It ended leaving the same version: the next retrain comes after the doubled wait, and counts.
    state.running = null;
    const next = await triggers(retrainer, 20 * AFTER + 1000, 23 * AFTER);
    expect(next).toHaveLength(1);
    expect(retrainer.waitMs('m', 'v1')).toBe(4 * AFTER);
  });

  it('times a new version from when its drift is first seen high, not from the rise on the version whose retrain made it', async () => {
    const { state, retrainer } = setUp();
    expect(await triggers(retrainer, 0, AFTER)).toEqual([AFTER]);
    // The retrain trains for half an afterMs while v1 stays served and drifted.
    state.running = 'job-1';
    expect(await triggers(retrainer, AFTER + 1000, 1.5 * AFTER)).toEqual([]);
    state.running = null;
    // v2 is served at 1.5 afterMs and drifts at once: it gets its full afterMs (the wait once ran
    // from v1's last rise, and v2 was retrained seconds after it was served).
    state.drift = { psi: 1, version: 'v2' };
    expect(await triggers(retrainer, 1.5 * AFTER + 1000, 3 * AFTER)).toEqual([2.5 * AFTER + 1000]);
  });

  it("takes another replica's drift retrain enqueued within the wait as this trigger's, even once it has finished: not enqueued or counted again, and the wait doubles", async () => {
    const { state, retrainer } = setUp();
    // The other replica's retrain changed nothing and ended at once (the queue's dedupe ended with it).
    state.others = [{ id: 'other-1', state: 'completed', payload: { kind: 'train', model: 'm', dataset: 'd', config: {}, trigger: 'drift' }, progress: [], createdAt: new Date(AFTER - 500).toISOString() }];
    expect(await triggers(retrainer, 0, AFTER)).toEqual([]);
    expect(state.enqueued).toBe(0);
    expect(state.counted).toBe(0);
    expect(retrainer.waitMs('m', 'v1')).toBe(2 * AFTER);
    // One enqueued before the wait began, or a scheduled run, is not this trigger's.
    state.others = [
      { ...state.others[0]!, createdAt: new Date(AFTER + 1000 - 2 * AFTER - 1).toISOString() },
      { ...state.others[0]!, id: 'schedule-1', payload: { kind: 'train', model: 'm', dataset: 'd', config: {}, trigger: 'schedule' }, createdAt: new Date(3 * AFTER).toISOString() },
    ];
    expect(await triggers(retrainer, AFTER + 1000, 3 * AFTER + 1000)).toEqual([3 * AFTER + 1000]);
    expect(state.counted).toBe(1);
  });

  it.each([
    ['behind', -10 * AFTER],
    ['ahead of', 10 * AFTER],
  ])("reads another replica's retrain times on the queue's clock, %s this host's by minutes", async (_, ahead) => {
    // Enqueued half a wait ago on the queue's clock: this trigger's, not enqueued or counted again.
    let { state, retrainer } = setUp(AFTER, ahead);
    const other: JobInfo = { id: 'other-1', state: 'completed', payload: { kind: 'train', model: 'm', dataset: 'd', config: {}, trigger: 'drift' }, progress: [], createdAt: new Date(AFTER + ahead - AFTER / 2).toISOString() };
    state.others = [other];
    expect(await triggers(retrainer, 0, AFTER)).toEqual([]);
    expect(state.enqueued).toBe(0);
    expect(retrainer.waitMs('m', 'v1')).toBe(2 * AFTER);
    // Enqueued two waits ago on the queue's clock: an earlier retrain, so this one is enqueued.
    ({ state, retrainer } = setUp(AFTER, ahead));
    state.others = [{ ...other, createdAt: new Date(AFTER + ahead - 2 * AFTER).toISOString() }];
    expect(await triggers(retrainer, 0, AFTER)).toEqual([AFTER]);
    expect(state.counted).toBe(1);
  });

  it("with a wait of 0, or drift seen high on this replica seconds after another's retrain, still takes that retrain as this trigger's (a minute back at least)", async () => {
    const { state, retrainer } = setUp(0);
    state.others = [{ id: 'other-1', state: 'completed', payload: { kind: 'train', model: 'm', dataset: 'd', config: {}, trigger: 'drift' }, progress: [], createdAt: new Date(100_000 - 9_700).toISOString() }];
    expect(await retrainer.check(100_000)).toEqual([]);
    expect(state.enqueued).toBe(0);
    expect(retrainer.waitMs('m', 'v1')).toBe(2 * MIN_BACKOFF_MS);
  });

  it('after a restart, reads back the served version\'s drift retrains that left it served: the backoff goes on, not over', async () => {
    const day = 24 * 3600_000;
    const drift = (id: string, servedVersion: string, result: JobInfo['result'] | null): JobInfo => ({
      id,
      state: result === null ? 'failed' : 'completed',
      payload: { kind: 'train', model: 'm', dataset: 'd', config: {}, trigger: 'drift', servedVersion },
      progress: [],
      createdAt: new Date(-day).toISOString(),
      ...(result === null ? {} : { result }),
    });
    const { state, retrainer } = setUp();
    state.others = [
      // Two of v1 that left it served: one changed nothing, one failed.
      drift('r4', 'v1', { model: 'm', version: 'v1', promoted: true, unchanged: true }),
      drift('r3', 'v1', null),
      // One of v1 that made v2 current (v1 served again since: rolled back), and one of v0.
      drift('r2', 'v1', { model: 'm', version: 'v2', promoted: true }),
      drift('r1', 'v0', { model: 'm', version: 'v1', promoted: true }),
    ];
    // Drift high from 0: the third retrain of v1 waits 4 afterMs, as without the restart.
    expect(await triggers(retrainer, 0, 5 * AFTER)).toEqual([4 * AFTER]);
    expect(retrainer.waitMs('m', 'v1')).toBe(8 * AFTER);
    // Its job names the version it retrains, for the next restart.
    expect(state.enqueuedPayloads.at(-1)).toMatchObject({ trigger: 'drift', servedVersion: 'v1' });
    // With no such history, the first retrain comes after afterMs.
    const fresh = setUp();
    fresh.state.others = state.others.filter((j) => j.payload.servedVersion !== 'v1');
    expect(await triggers(fresh.retrainer, 0, 2 * AFTER)).toEqual([AFTER]);
  });

  it('never retrains without a window or with drift below the line', async () => {
    const { state, retrainer } = setUp();
    state.drift = null;
    expect(await triggers(retrainer, 0, 3 * AFTER)).toEqual([]);
    state.drift = { psi: null, version: 'v1' };
    expect(await triggers(retrainer, 3 * AFTER, 6 * AFTER)).toEqual([]);
    state.drift = { psi: 0.2, version: 'v1' };
    expect(await triggers(retrainer, 6 * AFTER, 9 * AFTER)).toEqual([]);
    expect(state.enqueued).toBe(0);
  });
});
