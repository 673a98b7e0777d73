/**
 * The descriptor fetcher against a local HTTP server (no Redis): what each answer becomes, what
 * the request carries, bodies split across chunks, redirects with bodies, large error pages,
 * 1xx answers, the total deadline, and connections kept alive across 200, 304 and redirects.
 * The poll fault matrix (poll-faults.redis.test.ts) covers the refusals and failures end to end.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DescriptorFetcher } from '../../src/poller/descriptor-fetcher.js';
import { localFetchPolicy, startLocalServer, type LocalServer } from '../helpers/detection-harness.js';

const BODY = JSON.stringify({ key: 'fetch-app', name: 'Fetch app – “ünïcode” ✓', baseUrl: 'https://example.com' });

type Route = (req: IncomingMessage, res: ServerResponse) => void;
const routes: Record<string, Route> = {
  '/d': (req, res) => {
    if (
      req.headers['if-none-match'] === '"v1"' ||
      req.headers['if-modified-since'] === 'Wed, 01 Jan 2025 00:00:00 GMT'
    ) {
      return void res.writeHead(304, { etag: '"v1"' }).end();
    }
    res
      .writeHead(200, {
        'content-type': 'application/json',
        etag: '"v1"',
        'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT',
      })
      .end(BODY);
  },
  // The body in 1-byte chunks: multi-byte characters arrive split.
  '/chunked': (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const bytes = Buffer.from(BODY, 'utf8');
    let i = 0;
    const next = () => {
      if (i >= bytes.length) return void res.end();
      res.write(bytes.subarray(i, i + 1), next);
      i++;
    };
    next();
  },
  '/moved': (_q, res) =>
    res.writeHead(301, { location: '/d', 'content-type': 'text/html' }).end('<a href="/d">moved</a>'.repeat(50)),
  '/big-error': (_q, res) => res.writeHead(500, { 'content-type': 'text/html' }).end(Buffer.alloc(1_048_576 * 2, 0x61)),
  '/early-hints': (_q, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(BODY);
  },
  '/never': () => {},
};

describe('DescriptorFetcher', () => {
  let server: LocalServer;
  let fetcher: DescriptorFetcher;
  const seen: IncomingMessage[] = [];
  beforeAll(async () => {
    server = await startLocalServer((req, res) => {
      seen.push(req);
      const route = routes[req.url ?? ''];
      if (route) route(req, res);
      else res.writeHead(404).end();
    });
    fetcher = new DescriptorFetcher(localFetchPolicy(server.port));
  });
  afterEach(() => void (seen.length = 0));
  afterAll(async () => {
    await fetcher.close();
    await server.close();
  });

  it('returns a 200 body with its validators, and sends the user agent and accept headers', async () => {
    const r = await fetcher.fetch(server.url('/d'));
    expect(r).toEqual({
      status: 'ok',
      httpStatus: 200,
      body: BODY,
      etag: '"v1"',
      lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT',
      finalUrl: server.url('/d'),
    });
    expect(seen[0]!.headers['user-agent']).toBe(fetcher.policy.userAgent);
    expect(seen[0]!.headers.accept).toMatch(/application\/json/);
    expect(seen[0]!.headers['if-none-match']).toBeUndefined();
  });

  it('sends If-None-Match and If-Modified-Since; a 304 is not-modified', async () => {
    expect(await fetcher.fetch(server.url('/d'), { etag: '"v1"' })).toEqual({
      status: 'not-modified',
      httpStatus: 304,
      finalUrl: server.url('/d'),
    });
    expect(await fetcher.fetch(server.url('/d'), { lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT' })).toMatchObject({
      status: 'not-modified',
    });
    expect(seen.map((q) => [q.headers['if-none-match'], q.headers['if-modified-since']])).toEqual([
      ['"v1"', undefined],
      [undefined, 'Wed, 01 Jan 2025 00:00:00 GMT'],
    ]);
  });

  it('decodes a body that arrives byte by byte, multi-byte characters split across chunks', async () => {
    const r = await fetcher.fetch(server.url('/chunked'));
    expect(r.status === 'ok' && r.body).toBe(BODY);
  });

  it('follows a redirect that has a body, relative Location, to the final URL', async () => {
    const r = await fetcher.fetch(server.url('/moved'), { etag: '"v1"' });
    expect(r).toEqual({ status: 'not-modified', httpStatus: 304, finalUrl: server.url('/d') });
    // The conditional headers go to every hop.
    expect(seen.map((q) => [q.url, q.headers['if-none-match']])).toEqual([
      ['/moved', '"v1"'],
      ['/d', '"v1"'],
    ]);
  });

  it('a 2 MiB error page fails with its status, and the fetcher keeps working', async () => {
    const err = await fetcher.fetch(server.url('/big-error')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'descriptor-fetch-failed', retryable: true });
    expect((err as Error).message).toMatch(/HTTP 500/);
    // The fetcher still works afterwards (the dropped connection is not reused).
    expect(await fetcher.fetch(server.url('/d'))).toMatchObject({ status: 'ok', body: BODY });
  });

  it('skips 1xx informational answers', async () => {
    const r = await fetcher.fetch(server.url('/early-hints'));
    expect(r).toMatchObject({ status: 'ok', httpStatus: 200, body: BODY });
  });

  it('a server that never answers fails at the total deadline, retryable', async () => {
    const quick = new DescriptorFetcher(localFetchPolicy(server.port, { totalTimeoutMs: 300 }));
    try {
      const t0 = performance.now();
      const err = await quick.fetch(server.url('/never')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'descriptor-fetch-failed', retryable: true });
      expect((err as Error).message).toMatch(/no complete answer within 300 ms/);
      expect(performance.now() - t0).toBeLessThan(5_000);
    } finally {
      await quick.close();
    }
  });

  it('keeps connections alive across 200s, 304s and redirects', async () => {
    const sockets = new Set<unknown>();
    const own = await startLocalServer((req, res) => {
      sockets.add(req.socket);
      (routes[req.url ?? ''] ?? ((_q, r) => r.writeHead(404).end()))(req, res);
    });
    const f = new DescriptorFetcher(localFetchPolicy(own.port));
    try {
      const round = async () => {
        await f.fetch(own.url('/d'));
        await f.fetch(own.url('/d'), { etag: '"v1"' });
        await f.fetch(own.url('/moved'));
      };
      // undici's pool may open a second connection while the first is new (seen with request()
      // too); from then on, no answer costs its connection.
      await round();
      const warm = sockets.size;
      expect(warm).toBeLessThanOrEqual(2);
      for (let i = 0; i < 5; i++) await round();
      expect(sockets.size).toBe(warm);
    } finally {
      await f.close();
      await own.close();
    }
  });
});
