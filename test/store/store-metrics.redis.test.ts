/**
 * /metrics reports what Redis holds, not what this process did: a version made by another
 * process (`mpu poll`, a second daemon) shows in `mpu_versions_stored`, and installations shown
 * "update available" and not approved show in `mpu_approvals_pending`. Store reads behind them:
 * `VersionStore.countVersionsByApp`, `InstallationStore.countPendingApprovals`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { recordVersion } from '../../src/app/detection/record-version.js';
import { registerConnectApp, registerForgeApp } from '../../src/app/detection/register-app.js';
import { registerInstallations } from '../../src/app/rollout/installations.js';
import { HOUR } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createAppContext, type Runtime } from '../../src/runtime.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { createHarness, type Harness } from '../helpers/detection-harness.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';

/** The value of `name{labels}` in a scrape of `ctx`'s registry (0 when absent). */
async function scrape(ctx: Runtime, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await ctx.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return Number(value?.value ?? 0);
}

describe('store gauges', () => {
  let h: Harness | undefined;
  let rw: RolloutHarness | undefined;
  afterEach(async () => {
    await rw?.close();
    await h?.close();
    rw = h = undefined;
  });

  it('a version made by another process (mpu poll) shows in this daemon’s mpu_versions_stored', async () => {
    h = await createHarness();
    // The daemon: its own context on the same Redis and prefix, which versions nothing itself.
    const daemon = createAppContext({
      connection: h.connection,
      clock: h.clock,
      logger: silentLogger,
      prefix: h.prefix,
    });
    try {
      expect(await scrape(daemon, 'mpu_versions_stored', { kind: 'connect' })).toBe(0);
      await registerConnectApp(h.ctx, 'other-process', 'https://vendor.example.com/a/atlassian-connect.json');
      await registerForgeApp(h.ctx, 'ari:cloud:ecosystem::app/0c8f2b7e-1d2a-4c3b-9e8f-123456789abc');
      for (const baseUrl of ['https://a.example.com', 'https://b.example.com']) {
        const d = parseDescriptor(
          JSON.stringify({ key: 'other-process', baseUrl, authentication: { type: 'jwt' }, modules: {} }),
          { source: 'test', kind: 'connect' },
        );
        await h.ctx.descriptors.saveDescriptor('other-process', d);
        const latest = await h.ctx.versions.latestVersion('other-process');
        await recordVersion(
          { ...h.ctx, enqueuePlanRollout: async () => {} },
          {
            v: 1,
            appId: 'other-process',
            source: 'cli',
            descriptorHash: d.hash,
            baseVersion: latest?.version ?? null,
            detectedAt: h.clock.now(),
          },
        );
      }
      expect(Object.fromEntries(await daemon.versions.countVersionsByApp())).toEqual({
        'other-process': 2,
        'ari:cloud:ecosystem::app/0c8f2b7e-1d2a-4c3b-9e8f-123456789abc': 0,
      });
      expect(await scrape(daemon, 'mpu_versions_stored', { kind: 'connect' })).toBe(2);
      expect(await scrape(daemon, 'mpu_versions_stored', { kind: 'forge' })).toBe(0);
      expect(await scrape(daemon, 'mpu_apps', { kind: 'connect' })).toBe(1);
      expect(await scrape(daemon, 'mpu_apps', { kind: 'forge' })).toBe(1);
      // The process counter of the daemon saw nothing: that is why the gauge reads Redis.
      expect(await scrape(daemon, 'mpu_versions_total', {})).toBe(0);
      // The process that versioned observed each one's delay from detection (ManualClock: 0 s).
      const delay = (await h.ctx.metrics.registry.getSingleMetricAsString('mpu_version_delay_seconds')).split('\n');
      expect(delay).toContain('mpu_version_delay_seconds_count{kind="connect",source="cli"} 2');
      expect(delay).toContain('mpu_version_delay_seconds_bucket{le="0.1",kind="connect",source="cli"} 2');
    } finally {
      await daemon.close();
    }
  });

  it('countPendingApprovals and mpu_approvals_pending: shown, not approved, not already running it', async () => {
    rw = await createRolloutHarness({ workers: true });
    const base = { appId: 'm', kind: 'connect' as const };
    rw.versions.add({ ...base, version: '1.0.0', bump: 'initial', approval: 'automatic', detectedAt: T0 - HOUR });
    await registerInstallations(
      rw.ctx,
      ['a', 'b', 'c', 'd'].map((id) => ({
        id,
        appId: 'm',
        site: `${id}.example.net`,
        version: '1.0.0',
        checkTime: '02:00',
      })),
    );
    rw.versions.add({ ...base, version: '1.1.0', bump: 'minor', approval: 'manual', detectedAt: T0 });
    await rw.plan('m', '1.1.0');
    expect(await rw.ctx.installs.countPendingApprovals('m')).toBe(0); // nobody checked yet
    await rw.runFor(3 * HOUR); // 02:00: every installation is told
    expect(await rw.ctx.installs.countPendingApprovals('m')).toBe(4);
    await rw.ctx.installs.setApproved('m', 'a', null, '1.1.0', ['1.1.0'], rw.clock.now());
    expect(await rw.ctx.installs.countPendingApprovals('m', 1)).toBe(3); // pages of one id: same count
    expect(await scrape(rw.ctx, 'mpu_approvals_pending', { app: 'm' })).toBe(3);
  });
});
