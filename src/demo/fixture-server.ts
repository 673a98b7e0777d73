/**
 * A local HTTP server that plays vendors' descriptor hosts for the demo and tests: it serves each
 * Connect app's real descriptor history (../shared/fixtures/real), one version at a time, the
 * version changing on a schedule of the injected clock, with an ETag so unchanged polls get 304.
 * Listens on 127.0.0.1 only.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../lib/clock.js';

/** One app's history as served. */
export interface ServedHistory {
  /** URL path segment, e.g. `ticket-linter`. */
  name: string;
  /** Descriptor texts, oldest first. */
  versions: readonly string[];
  /** When each version starts being served (epoch ms of the clock); `changeAt[0]` is the start. */
  changeAt: readonly number[];
}

/** A running server. `url(name)` is an app's descriptor URL. */
export interface FixtureServer {
  readonly port: number;
  url(name: string): string;
  /** Index of the version served for `name` at clock time `now`. */
  servedIndex(name: string, now: number): number;
  /** Requests answered, by status. */
  readonly stats: { ok: number; notModified: number; notFound: number };
  close(): Promise<void>;
}

const etagOf = (text: string) => `"${createHash('sha256').update(text).digest('hex').slice(0, 16)}"`;

/** Starts the server on 127.0.0.1 (port 0: any free port). */
export async function startFixtureServer(
  histories: readonly ServedHistory[],
  clock: Clock,
  port = 0,
): Promise<FixtureServer> {
  const byName = new Map(histories.map((h) => [h.name, { ...h, etags: h.versions.map(etagOf) }]));
  const stats = { ok: 0, notModified: 0, notFound: 0 };
  const servedIndex = (name: string, now: number): number => {
    const h = byName.get(name);
    if (!h) return -1;
    let i = 0;
    while (i + 1 < h.changeAt.length && h.changeAt[i + 1]! <= now) i++;
    return i;
  };
  const server: Server = createServer((req, res) => {
    const m = /^\/connect\/([^/]+)\/atlassian-connect\.json$/.exec(req.url ?? '');
    const h = m ? byName.get(decodeURIComponent(m[1]!)) : undefined;
    if (!h) {
      stats.notFound++;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const i = servedIndex(h.name, clock.now());
    const etag = h.etags[i]!;
    if (req.headers['if-none-match'] === etag) {
      stats.notModified++;
      res.writeHead(304, { etag }).end();
      return;
    }
    stats.ok++;
    res.writeHead(200, { 'content-type': 'application/json', etag }).end(h.versions[i]);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: (name) => `http://127.0.0.1:${actual}/connect/${encodeURIComponent(name)}/atlassian-connect.json`,
    servedIndex,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
