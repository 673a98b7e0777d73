/** Pure parts of detection: address policy, poll slots, deploy signatures, config. */
import { describe, expect, it } from 'vitest';
import { parseAllowList, refusedRange } from '../../src/poller/address-policy.js';
import { pollOffset, pollSlot } from '../../src/poller/poll-schedule.js';
import { checkSignature, signDeployEvent } from '../../src/poller/deploy-event.js';
import { loadConfig, parseDuration } from '../../src/config/config.js';
import { HOUR } from '../../src/lib/clock.js';
import { createKeys } from '../../src/store/keys.js';

describe('address policy', () => {
  const none = parseAllowList([]).list;
  it.each`
    address               | range
    ${'8.8.8.8'}          | ${null}
    ${'127.0.0.1'}        | ${'loopback'}
    ${'10.0.0.1'}         | ${'private'}
    ${'192.168.1.1'}      | ${'private'}
    ${'172.16.0.1'}       | ${'private'}
    ${'169.254.169.254'}  | ${'linkLocal'}
    ${'100.64.0.1'}       | ${'carrierGradeNat'}
    ${'0.0.0.0'}          | ${'unspecified'}
    ${'::1'}              | ${'loopback'}
    ${'fe80::1'}          | ${'linkLocal'}
    ${'fd00::1'}          | ${'uniqueLocal'}
    ${'::ffff:127.0.0.1'} | ${'loopback'}
    ${'2606:4700::1111'}  | ${null}
  `('$address → $range', ({ address, range }) => expect(refusedRange(address, none)).toBe(range));
  it('the allow-list permits exactly its ranges', () => {
    const { list, invalid } = parseAllowList(['127.0.0.1/32', '10.0.0.0/8', 'nonsense']);
    expect(invalid).toEqual(['nonsense']);
    expect(refusedRange('127.0.0.1', list)).toBeNull();
    expect(refusedRange('127.0.0.2', list)).toBe('loopback');
    expect(refusedRange('10.9.9.9', list)).toBeNull();
    expect(refusedRange('::ffff:10.1.1.1', list)).toBeNull();
  });
});

describe('poll slots (5 h, stable per-app offset)', () => {
  const I = 5 * HOUR;
  it('an app is due once per interval at a stable offset', () => {
    const t = Date.parse('2025-01-01T00:00:00Z');
    const s = pollSlot('app-a', t, I);
    expect(s.dueAt).toBeLessThanOrEqual(t);
    expect(s.nextDueAt - s.dueAt).toBe(I);
    expect(pollSlot('app-a', s.nextDueAt - 1, I).slot).toBe(s.slot);
    expect(pollSlot('app-a', s.nextDueAt, I).slot).toBe(s.slot + 1);
    expect(pollOffset('app-a', I)).toBe(pollOffset('app-a', I));
  });
  it('offsets spread apps evenly over the interval', () => {
    const buckets = new Array(5).fill(0);
    for (let i = 0; i < 5000; i++) buckets[Math.floor(pollOffset(`app-${i}`, I) / HOUR)]++;
    for (const n of buckets) expect(n).toBeGreaterThan(850);
  });
});

describe('deploy event signature', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  const ts = String(now / 1000);
  const sig = signDeployEvent('s3cret-s3cret-s3cret', ts, '{"a":1}');
  it.each`
    name               | secret                    | timestamp | body         | at               | problem
    ${'valid'}         | ${'s3cret-s3cret-s3cret'} | ${ts}     | ${'{"a":1}'} | ${now + 299_000} | ${null}
    ${'tampered body'} | ${'s3cret-s3cret-s3cret'} | ${ts}     | ${'{"a":2}'} | ${now}           | ${'signature does not match'}
    ${'wrong secret'}  | ${'other-secret-other-s'} | ${ts}     | ${'{"a":1}'} | ${now}           | ${'signature does not match'}
    ${'stale'}         | ${'s3cret-s3cret-s3cret'} | ${ts}     | ${'{"a":1}'} | ${now + 301_000} | ${'timestamp outside the 5-minute tolerance'}
    ${'bad timestamp'} | ${'s3cret-s3cret-s3cret'} | ${'soon'} | ${'{"a":1}'} | ${now}           | ${'x-mpu-timestamp must be epoch seconds'}
  `('$name', ({ secret, timestamp, body, at, problem }) => {
    expect(checkSignature(secret, { signature: sig, timestamp }, body, at)).toBe(problem);
  });
});

describe('config', () => {
  it('defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: 'mpu',
      port: 3000,
      pollIntervalMs: 5 * HOUR,
      pollBatchSize: 250,
    });
    expect(loadConfig({ MPU_POLL_BATCH_SIZE: '500' }).pollBatchSize).toBe(500);
    expect(c.adoptionWindowMs).toBe(120 * HOUR);
    expect(loadConfig({ MPU_ADOPTION_WINDOW: '48h' }).adoptionWindowMs).toBe(48 * HOUR);
    expect(() => loadConfig({ MPU_ADOPTION_WINDOW: 'soon' })).toThrow(/MPU_ADOPTION_WINDOW/);
    expect(() => loadConfig({ MPU_POLL_BATCH_SIZE: '0' })).toThrow(/MPU_POLL_BATCH_SIZE/);
    expect(c.fetch.allowedPorts).toEqual([80, 443, 8080]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(c.notifyWebhookUrl).toBeUndefined();
    expect(loadConfig({ MPU_NOTIFY_WEBHOOK_URL: 'https://hooks.example.com/mpu' }).notifyWebhookUrl).toBe(
      'https://hooks.example.com/mpu',
    );
  });
  it('reports every problem at once', () => {
    try {
      loadConfig({
        PORT: 'x',
        MPU_POLL_INTERVAL: 'often',
        MPU_FETCH_ALLOW_NETWORKS: '127.0.0.1/32,bogus',
        MPU_PREFIX: 'a:b',
        MPU_NOTIFY_WEBHOOK_URL: 'ftp://hooks.example.com',
      });
      expect.unreachable();
    } catch (err) {
      const issues = (err as { details: { issues: { variable: string }[] } }).details.issues
        .map((i) => i.variable)
        .sort();
      expect(issues).toEqual([
        'MPU_FETCH_ALLOW_NETWORKS',
        'MPU_NOTIFY_WEBHOOK_URL',
        'MPU_POLL_INTERVAL',
        'MPU_PREFIX',
        'PORT',
      ]);
    }
  });
  it('durations', () => {
    expect([
      parseDuration('5h'),
      parseDuration('30m'),
      parseDuration('250ms'),
      parseDuration('10'),
      parseDuration('x'),
    ]).toEqual([5 * HOUR, 1_800_000, 250, 10, null]);
  });
});

describe('keys', () => {
  it('keep every key of one app in one Redis Cluster slot (hash tag)', () => {
    const k = createKeys('mpu');
    const id = 'ari:cloud:ecosystem::app/0c8f2b7e-1d2a-4c3b-9e8f-123456789abc';
    for (const key of [
      k.app(id),
      k.versions(id),
      k.versionOrder(id),
      k.deployments(id),
      k.descriptor(id, 'sha256:00'),
    ]) {
      expect(/\{([^}]+)\}/.exec(key)?.[1]).toBe(id);
    }
  });
});
