/**
 * `mpu forge deploy`'s manners: a near-miss environment name (`prod`, `Production`) gets a
 * suggestion, since only `production` creates a version and anything else is accepted silently
 * by the daemon (Forge has custom environments); a refused signature is its own documented exit
 * status (77), whether the daemon names the code or a proxy in front of it answers a bare 401.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { suggestForgeEnvironment } from '../../src/cli/commands/apps.js';
import { sendDeployEvent } from '../../src/http/deploy-client.js';
import { exitCodeFor } from '../../src/lib/errors.js';

describe('suggestForgeEnvironment', () => {
  it.each`
    env              | meant
    ${'production'}  | ${null}
    ${'staging'}     | ${null}
    ${'development'} | ${null}
    ${'prod'}        | ${'production'}
    ${'Production'}  | ${'production'}
    ${'PRODUCTION'}  | ${'production'}
    ${'prodution'}   | ${'production'}
    ${'produc'}      | ${'production'}
    ${'stage'}       | ${'staging'}
    ${'Staging'}     | ${'staging'}
    ${'dev'}         | ${'development'}
    ${'my-sandbox'}  | ${null}
    ${'qa'}          | ${null}
  `('$env → $meant', ({ env, meant }: { env: string; meant: string | null }) => {
    expect(suggestForgeEnvironment(env)).toBe(meant);
  });
});

describe('sendDeployEvent: a refused signature', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** A daemon stand-in that answers every request with `status` and `body`. */
  async function answering(status: number, body: unknown): Promise<string> {
    server = createServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const event = {
    eventId: 'e1',
    appId: 'ari:cloud:ecosystem::app/0c8f2b7e-1d2a-4c3b-9e8f-123456789abc',
    environment: 'production',
    deploymentId: 'd1',
    manifest: 'app: {}\n',
    deployedAt: new Date(0).toISOString(),
  };

  it.each([
    ['the daemon names it', { error: { code: 'webhook-signature-invalid', message: 'signature does not match' } }],
    ['a bare 401 (a proxy, another auth layer)', { error: { code: 'proxy-auth-required', message: 'no' } }],
  ])('%s: webhook-signature-invalid, exit 77', async (_what, body) => {
    const url = await answering(401, body);
    const err = await sendDeployEvent(url, 'wrong-secret-0123456789', event, Date.now()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'webhook-signature-invalid' });
    expect(exitCodeFor(err)).toBe(77);
  });
});
