import type { EventEmitter } from 'node:events';
import type { Logger } from './logger.js';

/** Error codes and messages of a Redis connection that is down or dropping (ioredis, BullMQ). */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const CONNECTION_MESSAGE =
  /ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|UNREACH|Connection is closed|Stream isn't writeable/i;

/** Whether `err` says the Redis connection is down (as opposed to a bug or a refused command). */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined && CONNECTION_CODES.has(code)) || CONNECTION_MESSAGE.test(err.message);
}

/**
 * One process's log of Redis connection errors. During an outage every connection (the main
 * one, the stores' pipelined one, each queue's, each worker's two) errors on every reconnect
 * attempt, several times a second in all; logged as they came, that was about 25 lines a second,
 * each error twice or more. Here an outage is logged once per distinct error message (at
 * `error`, naming the first source that saw it), the repeats are counted, and its end is one
 * `info` line with how long it lasted and how many errors were folded. A reminder (`warn`) every
 * `remindEveryMs` keeps a long outage visible. Connections reconnect one by one, so errors in the
 * `graceMs` after the recovery are stragglers of the same outage and are not logged.
 */
export interface RedisErrorLog {
  /** Feeds `emitter`'s `error` events in; `what` names the source in the log (`{ queue: 'poll' }`). */
  watch(emitter: Pick<EventEmitter, 'on'>, what: Record<string, unknown>): void;
  /**
   * Reports one error from `what`: a connection error is folded into the outage; anything else
   * is logged at once as `msg` (a worker's own error is not an outage).
   */
  report(err: unknown, what: Record<string, unknown>, msg?: string): void;
  /** Ends an outage when `connection` is ready again (ioredis `ready`, after a reconnect). */
  watchRecovery(connection: Pick<EventEmitter, 'on'>): void;
  /** Whether an outage is in progress (errors seen since the last recovery). */
  readonly down: boolean;
}

/** Builds the log. `now` (ms) measures the outage; performance.now by default (durations only). */
export function createRedisErrorLog(
  logger: Logger,
  opts: { remindEveryMs?: number; graceMs?: number; now?: () => number } = {},
): RedisErrorLog {
  const remindEveryMs = opts.remindEveryMs ?? 60_000;
  const graceMs = opts.graceMs ?? 5_000;
  let recoveredAt = -Infinity;
  const now = opts.now ?? (() => performance.now());
  let outage: { since: number; seen: Set<string>; errors: number; remindedAt: number } | null = null;
  const log: RedisErrorLog = {
    watch(emitter, what) {
      emitter.on('error', (err: unknown) => log.report(err, what));
    },
    report(err, what, msg = 'error') {
      if (!isConnectionError(err)) {
        logger.error({ ...what, err }, msg);
        return;
      }
      const t = now();
      const message = (err as Error).message;
      if (!outage && t - recoveredAt < graceMs) return;
      if (!outage) outage = { since: t, seen: new Set(), errors: 0, remindedAt: t };
      outage.errors++;
      if (!outage.seen.has(message)) {
        outage.seen.add(message);
        logger.error(
          { ...what, event: 'redis:down', err },
          'redis unavailable: retrying (repeats folded until it recovers)',
        );
      } else if (t - outage.remindedAt >= remindEveryMs) {
        outage.remindedAt = t;
        logger.warn(
          { event: 'redis:still-down', downMs: Math.round(t - outage.since), errors: outage.errors },
          'redis still unavailable: retrying',
        );
      }
    },
    watchRecovery(connection) {
      connection.on('ready', () => {
        if (!outage) return;
        const { since, errors } = outage;
        outage = null;
        recoveredAt = now();
        logger.info(
          { event: 'redis:recovered', downMs: Math.round(now() - since), errors },
          `redis available again after ${errors} connection error(s)`,
        );
      });
    },
    get down() {
      return outage !== null;
    },
  };
  return log;
}
