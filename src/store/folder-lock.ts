import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { storeConditionOf } from '../errors';

/** The lock's folder inside a claimed folder (a dot name: no model, dataset or leftover). */
export const SERVICE_LOCK = '.service.lock';

/** A lock not renewed this long (its process died) is taken over. */
const STALE_MS = 10_000;

/** How long a starting service waits for a lock a dead process left to go stale. */
const WAIT_MS = 12_000;

/** Listens to SIGXFSZ, doing nothing: a write past the file-size limit then fails with EFBIG (a 507), as without signal-exit. */
function keepEfbig(): void {}

/**
 * Claims `dir` for this service process, until the returned release is called (at shutdown): the
 * embedded mode's folders belong to one service, which removes what it finds half-written at start
 * and runs the folder's queued jobs, so a second service on them would delete the first one's
 * writes in progress and run its jobs twice. The command line's `train --model` takes no claim:
 * it saves beside a running service, whose registry follows it. A process that died without
 * releasing stops renewing its claim, which another process takes over after 10 s (a restart
 * waits that long at most). A folder that cannot take the claim (read-only, full) is served
 * without one, as such a store always was (degraded: its models score); `onUnclaimed` says so.
 * A claim that could not be renewed for 10 s (the disk refused writes, the lock folder was removed)
 * is lost: `onLost` says so, and it is taken again every 2.5 s until it is (`onRetaken`), or
 * until another process is found holding it (`onTaken`: a service started on the folder meanwhile;
 * this one must stop, or both would run the folder's jobs). Before, a lost claim was never taken
 * again, and a second service started on the folder beside the first.
 * @param onLost called when the claim can no longer be renewed; the service keeps running
 * @throws Error naming `setting` when another live process holds the claim
 */
export async function claimFolder(
  setting: string,
  dir: string,
  onLost: (e: Error) => void,
  onUnclaimed: (e: Error) => void,
  onRetaken: () => void = () => undefined,
  onTaken: (e: Error) => void = () => undefined,
): Promise<() => Promise<void>> {
  // Loaded only here, by the embedded service: its exit hooks (signal-exit, installed as it loads)
  // turn SIGXFSZ, which Node ignores so that a write past the file-size limit fails with EFBIG,
  // into the process's end, unless the signal has another listener.
  const { lock } = await import('proper-lockfile');
  if (!process.listeners('SIGXFSZ').includes(keepEfbig)) process.on('SIGXFSZ', keepEfbig);
  const deadline = Date.now() + WAIT_MS;
  // The claim held now (null while it is lost), the timer taking a lost one again, the attempt in
  // flight, and whether the service released it (at shutdown): nothing is taken again after that.
  let held: (() => Promise<void>) | null = null;
  let retaking: NodeJS.Timeout | null = null;
  let attempt: Promise<void> | null = null;
  let released = false;
  const stopRetaking = (): void => {
    if (retaking) clearInterval(retaking);
    retaking = null;
  };
  const options = {
    lockfilePath: join(dir, SERVICE_LOCK),
    stale: STALE_MS,
    update: STALE_MS / 4,
    onCompromised: (e: Error): void => {
      held = null;
      onLost(e);
      if (released) return;
      retaking = setInterval(() => {
        attempt ??= retake().finally(() => {
          attempt = null;
        });
      }, STALE_MS / 4);
      retaking.unref();
    },
  };
  // The lock's mtime when a retake last found it held: this process's own lost claim (a folder
  // moved away and back within 10 s) is held until it goes stale, and is then taken again; another
  // live process renews its claim, so the mtime moves.
  let heldAt: number | null = null;
  const retake = async (): Promise<void> => {
    try {
      const got = await lock(dir, options);
      // Released while this attempt was in flight: not kept past the service's end.
      if (released) return await got().catch(() => undefined);
      held = got;
      heldAt = null;
      stopRetaking();
      onRetaken();
    } catch (e: unknown) {
      // Still refused (the disk is read-only yet): tried again.
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED' || released) return;
      const mtime = await stat(options.lockfilePath).then((s) => s.mtimeMs, () => null);
      if (heldAt === null || mtime === null || mtime === heldAt) {
        heldAt = mtime;
        return;
      }
      // Renewed since the last look: held by another live process, which started on the folder
      // while this one could not renew its claim.
      stopRetaking();
      onTaken(e as Error);
    }
  };
  for (;;) {
    try {
      held = await lock(dir, options);
      return async () => {
        released = true;
        stopRetaking();
        await attempt;
        // A claim lost and not taken again has nothing to release.
        const claim = held;
        held = null;
        if (claim) await claim();
      };
    } catch (e: unknown) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOCKED' && Date.now() < deadline) {
        await sleep(1000);
        continue;
      }
      if (code === 'ELOCKED') {
        throw new Error(
          `${setting} "${dir}" is in use by another nce-ood service process: the embedded mode keeps one process per folder ` +
            '(it removes what it finds half-written at start, and runs the folder\'s queued jobs); stop the other, give this one folders of its own, ' +
            'or run several replicas in distributed mode (REDIS_URL)',
        );
      }
      if (storeConditionOf(code) === null) throw e;
      onUnclaimed(e as Error);
      return () => Promise.resolve();
    }
  }
}
