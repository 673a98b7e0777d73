/**
 * Phased releases and the error budget through the rollout workers on a real Redis (ManualClock,
 * promoted delayed jobs): each phase releases exactly its cohort, nobody is upgraded twice or
 * early, pause and resume move the schedule without reshuffling anyone, advance and complete
 * start phases now, a pause ends by itself at its cap with a notice, and failures past the error
 * budget pause the rollout with its reason until an operator resumes it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, HOUR, MINUTE, type ManualClock } from '../../src/lib/clock.js';
import { generatePopulation } from '../../src/app/rollout/installations.js';
import { controlRollout, showRollout } from '../../src/app/rollout/rollouts.js';
import {
  advancePhases,
  phaseRollout,
  reportFailure,
  setAppPhasedRelease,
} from '../../src/app/rollout/phased-release.js';
import { cohortOf } from '../../src/rollout/phased-release.js';
import { AuditStore } from '../../src/store/audit-store.js';
import type { HistoryEntry } from '../../src/store/installation-store.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import type { MemoryVersions } from '../rollout/helpers.js';

const N = 1000;
const APP = 'phased-app';

/** The moves of each installation to `version`, by id. */
function movesTo(h: Map<string, HistoryEntry[]>, version: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [id, entries] of h)
    for (const e of entries) if (e.kind === 'upgraded' && e.to === version) out.set(id, [...(out.get(id) ?? []), e.at]);
  return out;
}

describe('phased releases and the error budget (workers, real Redis)', { timeout: 120_000 }, () => {
  let rw: RolloutHarness;
  let clock: ManualClock;
  let versions: MemoryVersions;
  let P: number;

  beforeEach(async () => {
    rw = await createRolloutHarness({
      settings: { batchSize: 400, planChunkSize: 500, pauseRecheckMs: 30_000, phasedPauseCapMs: 2 * DAY },
    });
    ({ clock, versions } = rw);
    versions.add({
      appId: APP,
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    await rw.ctx.apps.addConnectApp({ id: APP, descriptorUrl: 'https://vendor.example.com/d.json', now: T0 - DAY });
    await generatePopulation(rw.ctx, { appId: APP, count: N, seed: 7, version: '1.0.0' });
    P = T0 + 2 * HOUR + 13 * MINUTE;
    clock.set(P);
  });
  afterEach(() => rw.close());

  const publish = async (version: string) => {
    versions.add({
      appId: APP,
      kind: 'connect',
      version,
      bump: 'micro',
      approval: 'automatic',
      detectedAt: clock.now(),
    });
    await rw.plan(APP, version);
  };
  const cohortBelow = (pct: number, ids: Iterable<string>) => [...ids].filter((id) => cohortOf(APP, id) < pct);

  it('releases exactly the cohort of each phase, each at its check after the phase start (≤ 28 h), nobody twice', async () => {
    await setAppPhasedRelease(rw.ctx, APP, { percents: [10, 40, 100], intervalMs: DAY });
    await publish('1.0.1');
    const all = [...(await rw.histories(APP)).keys()];
    let show = await showRollout(rw.ctx, APP, '1.0.1');
    expect(show.phased).toMatchObject({ phase: 1, phases: 3, percent: 10, nextStepAt: P + DAY });
    expect(show.phased!.cohortSize).toBe(cohortBelow(10, all).length);
    expect(show.summary!.held).toBe(N - cohortBelow(10, all).length);

    await rw.runFor(DAY - MINUTE, HOUR); // phase 1, up to just before phase 2
    let moved = movesTo(await rw.histories(APP), '1.0.1');
    expect(new Set(moved.keys())).toEqual(new Set(cohortBelow(10, all)));

    await rw.runFor(DAY, HOUR); // phase 2 (40 %), up to just before phase 3
    show = await showRollout(rw.ctx, APP, '1.0.1');
    expect(show.phased).toMatchObject({ phase: 2, percent: 40, startedAt: P + DAY, nextStepAt: P + 2 * DAY });
    expect(show.phased!.cohortSize).toBe(cohortBelow(40, all).length);
    moved = movesTo(await rw.histories(APP), '1.0.1');
    // Every upgrade so far is in the 40 % cohort; those of the 10–40 % slice never before the phase began.
    for (const [id, at] of moved) {
      const c = cohortOf(APP, id);
      expect(c).toBeLessThan(40);
      if (c >= 10) expect(at[0]).toBeGreaterThanOrEqual(P + DAY);
    }

    await rw.runFor(29 * HOUR, HOUR); // phase 3 (100 %) and its 24 h + 4 h
    moved = movesTo(await rw.histories(APP), '1.0.1');
    expect(moved.size).toBe(N);
    for (const [id, at] of moved) {
      expect(at).toHaveLength(1); // nobody twice
      const c = cohortOf(APP, id);
      const start = c < 10 ? P : c < 40 ? P + DAY : P + 2 * DAY;
      expect(at[0]).toBeGreaterThanOrEqual(start);
      expect(at[0]! - start).toBeLessThanOrEqual(28 * HOUR + HOUR); // next check + ≤ 4 h window (+1 h clock step)
    }
    show = await showRollout(rw.ctx, APP, '1.0.1');
    expect(show.complete).toBe(true);
    expect(show.phased).toMatchObject({ phase: 3, percent: 100, nextStepAt: null, cohortSize: N });
    const text = await rw.ctx.metrics.registry.getSingleMetricAsString('mpu_rollout_phase_percent');
    expect(text).toContain(`mpu_rollout_phase_percent{app="${APP}",version="1.0.1"} 100`);
  });

  it('pause and resume move the schedule by the pause and reshuffle nobody; advance and complete start phases now', async () => {
    await setAppPhasedRelease(rw.ctx, APP, { percents: [10, 40, 70, 100], intervalMs: 2 * DAY });
    await publish('1.0.1');
    const all = [...(await rw.histories(APP)).keys()];
    await rw.runFor(6 * HOUR, HOUR);
    await controlRollout(rw.ctx, APP, '1.0.1', 'pause', 'alice');
    await rw.runFor(36 * HOUR, HOUR); // paused past the scheduled step: no phase 2, nobody else moves
    let show = await showRollout(rw.ctx, APP, '1.0.1');
    expect(show.status).toBe('paused');
    expect(show.phased).toMatchObject({ phase: 1, nextStepAt: null });
    const duringPause = movesTo(await rw.histories(APP), '1.0.1');
    expect(cohortBelow(10, duringPause.keys())).toHaveLength(duringPause.size);
    await controlRollout(rw.ctx, APP, '1.0.1', 'resume', 'alice');
    show = await showRollout(rw.ctx, APP, '1.0.1');
    expect(show.phased).toMatchObject({ phase: 1, nextStepAt: P + 2 * DAY + 36 * HOUR, pausedMs: 36 * HOUR });

    // Advance: phase 2 now; its slice at the checks after now. Twice with `to`: once.
    const at = clock.now();
    await advancePhases(rw.ctx, APP, '1.0.1', { mode: 'advance', to: 1 });
    expect((await advancePhases(rw.ctx, APP, '1.0.1', { mode: 'advance', to: 1 })).changed).toBe(false);
    await rw.runFor(28 * HOUR, HOUR);
    show = await showRollout(rw.ctx, APP, '1.0.1');
    expect(show.phased).toMatchObject({ phase: 2, percent: 40, startedAt: at });
    let moved = movesTo(await rw.histories(APP), '1.0.1');
    expect(new Set(moved.keys())).toEqual(new Set(cohortBelow(40, all)));

    // Complete: everyone at the checks after now, each once.
    const done = clock.now();
    expect((await advancePhases(rw.ctx, APP, '1.0.1', { mode: 'complete' })).changed).toBe(true);
    expect((await advancePhases(rw.ctx, APP, '1.0.1', { mode: 'complete' })).changed).toBe(false);
    await rw.runFor(29 * HOUR, HOUR);
    moved = movesTo(await rw.histories(APP), '1.0.1');
    expect(moved.size).toBe(N);
    for (const [id, ats] of moved) {
      expect(ats).toHaveLength(1);
      if (cohortOf(APP, id) >= 40) expect(ats[0]).toBeGreaterThanOrEqual(done);
    }
    // The pause kept who had it: the first 10 % moved before the pause and nobody else then.
    for (const id of duringPause.keys()) expect(moved.get(id)).toEqual(duringPause.get(id));
  });

  it('refuses to advance a paused, unphased or halted rollout (rollout-conflict)', async () => {
    await publish('1.0.1'); // no phased release set: Atlassian's windows
    await expect(advancePhases(rw.ctx, APP, '1.0.1', { mode: 'advance' })).rejects.toMatchObject({
      code: 'rollout-conflict',
    });
    const show = await showRollout(rw.ctx, APP, '1.0.1');
    expect(show.phased).toBeUndefined();
    expect(show.summary!.upgrades).toBe(N);
    await phaseRollout(rw.ctx, APP, '1.0.1', 'apple');
    await controlRollout(rw.ctx, APP, '1.0.1', 'pause', 'alice');
    await expect(advancePhases(rw.ctx, APP, '1.0.1', { mode: 'complete' })).rejects.toMatchObject({
      code: 'rollout-conflict',
      message: expect.stringContaining('paused'),
    });
    await controlRollout(rw.ctx, APP, '1.0.1', 'halt', 'alice');
    await expect(advancePhases(rw.ctx, APP, '1.0.1', { mode: 'complete' })).rejects.toMatchObject({
      code: 'rollout-conflict',
    });
  });

  it('a rollout in flight given a phased release holds everyone outside the first cohort (those upgraded keep it)', async () => {
    await publish('1.0.1');
    const before = [...movesTo(await rw.histories(APP), '1.0.1').keys()]; // checks due at publication
    await phaseRollout(rw.ctx, APP, '1.0.1', { percents: [20, 100], intervalMs: 3 * DAY });
    await expect(phaseRollout(rw.ctx, APP, '1.0.1', 'apple')).rejects.toMatchObject({ code: 'rollout-conflict' });
    await rw.runFor(2 * DAY, HOUR);
    const all = [...(await rw.histories(APP)).keys()];
    const moved = movesTo(await rw.histories(APP), '1.0.1');
    expect(new Set(moved.keys())).toEqual(new Set([...before, ...cohortBelow(20, all)]));
    expect(before.length).toBeLessThan(N / 20);
  });

  it('a pause ends by itself at the cap, with a notice, an event and an audit entry as system', async () => {
    await setAppPhasedRelease(rw.ctx, APP, 'apple');
    await publish('1.0.1');
    await rw.runFor(HOUR, HOUR);
    const pausedAt = clock.now();
    await controlRollout(rw.ctx, APP, '1.0.1', 'pause', 'alice');
    expect((await showRollout(rw.ctx, APP, '1.0.1')).phased!.pauseCapAt).toBe(pausedAt + 2 * DAY);
    const resumed = rw.ctx.events.next('rollout:resumed', (e) => e.appId === APP);
    await rw.runFor(2 * DAY + HOUR, HOUR);
    expect(await resumed).toMatchObject({ by: 'system' });
    const show = await showRollout(rw.ctx, APP, '1.0.1');
    expect(show.status).toBe('scheduled');
    expect(show.phased!.pausedMs).toBe(2 * DAY);
    expect(rw.rolloutNotices).toEqual([
      expect.objectContaining({
        type: 'rollout-resumed',
        appId: APP,
        version: '1.0.1',
        reason: expect.stringContaining('2 days'),
      }),
    ]);
    const entries = await new AuditStore(rw.connection, rw.ctx.keys).list({ appId: APP, limit: 10 });
    expect(entries[0]).toMatchObject({ actor: 'system', action: 'rollout.resume', target: { version: '1.0.1' } });
  });

  it('failures past the error budget pause the rollout with its reason; only an operator resumes it', async () => {
    await publish('1.0.1'); // unphased: the budget applies to every rollout
    await rw.runFor(30 * HOUR, HOUR);
    const ids = [...(await rw.histories(APP)).keys()];
    expect((await showRollout(rw.ctx, APP, '1.0.1')).reached).toBe(N);
    // Budget: max(5, 5 % of N). Report that many: kept; a duplicate changes nothing; one more pauses.
    const B = Math.floor(0.05 * N);
    for (const id of ids.slice(0, B)) {
      const r = await reportFailure(rw.ctx, { installationId: id, reason: 'health check 500', by: 'monitoring' });
      expect(r.paused).toBe(false);
    }
    const dup = await reportFailure(rw.ctx, { installationId: ids[0]!, version: '1.0.1', by: 'monitoring' });
    expect(dup).toMatchObject({ recorded: false, failures: B, paused: false });
    const r = await reportFailure(rw.ctx, { installationId: ids[B]!, by: 'monitoring' });
    expect(r).toMatchObject({
      recorded: true,
      failures: B + 1,
      budget: B,
      paused: true,
      status: 'paused',
      reason: `error budget exceeded: ${B + 1} failures of ${N} upgraded, budget ${B}`,
    });
    const show = await showRollout(rw.ctx, APP, '1.0.1');
    expect(show).toMatchObject({ status: 'paused', failures: B + 1, pause: { by: 'system', reason: r.reason } });
    expect(rw.rolloutNotices).toEqual([expect.objectContaining({ type: 'rollout-paused', reason: r.reason })]);
    const entries = await new AuditStore(rw.connection, rw.ctx.keys).list({ appId: APP, limit: 5 });
    expect(entries[0]).toMatchObject({ actor: 'system', action: 'rollout.pause', target: { reason: r.reason } });
    await expect(reportFailure(rw.ctx, { installationId: 'nobody', by: 'monitoring' })).rejects.toMatchObject({
      code: 'installation-not-found',
    });
    await expect(
      reportFailure(rw.ctx, { installationId: ids[1]!, version: '9.9.9', by: 'monitoring' }),
    ).rejects.toMatchObject({ code: 'rollout-not-found' });

    // No cap for the system's pause: it waits for an operator.
    await rw.runFor(3 * DAY, DAY);
    expect((await showRollout(rw.ctx, APP, '1.0.1')).status).toBe('paused');
    await controlRollout(rw.ctx, APP, '1.0.1', 'resume', 'alice');
    expect((await showRollout(rw.ctx, APP, '1.0.1')).status).toBe('scheduled');
    // A new failure past the budget pauses it again.
    expect((await reportFailure(rw.ctx, { installationId: ids[B + 5]!, by: 'monitoring' })).paused).toBe(true);
  });
});
