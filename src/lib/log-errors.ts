import type { EventEmitter } from 'node:events';
import type { Logger } from './logger.js';

/**
 * Logs an emitter's `error` events (BullMQ queues re-emit their Redis connection's errors; with
 * no listener they reach `console.error` as bare stacks). During a Redis outage every reconnect
 * attempt errors, so the log says it once and then at most once per `everyMs` (ms), with how
 * many were folded in.
 */
export function logErrors(
  emitter: Pick<EventEmitter, 'on'>,
  logger: Logger,
  what: Record<string, unknown>,
  everyMs = 10_000,
): void {
  let last = -Infinity;
  let folded = 0;
  emitter.on('error', (err: unknown) => {
    const now = performance.now();
    if (now - last < everyMs) {
      folded++;
      return;
    }
    last = now;
    logger.warn({ ...what, err, repeated: folded }, 'redis connection error (retrying)');
    folded = 0;
  });
}
