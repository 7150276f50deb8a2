import { Child } from 'bullmq';

/** The part of BullMQ's Child this guard wraps. */
interface ChildStart {
  initChild(this: Child): Promise<void>;
}

let guarded = false;

/**
 * Makes the start of a sandboxed training process fail when the process exits before it is ready.
 * BullMQ's Child (5.81) drops all its listeners on the process's 'exit', the 'close' listener its
 * start waits on among them, so a process killed while it loaded (an OOM kill, a kill -9) left the
 * start waiting for ever: its job read `running` with its lock renewed, a cancel went unheard, and
 * the worker never trained again on that slot (an outside probe). Now the start fails, the pool
 * forks a fresh process for the next job, and the job's run fails as any lost run does: it runs
 * again while attempts are left.
 */
export function failChildStartOnExit(): void {
  if (guarded) return;
  guarded = true;
  const proto = Child.prototype as unknown as Partial<ChildStart>;
  const initChild = proto.initChild;
  // A BullMQ that has no such method any more starts its processes its own way: left alone.
  if (typeof initChild !== 'function') return;
  proto.initChild = function (this: Child): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const exited = (code: number | null, signal: string | null): void => {
        // BullMQ's words for a process that died under a run, which the job's failure is read by (WORKER_LOST).
        reject(new Error(`Unexpected exit code: ${code} signal: ${signal} (the training process exited while it started)`));
      };
      this.once('exit', exited);
      initChild.call(this).then(resolve, reject).finally(() => this.off('exit', exited));
    });
  };
}
