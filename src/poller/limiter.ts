/**
 * A counting semaphore: at most `max` tasks run at once, the others wait in FIFO order. The poll
 * worker shares one across its jobs so that a chunk of polls (a batch job) and single polls
 * together keep at most `pollConcurrency` fetches in flight, the concurrency the issue measures.
 */
export interface Limiter {
  /** Runs `task` when a place is free; settles as it does. */
  run<T>(task: () => Promise<T>): Promise<T>;
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
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active < max) active++;
      // The place is handed over by `release` without being given back in between.
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}
