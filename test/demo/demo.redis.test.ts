/**
 * `mpu demo` end to end on the local Redis: real descriptor histories served by the local server,
 * polled, versioned and rolled out to generated installations on a compressed clock; the
 * promises of DESIGN.md "Rollout rules" checked on the installations' recorded histories.
 */
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/run-demo.js';
import { requireFixtures } from '../helpers/fixtures.js';
import { TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL, connectTestRedis, keysMatching } from '../helpers/redis.js';

describe('mpu demo', () => {
  it('detects, versions and rolls out real histories inside the promised windows, then cleans up', async () => {
    const lines: string[] = [];
    const report = await runDemo({
      redisUrl: TEST_REDIS_URL,
      redisClusterNodes: TEST_REDIS_CLUSTER_NODES,
      fixturesDir: requireFixtures(),
      apps: [
        'connect/BrandNameSoftware__agile-smells',
        'connect/KumarVariable__bb-descriptor',
        'forge/dpashkevich__forge-jira-checklist',
      ],
      installationsPerApp: 60,
      hours: 60,
      speed: 3 * 3600,
      changeEveryHours: 6,
      onProgress: (l) => lines.push(l),
    });
    expect(lines[0]).toMatch(/^3 apps \(2 Connect, 1 Forge\), 60 installations each, 60 simulated hours/);
    const smells = report.versions.filter((v) => v.appId === 'demo-BrandNameSoftware__agile-smells');
    // agile-smells' history is all micro changes: automatic, each reaching every installation.
    expect(smells[0]).toMatchObject({ version: '1.0.0', bump: 'initial' });
    expect(smells.length).toBeGreaterThanOrEqual(3);
    for (const v of smells.slice(1)) {
      expect(v).toMatchObject({ bump: 'micro', approval: 'automatic', reachedPercent: 100, missing: 0 });
      expect(v.detectionHours).toBeLessThanOrEqual(5.5);
      expect(v.maxDelayHours).toBeLessThanOrEqual(33);
    }
    // bb-descriptor's second version is a manual minor: nobody takes it without approval.
    const manual = report.versions.find(
      (v) => v.appId === 'demo-KumarVariable__bb-descriptor' && v.approval === 'manual',
    );
    expect(manual?.unapprovedUpgrades).toBe(0);
    expect(report.approvals).toBeGreaterThan(0);
    const forge = report.versions.filter((v) => v.kind === 'forge');
    expect(forge[0]).toMatchObject({ version: '2.0.0', bump: 'initial' });
    expect(forge.length).toBeGreaterThanOrEqual(2);
    expect(report.bounds.connectAutomaticHours.held).toBe(true);
    expect(report.bounds.manualWithoutApproval.count).toBe(0);
    expect(report.bounds.missing.count).toBe(0);
    expect(report.held).toBe(true);
    // The phased-release act: phases in order, an error-budget pause with its reason, an operator's resume.
    const act = report.phased!;
    const phases = act.events.filter((e) => e.kind === 'phase');
    expect(phases.map((e) => e.percent)).toEqual([10, 25, 50, 100].slice(0, phases.length));
    expect(phases.length).toBeGreaterThanOrEqual(3);
    expect(act.events.find((e) => e.kind === 'paused')).toMatchObject({
      by: 'system',
      reason: expect.stringMatching(/^error budget exceeded: 6 failures of \d+ upgraded, budget 5$/),
    });
    expect(act.events.find((e) => e.kind === 'resumed')).toMatchObject({ by: 'demo-operator' });
    expect(lines.some((l) => l.startsWith('phased release of demo-phased-release-act@1.0.1'))).toBe(true);

    const redis = await connectTestRedis();
    try {
      expect(await keysMatching(redis, `*${report.prefix}*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 90_000);
});
