/**
 * A poll chunk's changes are versioned together, in the chunk's job (record-version.ts
 * recordVersionBatch; queues.ts VersionBatchJob for batches queued by an earlier release), with
 * the guarantees of a job per change: one version per change with two daemons and
 * redeliveries, an app's versions in order, a rollout plan per new version, nothing for a
 * descriptor that is not stored (that change is handed to a job of its own).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { createLimiter } from '../../src/lib/limiter.js';
import { pollBatch, type PollBatchDeps } from '../../src/app/detection/poll-batch.js';
import { pollSlot } from '../../src/poller/poll-schedule.js';
import { recordVersion, recordVersionBatch } from '../../src/app/detection/record-version.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import {
  VERSION_BATCH_JOB_NAME,
  planRolloutJobId,
  versionBatchJobId,
  versionJobId,
  type VersionBatchJob,
  type VersionJob,
} from '../../src/jobs/queues.js';
import {
  createHarness,
  localFetchPolicy,
  startLocalServer,
  type Harness,
  type LocalServer,
} from '../helpers/detection-harness.js';

const descriptor = (key: string, rev: number) =>
  JSON.stringify({
    key,
    baseUrl: 'https://example.com',
    authentication: { type: 'jwt' },
    scopes: ['READ'],
    modules: { generalPages: [{ key: `p${rev}`, name: { value: `rev ${rev}` }, url: '/p' }] },
  });

describe('versioning a chunk of changes in one job', () => {
  let server: LocalServer;
  let rev = 0;
  const harnesses: Harness[] = [];
  beforeEach(async () => {
    rev = 0;
    server = await startLocalServer((req, res) => {
      const key = (req.url ?? '/').slice(1);
      res.writeHead(200, { 'content-type': 'application/json', etag: `"r${rev}"` }).end(descriptor(key, rev));
    });
  });
  afterEach(async () => {
    for (const h of harnesses.splice(0).reverse()) await h.close();
    await server.close();
  });
  const harness = async (opts: Parameters<typeof createHarness>[0] = {}) => {
    const h = await createHarness({
      fetchPolicy: localFetchPolicy(server.port),
      ...opts,
      settings: { pollIntervalMs: 5 * HOUR, ...opts.settings },
    });
    harnesses.push(h);
    return h;
  };
  /** Stores `rev` of `id`'s descriptor; @returns its change (against `base`). */
  const change = async (h: Harness, id: string, r: number, base: string | null): Promise<VersionJob> => {
    const parsed = parseDescriptor(descriptor(id, r), { source: 'test', kind: 'connect' });
    await h.ctx.descriptors.saveDescriptor(id, parsed);
    return {
      v: 1,
      appId: id,
      source: 'poll',
      descriptorHash: parsed.hash,
      baseVersion: base,
      detectedAt: h.clock.now(),
    };
  };
  const hashOf = (id: string, r: number) =>
    parseDescriptor(descriptor(id, r), { source: 'test', kind: 'connect' }).hash;

  it('two daemons and a redelivery running the same batch at once: one version per change, in order, a plan for each', async () => {
    const a = await harness();
    const b = await harness({ prefix: a.prefix, clock: a.clock, cleanup: false });
    const ids = Array.from({ length: 8 }, (_, i) => `batch-app-${i}`);
    for (const id of ids) {
      await registerConnectApp(a.ctx, id, server.url(`/${id}`));
      await recordVersion(a.ctx, await change(a, id, 0, null));
    }
    // Every app changed once; the first two twice, both changes in this batch (in order).
    const changes: VersionJob[] = [];
    for (const [i, id] of ids.entries()) {
      changes.push(await change(a, id, 1, '1.0.0'));
      if (i < 2) changes.push(await change(a, id, 2, '1.0.0'));
    }
    const runs = await Promise.all([
      recordVersionBatch(a.ctx, changes),
      recordVersionBatch(b.ctx, changes),
      recordVersionBatch(a.ctx, changes),
    ]);
    expect(runs.reduce((n, r) => n + r.created, 0)).toBe(ids.length + 2);
    expect(runs.reduce((n, r) => n + r.handedOff, 0)).toBe(0);
    // Later still: a redelivery finds every change versioned and appends nothing out of order.
    expect(await recordVersionBatch(b.ctx, changes)).toMatchObject({ created: 0, handedOff: 0 });
    for (const [i, id] of ids.entries()) {
      const versions = await a.ctx.versions.listVersions(id);
      const revs = i < 2 ? [0, 1, 2] : [0, 1];
      expect(
        versions.map((v) => v.descriptorHash),
        id,
      ).toEqual(revs.map((r) => hashOf(id, r)));
      for (const v of versions.slice(1))
        expect(
          await a.ctx.queues.rollout.getJob(planRolloutJobId({ v: 1, appId: id, version: v.version })),
          `${id} ${v.version}`,
        ).toBeDefined();
    }
  });

  it("an app's changes in one batch are versioned in order, even when the first one's reads are slower", async () => {
    const h = await harness();
    await registerConnectApp(h.ctx, 'order-app', server.url('/order-app'));
    await recordVersion(h.ctx, await change(h, 'order-app', 0, null));
    const first = await change(h, 'order-app', 1, '1.0.0');
    const second = await change(h, 'order-app', 2, '1.0.0');
    // Reading the first change's descriptor takes a while (a busy Redis, a GC pause).
    const descriptors = Object.create(h.ctx.descriptors) as typeof h.ctx.descriptors;
    descriptors.getDescriptorText = async (appId, hash) => {
      if (hash === first.descriptorHash) await new Promise((r) => setTimeout(r, 50));
      return h.ctx.descriptors.getDescriptorText(appId, hash);
    };
    expect(await recordVersionBatch({ ...h.ctx, descriptors }, [first, second])).toMatchObject({ created: 2 });
    expect((await h.ctx.versions.listVersions('order-app')).map((v) => v.descriptorHash)).toEqual(
      [0, 1, 2].map((r) => hashOf('order-app', r)),
    );
  });

  it('a change whose descriptor is not stored creates no version and is handed to a job of its own; the others are versioned', async () => {
    const h = await harness();
    for (const id of ['ok-app', 'bad-app']) {
      await registerConnectApp(h.ctx, id, server.url(`/${id}`));
      await recordVersion(h.ctx, await change(h, id, 0, null));
    }
    const good = await change(h, 'ok-app', 1, '1.0.0');
    const bad: VersionJob = { ...good, appId: 'bad-app', descriptorHash: `sha256:${'0'.repeat(64)}` };
    expect(await recordVersionBatch(h.ctx, [bad, good])).toEqual({
      created: 1,
      exists: 0,
      unchanged: 0,
      superseded: 0,
      handedOff: 1,
      gone: 0,
    });
    expect((await h.ctx.versions.listVersions('bad-app')).map((v) => v.version)).toEqual(['1.0.0']);
    expect((await h.ctx.versions.listVersions('ok-app')).map((v) => v.version)).toEqual(['1.0.0', '1.0.1']);
    expect(await h.ctx.queues.version.getJob(versionJobId(bad))).toBeDefined();
  });

  it("a poll chunk versions its changes together, without reading the descriptors again, and keeps an app's validators only once its change is versioned", async () => {
    const h = await harness();
    const ids = Array.from({ length: 6 }, (_, i) => `chunk-ver-${i}`);
    for (const id of ids) await registerConnectApp(h.ctx, id, server.url(`/${id}`));
    const polls = ids.map((appId) => ({
      appId,
      slot: pollSlot(appId, h.clock.now(), h.ctx.settings.pollIntervalMs).slot,
    }));
    const deps: PollBatchDeps = {
      ...h.ctx,
      limiter: createLimiter(3),
      retryJobId: () => undefined,
      enqueueRetry: async () => {},
    };

    // Versioning fails (Redis): every change is a failed poll, no validator is kept.
    const failing = await pollBatch(
      { ...deps, versionChanges: () => Promise.reject(new Error('redis down')) },
      polls,
      'chunk-fail',
    );
    expect(failing).toMatchObject({ polled: 6, failed: 6 });
    for (const id of ids) expect((await h.ctx.apps.getApp(id))?.etag, id).toBeUndefined();

    h.clock.advance(5 * HOUR);
    const next = ids.map((appId) => ({
      appId,
      slot: pollSlot(appId, h.clock.now(), h.ctx.settings.pollIntervalMs).slot,
    }));
    const batches: { changes: VersionJob[]; known: number }[] = [];
    // The stored descriptors are not read: the polls' parses are used.
    const descriptors = Object.create(h.ctx.descriptors) as typeof h.ctx.descriptors;
    descriptors.getDescriptorText = () => Promise.reject(new Error('read again'));
    const versionChanges: PollBatchDeps['versionChanges'] = async (changes, known) => {
      batches.push({ changes: [...changes], known: [...known.values()].filter((k) => k.after).length });
      // Validators are not kept before the change is versioned.
      for (const c of changes) expect((await h.ctx.apps.getApp(c.appId))?.etag, c.appId).toBeUndefined();
      expect(await recordVersionBatch({ ...h.ctx, descriptors }, changes, known)).toMatchObject({
        created: 6,
        handedOff: 0,
      });
    };
    expect(await pollBatch({ ...deps, versionChanges }, next, 'chunk-ok')).toMatchObject({ polled: 6, changed: 6 });
    expect(batches.map((b) => [b.changes.length, b.known])).toEqual([[6, 6]]);
    for (const id of ids) {
      expect((await h.ctx.apps.getApp(id))?.etag, id).toBe('"r0"');
      expect(
        (await h.ctx.versions.listVersions(id)).map((v) => v.version),
        id,
      ).toEqual(['1.0.0']);
    }
    expect(await h.ctx.queues.version.getJobCounts('waiting', 'prioritized', 'delayed')).toEqual({
      waiting: 0,
      prioritized: 0,
      delayed: 0,
    });
  });

  it("a poll chunk's change whose versioning fails goes to a job of its own with its descriptor stored (the polls leave storing it to the version)", async () => {
    const h = await harness();
    const ids = ['handoff-ok', 'handoff-bad'];
    for (const id of ids) await registerConnectApp(h.ctx, id, server.url(`/${id}`));
    const polls = ids.map((appId) => ({
      appId,
      slot: pollSlot(appId, h.clock.now(), h.ctx.settings.pollIntervalMs).slot,
    }));
    // One app's append fails (a Redis error): its change is handed on.
    const versions = Object.create(h.ctx.versions) as typeof h.ctx.versions;
    versions.storeVersion = (record, ...rest) =>
      record.appId === 'handoff-bad'
        ? Promise.reject(new Error('append failed'))
        : h.ctx.versions.storeVersion(record, ...rest);
    const deps: PollBatchDeps = {
      ...h.ctx,
      limiter: createLimiter(2),
      retryJobId: () => undefined,
      enqueueRetry: async () => {},
      versionChanges: async (changes, known) => void (await recordVersionBatch({ ...h.ctx, versions }, changes, known)),
    };
    expect(await pollBatch(deps, polls, 'chunk-handoff')).toMatchObject({ polled: 2, changed: 2, failed: 0 });
    expect((await h.ctx.versions.listVersions('handoff-ok')).map((v) => v.version)).toEqual(['1.0.0']);
    expect(await h.ctx.versions.listVersions('handoff-bad')).toEqual([]);
    const hash = hashOf('handoff-bad', 0);
    expect(await h.ctx.descriptors.getDescriptorText('handoff-bad', hash)).not.toBeNull();
    const job = await h.ctx.queues.version.getJob(
      versionJobId({
        v: 1,
        appId: 'handoff-bad',
        source: 'poll',
        descriptorHash: hash,
        baseVersion: null,
        detectedAt: h.clock.now(),
      }),
    );
    expect(job?.data).toMatchObject({ appId: 'handoff-bad', descriptorHash: hash });
    // The queued job, run as the version worker runs it, finds its descriptor and versions it.
    expect(await recordVersion(h.ctx, job!.data as VersionJob)).toMatchObject({ status: 'created', version: '1.0.0' });
  });

  it('a latest version the poll read that has moved on since costs a retry, not a version out of order', async () => {
    const h = await harness();
    await registerConnectApp(h.ctx, 'stale-app', server.url('/stale-app'));
    await recordVersion(h.ctx, await change(h, 'stale-app', 0, null));
    // Another step appends revision 1 after the poll of revision 2 read 1.0.0 as the latest.
    await recordVersion(h.ctx, await change(h, 'stale-app', 1, '1.0.0'));
    const rev2 = await change(h, 'stale-app', 2, '1.0.0');
    const parsed2 = parseDescriptor(descriptor('stale-app', 2), { source: 'test', kind: 'connect' });
    const res = await recordVersion(h.ctx, rev2, {
      after: parsed2,
      latest: { version: '1.0.0', descriptorHash: hashOf('stale-app', 0) },
    });
    expect(res).toMatchObject({ status: 'created', version: '1.0.2' });
    const versions = await h.ctx.versions.listVersions('stale-app');
    expect(versions.map((v) => v.descriptorHash)).toEqual([0, 1, 2].map((r) => hashOf('stale-app', r)));
    // Classified against revision 1 (a page key renamed p1 → p2), not revision 0.
    expect(JSON.stringify(versions[2]!.reasons)).toMatch(/p1/);
  });

  it('a batch queued by an earlier release (VersionBatchJob) is still versioned by the worker', async () => {
    const h = await harness({ workers: true });
    await registerConnectApp(h.ctx, 'queued-app', server.url('/queued-app'));
    await recordVersion(h.ctx, await change(h, 'queued-app', 0, null));
    const data: VersionBatchJob = { v: 1, changes: [await change(h, 'queued-app', 1, '1.0.0')] };
    await h.ctx.queues.version.add(VERSION_BATCH_JOB_NAME, data, { jobId: versionBatchJobId(data) });
    await h.drain();
    expect((await h.ctx.versions.listVersions('queued-app')).map((v) => v.version)).toEqual(['1.0.0', '1.0.1']);
  });
});
