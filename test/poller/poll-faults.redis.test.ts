/**
 * Fault matrix for polls: 500, timeout, slow body, invalid JSON, schema error, oversized
 * body (declared and chunked), redirect loop, redirect to a private address, loopback not in the
 * allow-list (checked after DNS), a disallowed port. Each: no version, the app shows the reason
 * and counts the failure; the worker keeps running and the next good poll works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pollApp } from '../../src/app/detection/poll-app.js';
import { DescriptorFetcher } from '../../src/poller/descriptor-fetcher.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { recordVersion } from '../../src/app/detection/record-version.js';
import { isAppError } from '../../src/lib/errors.js';
import { schedulerTick } from '../../src/workers/scheduler.js';
import {
  createHarness,
  localFetchPolicy,
  startLocalServer,
  type Harness,
  type LocalServer,
} from '../helpers/detection-harness.js';

const GOOD = JSON.stringify({
  key: 'fault-app',
  baseUrl: 'https://example.com',
  authentication: { type: 'jwt' },
  modules: {},
});

type Route = (req: IncomingMessage, res: ServerResponse, server: LocalServer) => void;
const routes: Record<string, Route> = {
  '/good': (_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end(GOOD),
  '/500': (_q, r) => r.writeHead(500).end('boom'),
  '/404': (_q, r) => r.writeHead(404).end('gone'),
  '/timeout': () => {}, // never answers
  '/slow-body': (_q, r) => {
    r.writeHead(200, { 'content-type': 'application/json' });
    r.write('{"key":"x",');
    const t = setInterval(() => r.write(' '), 100);
    r.on('close', () => clearInterval(t));
  },
  '/invalid-json': (_q, r) => r.writeHead(200).end('{"key": "x", '),
  '/schema-error': (_q, r) => r.writeHead(200).end('[1, 2, 3]'),
  // 3,000 levels (12 KB): deeper than MAX_DESCRIPTOR_DEPTH, and once deep enough to overflow the stack.
  '/too-deep': (_q, r) => r.writeHead(200).end(`{"key":"fault-app","x":${'{"":'.repeat(3000)}1${'}'.repeat(3000)}}`),
  '/oversized': (_q, r) =>
    r.writeHead(200, { 'content-length': String(2 * 1_048_576) }).end(Buffer.alloc(2 * 1_048_576, 32)),
  '/oversized-chunked': (_q, r) => {
    r.writeHead(200, { 'content-type': 'application/json' });
    for (let i = 0; i < 20; i++) r.write(Buffer.alloc(128 * 1024, 32));
    r.end();
  },
  '/loop': (_q, r) => r.writeHead(302, { location: '/loop' }).end(),
  '/to-private': (_q, r) => r.writeHead(302, { location: 'http://10.1.2.3/atlassian-connect.json' }).end(),
  '/to-link-local': (_q, r) => r.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data' }).end(),
  '/to-localhost': (_q, r, s) => r.writeHead(302, { location: `http://localhost:${s.port}/good` }).end(),
};

describe('poll fault matrix', () => {
  let h: Harness;
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer((req, res) => {
      const route = routes[(req.url ?? '').split('?')[0]!];
      if (route) route(req, res, server);
      else res.writeHead(404).end();
    });
    h = await createHarness({ workers: true, fetchPolicy: localFetchPolicy(server.port) });
  });
  afterAll(async () => {
    await h.close();
    await server.close();
  });

  async function appWithVersion(id: string, path: string): Promise<void> {
    await registerConnectApp(h.ctx, id, server.url('/good'));
    await pollApp({ ...h.ctx, enqueueVersion: async (j) => void (await recordVersion(h.ctx, j)) }, id);
    expect((await h.ctx.versions.listVersions(id)).map((v) => v.version)).toEqual(['1.0.0']);
    // Point the app at the faulty path (what a vendor's broken deploy looks like).
    await h.connection.hset(h.ctx.keys.app(id), 'descriptorUrl', /^[a-z]+:/.test(path) ? path : server.url(path));
  }

  it.each`
    path                      | code                          | reason
    ${'/500'}                 | ${'descriptor-fetch-failed'}  | ${/HTTP 500/}
    ${'/404'}                 | ${'descriptor-fetch-failed'}  | ${/HTTP 404/}
    ${'/timeout'}             | ${'descriptor-fetch-failed'}  | ${/no headers within|no complete answer/}
    ${'/slow-body'}           | ${'descriptor-fetch-failed'}  | ${/no complete answer within 1000 ms/}
    ${'/invalid-json'}        | ${'descriptor-invalid'}       | ${/./}
    ${'/schema-error'}        | ${'descriptor-invalid'}       | ${/./}
    ${'/too-deep'}            | ${'descriptor-invalid'}       | ${/nested deeper than 64 levels/}
    ${'/oversized'}           | ${'descriptor-fetch-refused'} | ${/exceeds 1048576/}
    ${'/oversized-chunked'}   | ${'descriptor-fetch-refused'} | ${/exceeds 1048576 bytes/}
    ${'/loop'}                | ${'descriptor-fetch-refused'} | ${/more than 3 redirects/}
    ${'/to-private'}          | ${'descriptor-fetch-refused'} | ${/10\.1\.2\.3 is a private address/}
    ${'/to-link-local'}       | ${'descriptor-fetch-refused'} | ${/169\.254\.169\.254 is a linkLocal address/}
    ${'http://127.0.0.1:9/x'} | ${'descriptor-fetch-refused'} | ${/port 9 is not allowed/}
    ${'ftp://127.0.0.1/x'}    | ${'descriptor-fetch-refused'} | ${/only http and https/}
  `(
    '$path → $code, no version, reason on the app',
    async ({ path, code, reason }: { path: string; code: string; reason: RegExp }) => {
      const id = `fault${path.replace(/[^a-z0-9]/gi, '-')}`;
      await appWithVersion(id, path);
      const err = await pollApp(
        { ...h.ctx, enqueueVersion: async (j) => void (await recordVersion(h.ctx, j)) },
        id,
      ).catch((e: unknown) => e);
      expect(isAppError(err), String(err)).toBe(true);
      expect((err as { code: string }).code).toBe(code);
      expect((await h.ctx.versions.listVersions(id)).map((v) => v.version)).toEqual(['1.0.0']);
      const app = await h.ctx.apps.requireApp(id);
      expect(app.status).toBe('failing');
      expect(app.lastPollOutcome).toBe('failed');
      expect(app.consecutiveFailures).toBe(1);
      expect(app.lastError).toMatch(new RegExp(`^${code}: `));
      expect(app.lastError).toMatch(reason);
    },
  );

  it('refuses a host name that resolves to loopback when the allow-list does not permit it', async () => {
    const strict = new DescriptorFetcher({ ...localFetchPolicy(server.port), allowList: [] });
    try {
      const err = await strict.fetch(`http://localhost:${server.port}/good`).catch((e: unknown) => e);
      expect((err as { code: string }).code).toBe('descriptor-fetch-refused');
      expect((err as Error).message).toMatch(/not a public address/);
      // …and a redirect to it from an allowed address is refused on that hop too.
      const err2 = await new DescriptorFetcher({ ...localFetchPolicy(server.port), allowList: [] })
        .fetch(`http://127.0.0.1:${server.port}/to-localhost`)
        .catch((e: unknown) => e);
      expect((err2 as { code: string }).code).toBe('descriptor-fetch-refused');
    } finally {
      await strict.close();
    }
  });

  it('through the worker: failures are retried and counted, the daemon keeps running, a good poll then succeeds', async () => {
    const id = 'fault-worker';
    await appWithVersion(id, '/500');
    const retrying = await createHarness({
      prefix: h.prefix,
      clock: h.clock,
      workers: true,
      cleanup: false,
      settings: { pollAttempts: 3, pollBackoffMs: 10 },
      fetchPolicy: localFetchPolicy(server.port),
    });
    try {
      await h.workers!.close(); // only the retrying daemon's workers run now
      await h.ctx.schedule.schedule(id, h.clock.now());
      await schedulerTick(retrying.ctx);
      await retrying.drain();
      let app = await h.ctx.apps.requireApp(id);
      expect(app.consecutiveFailures).toBe(3); // 3 attempts with backoff
      expect(app.lastError).toMatch(/HTTP 500/);
      expect(await h.ctx.versions.listVersions(id)).toHaveLength(1);
      // refused: not retried (UnrecoverableError)
      await h.connection.hset(h.ctx.keys.app(id), 'descriptorUrl', server.url('/loop'));
      await h.ctx.enqueuePoll({ v: 1, appId: id, slot: 'manual-1' });
      await retrying.drain();
      app = await h.ctx.apps.requireApp(id);
      expect(app.consecutiveFailures).toBe(4);
      expect(app.lastError).toMatch(/redirects/);
      // the vendor fixes the URL: the next poll succeeds, the streak resets
      await h.connection.hset(h.ctx.keys.app(id), 'descriptorUrl', server.url('/good'));
      await h.ctx.enqueuePoll({ v: 1, appId: id, slot: 'manual-2' });
      await retrying.drain();
      app = await h.ctx.apps.requireApp(id);
      expect(app).toMatchObject({
        status: 'active',
        consecutiveFailures: 0,
        totalFailures: 4,
        lastPollOutcome: 'unchanged',
      });
    } finally {
      await retrying.close();
    }
  });
});
