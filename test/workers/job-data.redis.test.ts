/**
 * What bull-board shows of a queued job: the dispatcher adds ISO times beside epoch fields and a
 * batch's installation count, and ids read as the app (a Forge ARI as `forge-<uuid>`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/detection-harness.js';

const UUID = '0c8f2b7e-1d2a-4c3b-9e8f-123456789abc';
const ARI = `ari:cloud:ecosystem::app/${UUID}`;
const DUE = Date.parse('2025-03-04T06:00:00Z');

describe('job data and ids for people', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(() => h.close());

  it('upgrade and notify batches: ISO times and installation counts; readable ids', async () => {
    await h.ctx.enqueueUpgradeBatches([
      { v: 1, appId: ARI, version: '3.1.0', dueAt: DUE, source: { kind: 'bucket', at: DUE, start: 0, end: 0 } },
      { v: 1, appId: ARI, version: '3.1.0', dueAt: DUE, source: { kind: 'late', ids: ['i1', 'i2', 'i3'] } },
    ]);
    await h.ctx.enqueueNotifyBatches([{ v: 1, appId: 'conn', version: '1.1.0', at: DUE, start: 10, end: 19 }]);
    const upgrades = await h.ctx.queues.rollout.getJobs(['delayed', 'waiting']);
    expect(upgrades.map((j) => [j.id, j.data.installations, j.data.dueAtIso]).sort()).toEqual([
      [
        expect.stringMatching(`^late-upgrade__forge-${UUID}__3\\.1\\.0__${DUE}__3__[0-9a-f]{32}$`),
        3,
        '2025-03-04T06:00:00.000Z',
      ],
      [`upgrade__forge-${UUID}__3.1.0__${DUE}__0-0`, 1, '2025-03-04T06:00:00.000Z'],
    ]);
    const [notify] = await h.ctx.queues.notify.getJobs(['delayed', 'waiting']);
    expect(notify!.data).toMatchObject({ atIso: '2025-03-04T06:00:00.000Z', installations: 10 });
  });

  it('a version job: detectedAtIso beside detectedAt', async () => {
    await h.ctx.enqueueVersion({
      v: 1,
      appId: ARI,
      source: 'deploy',
      descriptorHash: `sha256:${'a'.repeat(64)}`,
      baseVersion: null,
      deploymentId: 'd-1',
      detectedAt: DUE,
    });
    const job = await h.ctx.queues.version.getJob(`version__forge-${UUID}__deploy__d-1`);
    expect(job?.data).toMatchObject({ detectedAt: DUE, detectedAtIso: '2025-03-04T06:00:00.000Z' });
  });
});
