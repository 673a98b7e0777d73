import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookNotifier } from '../../src/notify/notifiers.js';

const notice = {
  appId: 'a',
  version: '1.1.0',
  at: 1,
  installations: [
    { id: 'i1', site: 's1', approvalUrl: 'https://mpu.example.com/v1/approval-links/i1?sig=x', approvalExpiresAt: 2 },
  ],
};

describe('WebhookNotifier', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function serve(statuses: number[]): Promise<{ url: string; bodies: unknown[] }> {
    const bodies: unknown[] = [];
    server = createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        bodies.push(JSON.parse(b));
        res.statusCode = statuses.shift() ?? 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/hook`, bodies };
  }

  it('retries 5xx and 429 with backoff, then succeeds', async () => {
    const { url, bodies } = await serve([503, 429, 200]);
    const sleeps: number[] = [];
    await new WebhookNotifier({ url, attempts: 3, backoffMs: 10, sleep: async (ms) => void sleeps.push(ms) }).notify(
      notice,
    );
    expect(bodies).toHaveLength(3);
    expect(bodies[0]).toMatchObject({
      type: 'update-available',
      appId: 'a',
      version: '1.1.0',
      installations: [{ id: 'i1' }],
    });
    expect(sleeps).toEqual([10, 20]);
  });

  it('gives up after its attempts with a retryable error (BullMQ retries the job)', async () => {
    const { url } = await serve([500, 500]);
    await expect(new WebhookNotifier({ url, attempts: 2, sleep: async () => {} }).notify(notice)).rejects.toMatchObject(
      { code: 'notify-failed', retryable: true },
    );
  });

  it('a 4xx refusal is not retried', async () => {
    const { url, bodies } = await serve([400]);
    await expect(new WebhookNotifier({ url, attempts: 3, sleep: async () => {} }).notify(notice)).rejects.toMatchObject(
      { code: 'notify-failed', retryable: false },
    );
    expect(bodies).toHaveLength(1);
  });

  it('an unreachable endpoint is retryable', async () => {
    await expect(
      new WebhookNotifier({ url: 'http://127.0.0.1:1/hook', attempts: 2, sleep: async () => {} }).notify(notice),
    ).rejects.toMatchObject({ code: 'notify-failed', retryable: true });
  });
});
