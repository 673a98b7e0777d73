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
  // Shared settle handlers: a task with a free place costs one promise (`then`), no async frame.
  const released = <T>(v: T): T => {
    release();
    return v;
  };
  const failed = (err: unknown): never => {
    release();
    throw err;
  };
  const start = <T>(task: () => Promise<T>): Promise<T> => {
    let p: Promise<T>;
    try {
      p = task();
    } catch (err) {
      release();
      return Promise.reject(err as Error);
    }
    return p.then(released, failed);
  };
  return {
    inUse: () => active,
    run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      let wait: Promise<void> | undefined;
      try {
        wait = place(signal);
      } catch (err) {
        return Promise.reject(err as Error);
      }
      return wait ? wait.then(() => start(task)) : start(task);
    },
  };
}
