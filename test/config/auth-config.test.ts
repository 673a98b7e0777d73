/** Security settings of `loadConfig`: named tokens, approval secret, public URL, limits; all problems at once. */
import { describe, expect, it } from 'vitest';
import { checkHttpConfig, loadConfig, parseTokens } from '../../src/config/config.js';
import { deriveApprovalSecret } from '../../src/lib/approval-link.js';
import type { AppError } from '../../src/lib/errors.js';

const T = 'x'.repeat(24);

function problems(env: Record<string, string>): { variable: string; problem: string }[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toMatchObject({ code: 'config-invalid' });
    return (err as AppError).details!.issues as { variable: string; problem: string }[];
  }
  throw new Error('loadConfig accepted it');
}

describe('security configuration', () => {
  it('parses named operator and viewer tokens', () => {
    const c = loadConfig({
      MPU_OPERATOR_TOKENS: `alice:${T}1, deploybot:${T}2`,
      MPU_VIEWER_TOKENS: `grafana:${T}3`,
    });
    expect(c.operatorTokens).toEqual([
      { name: 'alice', token: `${T}1` },
      { name: 'deploybot', token: `${T}2` },
    ]);
    expect(c.viewerTokens).toEqual([{ name: 'grafana', token: `${T}3` }]);
    expect(Object.isFrozen(c.operatorTokens)).toBe(true);
  });

  it('a token may contain ":" (split at the first)', () => {
    expect(parseTokens('V', `a:${T}:z`).tokens).toEqual([{ name: 'a', token: `${T}:z` }]);
  });

  it('reports every problem together, naming entries, never their tokens', () => {
    const issues = problems({
      MPU_OPERATOR_TOKENS: `alice:short,no-colon,bad name:${T},alice:${T}9`,
      MPU_VIEWER_TOKENS: `grafana:${T}9,`,
      MPU_ADMIN_TOKEN: T,
      MPU_APPROVAL_SECRET: 'short',
      MPU_PUBLIC_URL: 'ftp://x',
      MPU_APPROVAL_LINK_TTL: 'soon',
      MPU_DEPLOY_RATE_LIMIT: '0',
    });
    const text = issues.map((i) => `${i.variable}: ${i.problem}`).join('\n');
    expect(text).toContain("MPU_OPERATOR_TOKENS: 'alice': token has fewer than 24 characters");
    expect(text).toContain("MPU_OPERATOR_TOKENS: 'no-colon': write name:token");
    expect(text).toContain('MPU_OPERATOR_TOKENS: entry 3: name must be');
    expect(text).toContain('MPU_VIEWER_TOKENS: entry 2 is empty');
    expect(text).toMatch(/'grafana' reuses another entry's token/);
    expect(text).toMatch(/MPU_ADMIN_TOKEN: replaced by MPU_OPERATOR_TOKENS/);
    for (const v of ['MPU_APPROVAL_SECRET', 'MPU_PUBLIC_URL', 'MPU_APPROVAL_LINK_TTL', 'MPU_DEPLOY_RATE_LIMIT'])
      expect(text).toContain(v);
    expect(text).not.toContain(T);
  });

  it('duplicate names across roles are refused', () => {
    expect(problems({ MPU_OPERATOR_TOKENS: `a:${T}1`, MPU_VIEWER_TOKENS: `a:${T}2` })).toEqual([
      expect.objectContaining({ problem: "name 'a' is given twice (names must be unique)" }),
    ]);
  });

  it('approval secret: explicit, else derived from the webhook secret, else none; public URL and limits', () => {
    expect(loadConfig({}).approvalSecret).toBeUndefined();
    const derived = loadConfig({ MPU_WEBHOOK_SECRET: 'webhook-secret-0123456789' });
    expect(derived.approvalSecret).toBe(deriveApprovalSecret('webhook-secret-0123456789'));
    expect(derived.publicUrl).toBe('http://127.0.0.1:3000');
    expect(derived.approvalLinkTtlMs).toBe(7 * 86_400_000);
    expect(derived.rateLimit).toEqual({ deployMax: 120, approvalMax: 30, windowMs: 60_000 });
    expect(derived.auditMaxLen).toBe(100_000);
    const explicit = loadConfig({
      MPU_WEBHOOK_SECRET: 'webhook-secret-0123456789',
      MPU_APPROVAL_SECRET: 'approval-secret-0123456789',
      MPU_PUBLIC_URL: 'https://mpu.example.com/',
      MPU_APPROVAL_LINK_TTL: '2d',
      MPU_RATE_LIMIT_WINDOW: '10s',
    });
    expect(explicit.approvalSecret).toBe('approval-secret-0123456789');
    expect(explicit.publicUrl).toBe('https://mpu.example.com');
    expect(explicit.approvalLinkTtlMs).toBe(2 * 86_400_000);
    expect(explicit.rateLimit.windowMs).toBe(10_000);
  });

  it('checkHttpConfig: the HTTP API needs the webhook secret and an operator token, reported together', () => {
    expect(() => checkHttpConfig(loadConfig({}))).toThrow(/MPU_WEBHOOK_SECRET.*MPU_OPERATOR_TOKENS/);
    expect(() =>
      checkHttpConfig(loadConfig({ MPU_WEBHOOK_SECRET: 'webhook-secret-0123456789', MPU_OPERATOR_TOKENS: `a:${T}` })),
    ).not.toThrow();
  });
});
