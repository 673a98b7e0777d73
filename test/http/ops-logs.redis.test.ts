/**
 * Probes and scrapes do not fill the log: /healthz and /metrics request logs are debug lines
 * (shown with LOG_LEVEL=debug), other requests keep their info lines.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { asViewer, buildTestApp } from '../helpers/http.js';
import { createLogger } from '../../src/lib/logger.js';
import { createHarness, type Harness } from '../helpers/detection-harness.js';

describe('request logs of /healthz and /metrics', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** The `url`s of the request log lines written while `urls` are requested at log `level`. */
  async function requestLogs(level: string, urls: string[]): Promise<string[]> {
    h = await createHarness();
    const lines: { msg?: string; req?: { url?: string } }[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as (typeof lines)[0]);
        done();
      },
    });
    h.ctx.logger = createLogger({ level, destination });
    const { app } = await buildTestApp(h.ctx);
    try {
      for (const url of urls) await app.inject({ url, headers: asViewer });
    } finally {
      await app.close();
    }
    await new Promise((r) => setImmediate(r));
    return lines.filter((l) => l.msg === 'incoming request').map((l) => l.req?.url ?? '?');
  }

  it('at info: none for the probes, one for any other request', async () => {
    expect(await requestLogs('info', ['/healthz', '/metrics', '/healthz', '/v1/rollouts'])).toEqual(['/v1/rollouts']);
  });

  it('at debug: the probes are logged too', async () => {
    expect(await requestLogs('debug', ['/healthz', '/metrics'])).toEqual(['/healthz', '/metrics']);
  });
});
