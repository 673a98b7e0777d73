/**
 * Two daemons on the same Redis: both schedulers tick, both run workers, both race to
 * version the same changes; every app still gets each version exactly once, in order.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { recordVersion } from '../../src/app/detection/record-version.js';
import { schedulerTick } from '../../src/workers/scheduler.js';
import { parseDescriptor } from '../../src/versioning/index.js';
import { VersionStore } from '../../src/store/version-store.js';
import { createKeys } from '../../src/store/keys.js';
import type { VersionRecord } from '../../src/store/types.js';
import {
  createHarness,
  localFetchPolicy,
  startLocalServer,
  type Harness,
  type LocalServer,
} from '../helpers/detection-harness.js';

const APPS = Array.from({ length: 20 }, (_, i) => `race-app-${i}`);
const descriptor = (key: string, rev: number) =>
  JSON.stringify({
    key,
    baseUrl: 'https://example.com',
    authentication: { type: 'jwt' },
    scopes: ['READ'],
    modules: { generalPages: [{ key: `p${rev}`, name: { value: `rev ${rev}` }, url: '/p' }] },
  });

describe('two daemons, one Redis', () => {
  let a: Harness;
  let b: Harness;
  let server: LocalServer;
  let rev = 0;
  /** Descriptor requests per app: one poll per app per slot. */
  const hits = new Map<string, number>();
  beforeEach(async () => {
    hits.clear();
    server = await startLocalServer((req, res) => {
      const key = (req.url ?? '/').slice(1);
      hits.set(key, (hits.get(key) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json' }).end(descriptor(key, rev));
    });
    a = await createHarness({
      workers: true,
      fetchPolicy: localFetchPolicy(server.port),
      settings: { pollIntervalMs: 5 * HOUR, pollConcurrency: 8 },
    });
    b = await createHarness({
      prefix: a.prefix,
      clock: a.clock,
      workers: true,
      cleanup: false,
      fetchPolicy: localFetchPolicy(server.port),
      settings: { pollIntervalMs: 5 * HOUR, pollConcurrency: 8 },
    });
  });
  afterEach(async () => {
    await b.close();
    await a.close();
    await server.close();
  });

  it('polling the same apps yields no duplicate version', async () => {
    for (const id of APPS) await registerConnectApp(a.ctx, id, server.url(`/${id}`));
    for (let cycle = 0; cycle < 3; cycle++) {
      rev = cycle;
      await Promise.all([schedulerTick(a.ctx), schedulerTick(b.ctx), schedulerTick(a.ctx), schedulerTick(b.ctx)]);
      await Promise.all([a.drain(), b.drain()]);
      a.clock.advance(5 * HOUR);
    }
    for (const id of APPS) {
      const versions = await a.ctx.versions.listVersions(id);
      expect(
        versions.map((v) => v.version),
        id,
      ).toEqual(['1.0.0', '1.0.1', '1.0.2']);
    }
    // One poll per app per slot, whichever daemon's chunk ran it (polls are chunked, see PollBatchJob).
    for (const id of APPS) expect(hits.get(id), id).toBe(3);
    expect(
      (await a.ctx.metrics.polls.get()).values.reduce((n, v) => n + v.value, 0) +
        (await b.ctx.metrics.polls.get()).values.reduce((n, v) => n + v.value, 0),
    ).toBe(APPS.length * 3);
    expect(await a.ctx.queues.poll.getJobCountByTypes('failed')).toBe(0);
  });

  it('racing versioning steps on the same change store one version', async () => {
    const id = APPS[0]!;
    await registerConnectApp(a.ctx, id, server.url(`/${id}`));
    await schedulerTick(a.ctx);
    await a.drain();
    rev = 1;
    // Both daemons fetched the same change; their versioning steps run at once, many times.
    const fetched = await a.ctx.fetcher.fetch(server.url(`/${id}`));
    if (fetched.status !== 'ok') throw new Error('expected a body');
    const parsed = parseDescriptor(fetched.body, { source: 'test', kind: 'connect' });
    await a.ctx.descriptors.saveDescriptor(id, parsed);
    const job = {
      v: 1 as const,
      appId: id,
      source: 'poll' as const,
      descriptorHash: parsed.hash,
      baseVersion: '1.0.0',
      detectedAt: a.clock.now(),
    };
    const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => recordVersion(i % 2 ? a.ctx : b.ctx, job)));
    expect(runs.filter((r) => r.status === 'created')).toHaveLength(1);
    expect(runs.filter((r) => r.status === 'unchanged')).toHaveLength(9);
    expect((await a.ctx.versions.listVersions(id)).map((v) => v.version)).toEqual(['1.0.0', '1.0.1']);
  });

  it('the store refuses a second version allocated against a stale latest (compare-and-append)', async () => {
    const store = new VersionStore(a.connection, createKeys(a.prefix));
    // Versions are stored for registered apps only (a removed app gets none).
    await a.ctx.apps.addConnectApp({
      id: 'cas-app',
      descriptorUrl: 'https://cas.example.com/atlassian-connect.json',
      now: 1,
    });
    const rec = (version: string, hash: string): VersionRecord => ({
      appId: 'cas-app',
      kind: 'connect',
      version,
      bump: 'micro',
      approval: 'automatic',
      reasons: [],
      warnings: [],
      descriptorHash: `sha256:${hash.repeat(64)}`,
      source: 'poll',
      detectedAt: 1,
    });
    const results = await Promise.all([
      store.storeVersion(rec('1.0.0', 'a'), null, '{}'),
      store.storeVersion(rec('1.0.0', 'b'), null, '{}'),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['conflict', 'created']);
    expect(await store.storeVersion(rec('1.0.1', 'c'), null)).toEqual({ status: 'conflict', latest: '1.0.0' });
    expect((await store.storeVersion(rec('1.0.1', 'c'), '1.0.0')).status).toBe('created');
    expect((await store.listVersions('cas-app')).map((v) => v.version)).toEqual(['1.0.0', '1.0.1']);
  });
});
