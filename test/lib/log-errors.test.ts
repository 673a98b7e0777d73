/**
 * The process's Redis error log (src/lib/log-errors.ts): an outage is logged once per distinct
 * error, repeats are counted, a long outage gets a reminder, its end is one info line; an error
 * that is not about the connection is logged as it comes.
 */
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRedisErrorLog, isConnectionError } from '../../src/lib/log-errors.js';
import { createLogger } from '../../src/lib/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
const tick = () => new Promise((r) => setImmediate(r));

describe('createRedisErrorLog', () => {
  it('one line per distinct outage error, a reminder, then one recovery line with the count', async () => {
    const { lines, logger } = capture();
    let t = 0;
    const log = createRedisErrorLog(logger, { remindEveryMs: 60_000, graceMs: 5_000, now: () => t });
    const queue = new EventEmitter();
    const worker = new EventEmitter();
    const connection = new EventEmitter();
    log.watch(queue, { queue: 'poll' });
    log.watch(worker, { worker: 'poll' });
    log.watchRecovery(connection);
    for (let i = 0; i < 50; i++) {
      t += 100;
      queue.emit('error', refused());
      worker.emit('error', refused());
    }
    worker.emit('error', new Error('Connection is closed.'));
    expect(log.down).toBe(true);
    t += 60_000;
    queue.emit('error', refused());
    connection.emit('ready');
    t += 1_000;
    worker.emit('error', refused()); // a straggler reconnecting a moment later
    await tick();
    expect(lines.map((l) => [l.level, l.event])).toEqual([
      [50, 'redis:down'],
      [50, 'redis:down'],
      [40, 'redis:still-down'],
      [30, 'redis:recovered'],
    ]);
    expect(lines[0]).toMatchObject({ queue: 'poll', err: { message: 'connect ECONNREFUSED 127.0.0.1:6379' } });
    expect(lines[3]).toMatchObject({ errors: 102, downMs: 65_000 - 100 });
    expect(log.down).toBe(false);
  });

  it('an error that is not about the connection is logged each time, and is no outage', async () => {
    const { lines, logger } = capture();
    const log = createRedisErrorLog(logger);
    log.report(new Error('a bug'), { queue: 'rollout' }, 'worker error');
    log.report(new Error('a bug'), { queue: 'rollout' }, 'worker error');
    await tick();
    expect(lines.map((l) => l.msg)).toEqual(['worker error', 'worker error']);
    expect(log.down).toBe(false);
    expect(isConnectionError(new Error('a bug'))).toBe(false);
    expect(isConnectionError(refused())).toBe(true);
  });
});
