/**
 * What a poll knows of the app's latest version comes with its claim (the version store keeps
 * `latestVersion` / `latestHash` on the app record): equal descriptors create nothing, a change
 * back to the latest version's descriptor while an earlier change still waits for versioning is
 * handed on (not lost), a polled change retried after a later one was decided is superseded
 * (not appended after it), records written before those fields existed fall back to the history,
 * and the batch scripts answer per app, in order, without resurrecting a removed app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { pollApp } from '../../src/app/detection/poll-app.js';
import { recordVersion } from '../../src/app/detection/record-version.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import type { VersionJob } from '../../src/jobs/queues.js';
import {
  createHarness,
  localFetchPolicy,
  startLocalServer,
  type Harness,
  type LocalServer,
} from '../helpers/detection-harness.js';

const descriptor = (rev: number) =>
  JSON.stringify({
    key: 'latest-app',
    baseUrl: 'https://example.com',
    authentication: { type: 'jwt' },
    scopes: rev === 2 ? ['READ', 'WRITE'] : ['READ'],
    modules: rev === 3 ? { generalPages: [{ key: 'p3', name: { value: 'Page 3' }, url: '/p3' }] } : {},
  });

describe('the latest version as a poll sees it', () => {
  let h: Harness;
  let server: LocalServer;
  /** Revision served per path (no validators: every poll gets a 200). */
  const served = new Map<string, number>();
  beforeAll(async () => {
    server = await startLocalServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(descriptor(served.get(req.url ?? '') ?? 1));
    });
    h = await createHarness({ fetchPolicy: localFetchPolicy(server.port) });
  });
  afterAll(async () => {
    await h.close();
    await server.close();
  });

  /** Polls `id`, keeping the versioning jobs it hands on in `queued` (not run). */
  const poll = (id: string, queued: VersionJob[]) =>
    pollApp({ ...h.ctx, enqueueVersion: async (j) => void queued.push(j) }, id);
  const versionAll = async (queued: VersionJob[]) => {
    for (const j of queued.splice(0)) await recordVersion(h.ctx, j);
  };

  it('keeps the latest version and its hash on the app record; an equal descriptor is unchanged', async () => {
    await registerConnectApp(h.ctx, 'eq-app', server.url('/eq'));
    const queued: VersionJob[] = [];
    expect((await poll('eq-app', queued)).outcome).toBe('changed');
    await versionAll(queued);
    const [v1] = await h.ctx.versions.listVersions('eq-app');
    const app = await h.ctx.apps.requireApp('eq-app');
    expect({ version: app.latestVersion, hash: app.latestHash }).toEqual({
      version: '1.0.0',
      hash: v1!.descriptorHash,
    });
    expect((await poll('eq-app', queued)).outcome).toBe('unchanged');
    expect(queued).toEqual([]);
  });

  it('a change back while the earlier change waits for versioning is handed on, and versioned after it', async () => {
    await registerConnectApp(h.ctx, 'back-app', server.url('/back'));
    const queued: VersionJob[] = [];
    await poll('back-app', queued);
    await versionAll(queued);
    served.set('/back', 2);
    expect((await poll('back-app', queued)).outcome).toBe('changed');
    // The vendor reverts before the versioning worker got to revision 2.
    served.set('/back', 1);
    expect((await poll('back-app', queued)).outcome).toBe('changed');
    expect(queued).toHaveLength(2);
    await versionAll(queued);
    // Revision 2 adds a scope, the revert removes it: two versions, the last one revision 1 again.
    const all = await h.ctx.versions.listVersions('back-app');
    expect(all.map((v) => v.bump)).toEqual(['initial', 'minor', 'micro']);
    expect(all[2]!.descriptorHash).toBe(all[0]!.descriptorHash);
    expect((await poll('back-app', queued)).outcome).toBe('unchanged');
  });

  /**
   * Registers `id` (revision 1, versioned), then polls revision 2 and, 5 hours later, `laterRev`.
   * @returns both polls' changes, neither versioned yet.
   */
  const overtaken = async (id: string, laterRev: number): Promise<{ older: VersionJob; later: VersionJob }> => {
    const queued: VersionJob[] = [];
    await registerConnectApp(h.ctx, id, server.url(`/${id}`));
    await poll(id, queued);
    await versionAll(queued);
    for (const rev of [2, laterRev]) {
      served.set(`/${id}`, rev);
      h.clock.advance(5 * HOUR);
      expect((await poll(id, queued)).outcome).toBe('changed');
    }
    return { older: queued[0]!, later: queued[1]! };
  };

  it('a polled change retried after a later one was decided is superseded: a revert, or a newer change, stays the latest', async () => {
    // Revert: revision 2's job fails and is retried only after the revert to 1 was decided.
    const revert = await overtaken('late-revert', 1);
    expect(await recordVersion(h.ctx, revert.later)).toMatchObject({ status: 'unchanged' });
    expect(await recordVersion(h.ctx, revert.older)).toEqual({ status: 'superseded', versionedAt: h.clock.now() });
    expect((await h.ctx.versions.listVersions('late-revert')).map((v) => v.version)).toEqual(['1.0.0']);
    // The next poll agrees with the history: nothing to do.
    h.clock.advance(5 * HOUR);
    expect((await poll('late-revert', [])).outcome).toBe('unchanged');

    // Newer change: revision 2's job is retried after revision 3's version was created.
    const newer = await overtaken('late-newer', 3);
    expect(await recordVersion(h.ctx, newer.later)).toMatchObject({ status: 'created' });
    expect(await recordVersion(h.ctx, newer.older)).toMatchObject({ status: 'superseded' });
    const all = await h.ctx.versions.listVersions('late-newer');
    expect(all).toHaveLength(2);
    expect(all[1]!.descriptorHash).toBe((await h.ctx.apps.requireApp('late-newer')).lastSeenHash);
    expect((await h.ctx.metrics.versionsSuperseded.get()).values[0]!.value).toBe(2);
  });

  it('polled changes versioned in detection order all count, and deploys are never superseded', async () => {
    const queued: VersionJob[] = [];
    await registerConnectApp(h.ctx, 'in-order', server.url('/in-order'));
    await poll('in-order', queued);
    served.set('/in-order', 2);
    h.clock.advance(5 * HOUR);
    await poll('in-order', queued);
    served.set('/in-order', 3);
    h.clock.advance(5 * HOUR);
    await poll('in-order', queued);
    await versionAll(queued);
    const hashes = (await h.ctx.versions.listVersions('in-order')).map((v) => v.descriptorHash);
    expect(hashes).toHaveLength(3);
    expect(hashes[2]).toBe((await h.ctx.apps.requireApp('in-order')).lastSeenHash);
    expect((await h.ctx.apps.requireApp('in-order')).versionedAt).toBe(h.clock.now());
    // The store's own guard: a polled record older than versionedAt is refused, a deploy's is not.
    const rec = (source: 'poll' | 'deploy', version: string, detectedAt: number) => ({
      appId: 'in-order',
      kind: 'connect' as const,
      version,
      bump: 'micro' as const,
      approval: 'automatic' as const,
      reasons: [],
      warnings: [],
      descriptorHash: `sha256:${'1'.repeat(64)}`,
      source,
      detectedAt,
    });
    const latest = (await h.ctx.apps.requireApp('in-order')).latestVersion!;
    expect(await h.ctx.versions.storeVersion(rec('poll', '9.0.0', h.clock.now() - 1), latest)).toEqual({
      status: 'superseded',
      versionedAt: h.clock.now(),
    });
    expect(await h.ctx.versions.storeVersion(rec('deploy', '9.0.0', h.clock.now() - 1), latest)).toMatchObject({
      status: 'created',
    });
    expect((await h.ctx.apps.requireApp('in-order')).versionedAt).toBe(h.clock.now());
    // markDecided only raises it, and only while the version it compared with is the latest.
    expect(await h.ctx.versions.markDecided('in-order', h.clock.now() - HOUR, '9.0.0')).toBe('ok');
    expect((await h.ctx.apps.requireApp('in-order')).versionedAt).toBe(h.clock.now());
    expect(await h.ctx.versions.markDecided('in-order', h.clock.now() + HOUR, latest)).toBe('conflict');
    expect((await h.ctx.apps.requireApp('in-order')).versionedAt).toBe(h.clock.now());
    expect(await h.ctx.versions.markDecided('in-order', h.clock.now() + HOUR, '9.0.0')).toBe('ok');
    expect((await h.ctx.apps.requireApp('in-order')).versionedAt).toBe(h.clock.now() + HOUR);
  });

  it('a change found equal to the latest version while an older one is appended is classified again, so the older one does not stay the latest', async () => {
    const { older, later: revert } = await overtaken('race-app', 1);
    // The revert's step reads the latest version (1.0.0, equal to it); the older change is
    // appended just then, before the revert's step records its decision.
    const versions = Object.create(h.ctx.versions) as typeof h.ctx.versions;
    let raced = false;
    versions.markDecided = async (...args) => {
      if (!raced) {
        raced = true;
        expect(await recordVersion(h.ctx, older)).toMatchObject({ status: 'created' });
      }
      return h.ctx.versions.markDecided(...args);
    };
    expect(await recordVersion({ ...h.ctx, versions }, revert)).toMatchObject({ status: 'created' });
    const all = await h.ctx.versions.listVersions('race-app');
    expect(all).toHaveLength(3);
    // The latest version is what the vendor serves (revision 1), not the older change.
    expect(all[2]!.descriptorHash).toBe(all[0]!.descriptorHash);
  });

  it('an app record without the latest fields (written by an older release) reads the history', async () => {
    await registerConnectApp(h.ctx, 'old-app', server.url('/old'));
    const queued: VersionJob[] = [];
    await poll('old-app', queued);
    await versionAll(queued);
    await h.connection.hdel(h.ctx.keys.app('old-app'), 'latestVersion', 'latestHash');
    expect((await poll('old-app', queued)).outcome).toBe('unchanged');
    served.set('/old', 2);
    expect((await poll('old-app', queued)).outcome).toBe('changed');
    expect(queued.map((j) => j.baseVersion)).toEqual(['1.0.0']);
  });

  it('claims a batch per app, in order: gone, taken by another job, claimed', async () => {
    await registerConnectApp(h.ctx, 'claim-a', server.url('/a'));
    await registerConnectApp(h.ctx, 'claim-b', server.url('/b'));
    await h.ctx.apps.claimPolls('job-1', [{ appId: 'claim-a', slot: 7 }]);
    const res = await h.ctx.apps.claimPolls('job-2', [
      { appId: 'no-such-app', slot: 7 },
      { appId: 'claim-a', slot: 7 },
      { appId: 'claim-b', slot: 7 },
    ]);
    expect(res.map((r) => r.status)).toEqual(['gone', 'taken', 'claimed']);
    expect(res[1]).toEqual({ status: 'taken', owner: 'job-1' });
    expect(res[2]).toMatchObject({
      status: 'claimed',
      app: { id: 'claim-b', kind: 'connect', descriptorUrl: server.url('/b') },
    });
  });

  it('claims an app whatever its fields hold (absent, empty, a NUL written by another tool)', async () => {
    await registerConnectApp(h.ctx, 'claim-odd', server.url('/odd'));
    await registerConnectApp(h.ctx, 'claim-nul', server.url('/nul'));
    await h.connection.hset(h.ctx.keys.app('claim-odd'), 'etag', '', 'lastModified', 'Mon, 01 Jan 2024 00:00:00 GMT');
    await h.connection.hset(h.ctx.keys.app('claim-nul'), 'etag', 'W/"a\u0000b"');
    const [odd, nul] = await h.ctx.apps.claimPolls('job-odd', [
      { appId: 'claim-odd', slot: 3 },
      { appId: 'claim-nul', slot: 3 },
    ]);
    expect(odd).toEqual({
      status: 'claimed',
      app: {
        id: 'claim-odd',
        kind: 'connect',
        descriptorUrl: server.url('/odd'),
        etag: '',
        lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT',
      },
    });
    expect(nul).toEqual({
      status: 'claimed',
      app: { id: 'claim-nul', kind: 'connect', descriptorUrl: server.url('/nul'), etag: 'W/"a\u0000b"' },
    });
    // Both claims were written: another job is told who holds them.
    expect(await h.ctx.apps.claimPolls('job-other', [{ appId: 'claim-nul', slot: 3 }])).toEqual([
      { status: 'taken', owner: 'job-odd' },
    ]);
  });

  it('records a batch of polls without resurrecting an app removed in between', async () => {
    await registerConnectApp(h.ctx, 'rec-a', server.url('/ra'));
    await registerConnectApp(h.ctx, 'rec-b', server.url('/rb'));
    await h.connection.del(h.ctx.keys.app('rec-a'));
    // Asked for in the same turn: written by one script; the removed app's record says so.
    const [a] = await Promise.allSettled([
      h.ctx.apps.recordPollSuccess('rec-a', { at: 1, outcome: 'not-modified', httpStatus: 304 }),
      h.ctx.apps.recordPollFailure('rec-b', { at: 2, error: 'descriptor-fetch-failed: boom', httpStatus: 500 }),
    ]);
    expect(a).toMatchObject({ status: 'rejected', reason: { code: 'app-not-found' } });
    expect(await h.connection.exists(h.ctx.keys.app('rec-a'))).toBe(0);
    const b = await h.ctx.apps.requireApp('rec-b');
    expect(b).toMatchObject({
      status: 'failing',
      lastPollOutcome: 'failed',
      lastHttpStatus: 500,
      consecutiveFailures: 1,
      totalFailures: 1,
    });
    await h.ctx.apps.recordPollSuccess('rec-b', { at: 3, outcome: 'not-modified', httpStatus: 304 });
    expect(await h.ctx.apps.requireApp('rec-b')).toMatchObject({
      status: 'active',
      consecutiveFailures: 0,
      totalFailures: 1,
      lastPollAt: 3,
    });
  });

  it('records values as written, whatever they hold (a NUL, which cannot reach Redis in one argument, becomes U+FFFD)', async () => {
    await registerConnectApp(h.ctx, 'rec-odd', server.url('/odd'));
    const error = 'descriptor-invalid: key "a,b" at line 2,\n  column 3: éü 😀 \u0000 end';
    await h.ctx.apps.recordPollFailure('rec-odd', { at: 5, error });
    expect((await h.ctx.apps.requireApp('rec-odd')).lastError).toBe(error.replace('\u0000', '\uFFFD'));
    // A 200 whose validators hold separators of every kind keeps them exactly; a missing
    // Last-Modified is forgotten, the failure streak reset.
    const etag = 'W/"x,y\tz"';
    await h.ctx.apps.recordPollSuccess('rec-odd', {
      at: 6,
      outcome: 'changed',
      httpStatus: 200,
      etag,
      hash: 'sha256:00',
    });
    const app = await h.ctx.apps.requireApp('rec-odd');
    expect(app).toMatchObject({
      etag,
      lastSeenHash: 'sha256:00',
      status: 'active',
      consecutiveFailures: 0,
      totalFailures: 1,
      lastPollAt: 6,
    });
    expect(app.lastModified).toBeUndefined();
    expect(app.lastError).toBe(error.replace('\u0000', '\uFFFD'));
  });
});
