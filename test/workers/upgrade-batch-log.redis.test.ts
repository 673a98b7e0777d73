/**
 * An operator can follow a rollout in the logs: every applied upgrade batch is one info line
 * naming the app, the version, how many installations it moved, to what and why.
 */
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyUpgradeBatch } from '../../src/app/rollout/upgrade-batch.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { DAY } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/logger.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';

describe('upgrade batch log', () => {
  let rw: RolloutHarness;
  const lines: Record<string, unknown>[] = [];
  beforeEach(async () => {
    rw = await createRolloutHarness({ workers: false });
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    rw.ctx.logger = createLogger({ level: 'info', destination });
  });
  afterEach(() => rw.close());

  it('each applied batch: app, version, moved, targets, cause, at info', async () => {
    const base = { appId: 'logged', kind: 'connect' as const, approval: 'automatic' as const };
    rw.versions.add({ ...base, version: '1.0.0', bump: 'initial', detectedAt: T0 - 2 * DAY });
    await generatePopulation(rw.ctx, { appId: 'logged', count: 3, seed: 1, version: '1.0.0' });
    rw.versions.add({ ...base, version: '1.0.1', bump: 'micro', detectedAt: T0 - DAY });
    const ids = (await rw.ctx.installs.list('logged', 0, 10)).map((i) => i.id);
    const data = { v: 1 as const, appId: 'logged', version: '1.0.1', dueAt: T0, source: { kind: 'ids' as const, ids } };
    await applyUpgradeBatch(rw.ctx, data);
    await applyUpgradeBatch(rw.ctx, data); // again: nothing left to move, still one line
    await new Promise((r) => setImmediate(r));
    const batches = lines.filter((l) => l.event === 'rollout:batch:applied');
    expect(batches).toEqual([
      expect.objectContaining({
        level: 30,
        appId: 'logged',
        version: '1.0.1',
        considered: 3,
        moved: 3,
        targets: ['1.0.1'],
        cause: 'automatic',
        msg: expect.stringMatching(
          /^upgrade batch of logged@1\.0\.1: 3 of 3 installation\(s\) moved to 1\.0\.1 \(automatic\)/,
        ),
      }),
      expect.objectContaining({ level: 30, moved: 0, cause: 'none' }),
    ]);
  });
});
