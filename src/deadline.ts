/**
 * `promise`, or a rejection with `timedOut()` once `ms` have passed without it settling: for calls
 * to something that may hang rather than fail (a Redis that takes connections but never answers, a
 * job that will not finish). The timer is cleared either way; `promise` itself runs on.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timedOut()), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
