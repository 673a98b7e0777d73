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

/** A task waiting for a place, with what settles its caller's promise. */
class Waiter {
  /** Set when the caller gave a signal: removes the waiter and rejects with the signal's reason. */
  onAbort: (() => void) | undefined;
  constructor(
    readonly task: () => Promise<unknown>,
    readonly resolve: (v: unknown) => void,
    readonly reject: (err: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {}
}

/**
 * The FIFO limiter. A task with a free place costs one promise (`then` with the shared settle
 * handlers); a waiting task one promise and a `Waiter`, and no closures unless it has a signal
 * (tsx, the launcher, names every closure it creates: a property write each; most of a poll
 * cycle's polls wait here, docs/performance.md).
 */
class FifoLimiter implements Limiter {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly max: number) {}

  inUse(): number {
    return this.active;
  }

  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.active < this.max) {
      this.active++;
      return this.start(task);
    }
    return new Promise<T>((resolve, reject) => {
      const w = new Waiter(task, resolve as (v: unknown) => void, reject, signal);
      this.waiting.push(w);
      if (signal) {
        w.onAbort = () => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
    });
  }

  private start<T>(task: () => Promise<T>): Promise<T> {
    let p: Promise<T>;
    try {
      p = task();
    } catch (err) {
      this.release();
      return Promise.reject(err as Error);
    }
    return p.then(this.released, this.failed);
  }

  /** Hands the place to the next waiter (never given back in between), or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next === undefined) {
      this.active--;
      return;
    }
    if (next.onAbort) next.signal!.removeEventListener('abort', next.onAbort);
    // The caller's promise follows the task's.
    next.resolve(this.start(next.task));
  }

  private readonly released = <T>(v: T): T => {
    this.release();
    return v;
  };

  private readonly failed = (err: unknown): never => {
    this.release();
    throw err;
  };
}

/** @param max places, ≥ 1 */
export function createLimiter(max: number): Limiter {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`limiter size must be a positive integer, got ${max}`);
  return new FifoLimiter(max);
}
