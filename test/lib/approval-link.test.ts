/** Approval links, pure: sign, verify (tampered, expired, malformed), URL, derived secret. */
import { describe, expect, it } from 'vitest';
import {
  approvalUrl,
  deriveApprovalSecret,
  signApproval,
  verifyApproval,
  type SignedApproval,
} from '../../src/lib/approval-link.js';
import { createApprovalLinks } from '../../src/app/rollout/approval-links.js';

const SECRET = 'approval-secret-0123456789';
const NOW = Date.parse('2025-03-03T00:00:00Z');
const grant = { installationId: 'i1', appId: 'app', version: '2.0.0', expires: NOW / 1000 + 60 };

describe('approval links', () => {
  const link = signApproval(SECRET, grant);

  it('verifies until its expiry, to the millisecond', () => {
    expect(verifyApproval(SECRET, link, NOW)).toBeNull();
    expect(verifyApproval(SECRET, link, NOW + 60_000 - 1)).toBeNull();
    expect(verifyApproval(SECRET, link, NOW + 60_000)).toBe('expired');
  });

  it.each<[string, Partial<SignedApproval>]>([
    ['another installation', { installationId: 'i2' }],
    ['another app', { appId: 'other' }],
    ['another version', { version: '3.0.0' }],
    ['a later expiry', { expires: grant.expires + 86_400 }],
    ['another signature', { sig: signApproval('other-secret-0123456789', grant).sig }],
  ])('%s → tampered', (_name, change) => {
    expect(verifyApproval(SECRET, { ...link, ...change }, NOW)).toBe('tampered');
  });

  it('a forged, expired link is told it is tampered, not expired', () => {
    expect(verifyApproval(SECRET, { ...link, installationId: 'i2' }, NOW + DAY)).toBe('tampered');
  });

  it.each<[string, Partial<SignedApproval>]>([
    ['a short signature', { sig: 'abc' }],
    ['a non-integer expiry', { expires: 1.5 }],
    ['a NaN expiry', { expires: Number.NaN }],
  ])('%s → malformed', (_name, change) => {
    expect(verifyApproval(SECRET, { ...link, ...change }, NOW)).toBe('malformed');
  });

  it('ids with separators cannot be shifted between fields', () => {
    const a = signApproval(SECRET, { ...grant, installationId: 'a","b', appId: 'c' });
    expect(verifyApproval(SECRET, { ...a, installationId: 'a', appId: 'b","c' }, NOW)).toBe('tampered');
  });

  it('URL: encoded, under a base with a path', () => {
    const url = new URL(approvalUrl('https://mpu.example.com/ops/', { ...link, installationId: 'a/b c' }));
    expect(url.pathname).toBe('/ops/v1/approval-links/a%2Fb%20c');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      app: 'app',
      version: '2.0.0',
      expires: String(grant.expires),
      sig: link.sig,
    });
  });

  it('issuer: expiry now + TTL, rounded up to the second', () => {
    const links = createApprovalLinks({ secret: SECRET, baseUrl: 'http://127.0.0.1:3000', ttlMs: 7 * DAY });
    const issued = links.issue({ installationId: 'i1', appId: 'app', version: '2.0.0' }, NOW + 1);
    expect(issued.expiresAt).toBe(NOW + 7 * DAY + 1000);
    const q = new URL(issued.url).searchParams;
    const parsed = {
      installationId: 'i1',
      appId: 'app',
      version: '2.0.0',
      expires: Number(q.get('expires')),
      sig: q.get('sig')!,
    };
    expect(verifyApproval(SECRET, parsed, NOW + 7 * DAY)).toBeNull();
  });

  it('derived secret: stable, ≠ the webhook secret, differs per webhook secret', () => {
    const d = deriveApprovalSecret('webhook-secret-0123456789');
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect(deriveApprovalSecret('webhook-secret-0123456789')).toBe(d);
    expect(deriveApprovalSecret('webhook-secret-0123456780')).not.toBe(d);
  });
});

const DAY = 86_400_000;
