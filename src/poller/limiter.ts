/**
 * A counting semaphore: at most `max` tasks run at once, the others wait in FIFO order. The poll
 * worker shares one across its jobs so that a chunk of polls (a batch job) and single polls
 * together keep at most `pollConcurrency` fetches in flight, the concurrency the issue measures.
 */
export interface Limiter {
  /**
   * Runs `task` when a place is free; settles as it does. When `signal` aborts before a place
   * is free, the task never runs and the promise rejects with `signal.reason`.
   */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Places taken now (tasks running), for metrics and the poll benchmark. */
  inUse(): number;
}

/** @param max places, ≥ 1 */
export function createLimiter(max: number): Limiter {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`limiter size must be a positive integer, got ${max}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  const place = (signal?: AbortSignal): Promise<void> | undefined => {
    signal?.throwIfAborted();
    if (active < max) {
      active++;
      return undefined;
    }
    // The place is handed over by `release` without being given back in between.
    return new Promise<void>((resolve, reject) => {
      const granted = () => {
        signal?.removeEventListener('abort', aborted);
        resolve();
      };
      const aborted = () => {
        const i = waiting.indexOf(granted);
        if (i >= 0) waiting.splice(i, 1);
        reject(signal!.reason);
      };
      waiting.push(granted);
      signal?.addEventListener('abort', aborted, { once: true });
    });
  };
  return {
    inUse: () => active,
    async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      const wait = place(signal);
      if (wait) await wait;
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
