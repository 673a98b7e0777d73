/**
 * Coalesces the hand-offs of a group of tasks: each task `begin`s, may `handOff` items (awaiting
 * their delivery) and `end`s; the items go out in one `send` once every task still running is
 * waiting on a hand-off, so a group's items travel together while each task still awaits its own
 * delivery before going on (a poll records its validators only once its change is handed on).
 */
export interface HandOff<T> {
  begin(): void;
  end(): void;
  handOff(item: T): Promise<void>;
}

export function createHandOff<T>(send: (items: T[]) => Promise<void>): HandOff<T> {
  let running = 0;
  let pending: { item: T; resolve(): void; reject(err: unknown): void }[] = [];
  const flush = (): void => {
    if (running > 0 || pending.length === 0) return;
    const batch = pending;
    pending = [];
    const settle = (fn: (p: (typeof batch)[number]) => void) => {
      // The tasks run again from here on (counted before any of them can hand off or end).
      running += batch.length;
      batch.forEach(fn);
    };
    // Never throws here (a synchronous throw would strand the other waiters).
    Promise.resolve(batch.map((p) => p.item))
      .then(send)
      .then(
        () => settle((p) => p.resolve()),
        (err: unknown) => settle((p) => p.reject(err)),
      );
  };
  return {
    begin: () => void running++,
    end() {
      running--;
      flush();
    },
    handOff: (item) =>
      new Promise<void>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        running--;
        flush();
      }),
  };
}
