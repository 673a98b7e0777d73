/**
 * An adoption rollout on a real Redis (src/app/rollout/adoption.ts; DESIGN.md "Connect to Forge
 * adoption"): Connect installations on different Connect versions, judged each by its installed
 * descriptor; the eligible ones move to the Forge app exactly once within the 120 h window
 * (batches run at each hour of a ManualClock, and each twice, as redelivered); the others show
 * "update available" and move only on approval.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { applyAdoptionBatch, approveAdoption, findAdoption, planAdoption } from '../../src/app/rollout/adoption.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import { ADOPTION_BATCH_JOB_NAME, AdoptionBatchJob } from '../../src/jobs/queues.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import type { Installation } from '../../src/rollout/types.js';
import { createRolloutHarness, ROLLOUT_T0, type RolloutHarness } from '../helpers/rollout-harness.js';

const C = 'com.example.issue-notes';
const F = 'ari:cloud:ecosystem::app/0f8e3c7a-5b2d-4e61-9a4f-2c7d8b1e6a35';
const connectText = readFileSync('examples/connect-to-forge/atlassian-connect.json', 'utf8');
const manifestText = readFileSync('examples/connect-to-forge/manifest.yml', 'utf8');
/** 1.0.0 holds READ only: the Forge manifest's write scopes are an elevation for it. */
const readOnly = JSON.stringify({ ...(JSON.parse(connectText) as object), scopes: ['READ'] });

const inst = (id: string, version: string, over: Partial<Installation> = {}): Installation => ({
  id,
  appId: C,
  site: `${id}.example.net`,
  products: ['jira'],
  version,
  checkOffsetMs: 0,
  maintenance: null,
  ...over,
});

describe('Connect to Forge adoption rollout (real Redis)', () => {
  let h: RolloutHarness;
  beforeEach(async () => {
    h = await createRolloutHarness({ workers: false });
    const { ctx } = h;
    await ctx.apps.addConnectApp({ id: C, descriptorUrl: 'https://notes.example.com/atlassian-connect.json', now: 0 });
    await ctx.apps.addForgeApp({ ari: F, now: 0 });
    const save = async (appId: string, text: string, kind: 'connect' | 'forge', version: string, at: number) => {
      const parsed = parseDescriptor(text, { source: `${appId}@${version}`, kind });
      const hash = await ctx.descriptors.saveDescriptor(appId, parsed);
      h.versions.add({
        appId,
        kind,
        version,
        bump: 'initial',
        approval: 'automatic',
        detectedAt: at,
        descriptorHash: hash,
      });
    };
    await save(C, readOnly, 'connect', '1.0.0', ROLLOUT_T0 - 30 * 24 * HOUR);
    await save(C, connectText, 'connect', '1.1.0', ROLLOUT_T0 - 10 * 24 * HOUR);
    await save(F, manifestText, 'forge', '2.0.0', ROLLOUT_T0);
    const windows = { timeZone: 'UTC', weekly: [], adHoc: [{ start: ROLLOUT_T0, end: ROLLOUT_T0 + 200 * HOUR }] };
    await ctx.installs.register(
      [
        ...Array.from({ length: 20 }, (_, k) => inst(`new-${k}`, '1.1.0', k === 0 ? { maintenance: windows } : {})),
        ...Array.from({ length: 5 }, (_, k) => inst(`old-${k}`, '1.0.0')),
      ],
      ROLLOUT_T0 - HOUR,
    );
  });
  afterEach(() => h.close());

  it('moves every eligible installation exactly once within the window, none of the others without approval', async () => {
    const { ctx } = h;
    const adoption = await findAdoption(ctx, F, '2.0.0');
    expect(adoption).toMatchObject({ connectAppId: C, forgeAppId: F, publishedAt: ROLLOUT_T0 });
    const batches = await planAdoption(ctx, adoption!);
    expect(await planAdoption(ctx, adoption!)).toEqual(batches); // deterministic
    const notified = batches.filter((b) => b.kind === 'notify').flatMap((b) => b.ids);
    expect(notified.sort()).toEqual(['old-0', 'old-1', 'old-2', 'old-3', 'old-4']);
    const moves = batches.filter((b) => b.kind === 'move');
    expect(new Set(moves.map((b) => b.at)).size).toBeGreaterThan(3); // progressive

    const window = ctx.rolloutPolicy.adoptionWindowMs;
    for (let t = 0; t <= window; t += HOUR) {
      if (t > 0) h.clock.advance(HOUR);
      for (const b of batches) {
        // Each due batch runs twice (a redelivery), and early ones answer "wait".
        const r1 = await applyAdoptionBatch(ctx, b);
        const r2 = await applyAdoptionBatch(ctx, b);
        expect(r1.kind).toBe(h.clock.now() < b.at ? 'wait' : 'done');
        if (r1.kind === 'wait') expect(r1.until).toBe(b.at);
        else expect(r2).toMatchObject({ kind: 'done', moved: 0 });
      }
    }
    expect(await ctx.installs.distribution(F)).toEqual({ '2.0.0': 20 });
    expect(await ctx.installs.distribution(C)).toEqual({ '1.0.0': 5 });
    const forgeHistories = await h.histories(F);
    for (let k = 0; k < 20; k++) {
      const hist = forgeHistories.get(`new-${k}`)!;
      const movedEntries = hist.filter((e) => e.kind === 'moved');
      expect(movedEntries).toHaveLength(1);
      expect(movedEntries[0]).toMatchObject({
        from: { appId: C, version: '1.1.0' },
        to: { appId: F, version: '2.0.0' },
      });
      expect(movedEntries[0]!.at).toBeGreaterThanOrEqual(ROLLOUT_T0);
      expect(movedEntries[0]!.at).toBeLessThan(ROLLOUT_T0 + window);
      expect(await ctx.installs.appOf(`new-${k}`)).toBe(F);
    }
    // new-0 sat in a maintenance window all along: deferred (at most 4 h), it still moved inside the window.
    for (let k = 0; k < 5; k++) {
      const v = await ctx.installs.get(`old-${k}`);
      expect(v).toMatchObject({ appId: C, version: '1.0.0', updateAvailable: `${F}@2.0.0` });
      expect(v.history.filter((e) => e.kind === 'update-available')).toHaveLength(1);
    }

    // An approval moves one, once; the others keep waiting.
    expect(await approveAdoption(ctx, 'old-2', F, '2.0.0')).toBe(true);
    expect(await approveAdoption(ctx, 'old-2', F, '2.0.0')).toBe(false);
    const approved = await ctx.installs.get('old-2');
    expect(approved).toMatchObject({ appId: F, version: '2.0.0' });
    expect(approved.history.at(-1)).toMatchObject({ kind: 'moved', cause: 'approval', from: { version: '1.0.0' } });
    expect(await ctx.installs.distribution(C)).toEqual({ '1.0.0': 4 });
    expect(await ctx.installs.distribution(F)).toEqual({ '2.0.0': 21 });
  });

  it("the Forge version's plan enqueues the adoption's batches, delayed until due; planned again, the same jobs", async () => {
    const { ctx } = h;
    const batches = await planAdoption(ctx, (await findAdoption(ctx, F, '2.0.0'))!);
    expect(await planVersionRollout(ctx, { v: 1, appId: F, version: '2.0.0' })).toMatchObject({
      adoptionBatches: batches.length,
    });
    const jobs = async () =>
      (await ctx.queues.rollout.getJobs(['delayed', 'waiting'])).filter((j) => j.name === ADOPTION_BATCH_JOB_NAME);
    const first = await jobs();
    expect(first).toHaveLength(batches.length);
    expect(
      first.map((j) => AdoptionBatchJob.parse(j.data)).sort((a, b) => a.at - b.at || a.kind.localeCompare(b.kind)),
    ).toEqual(batches.map((b) => ({ v: 1, ...b, atIso: new Date(b.at).toISOString(), installations: b.ids.length })));
    for (const j of first) expect(j.delay).toBe(Math.max(0, AdoptionBatchJob.parse(j.data).at - h.clock.now()));
    // A redelivered plan (the rollout is planned already) enqueues the same jobs again: no-ops.
    expect(await planVersionRollout(ctx, { v: 1, appId: F, version: '2.0.0' })).toMatchObject({ alreadyPlanned: true });
    expect((await jobs()).map((j) => j.id).sort()).toEqual(first.map((j) => j.id).sort());
  });
});
