/**
 * The approval-link port: the notify step asks it for one signed, expiring link per installation
 * (src/lib/approval-link.ts signs), so the admin who receives the "update available" notice can
 * approve that installation up to that version without an operator token.
 */
import { approvalUrl, signApproval } from '../../lib/approval-link.js';

/** One issued link. */
export interface IssuedApprovalLink {
  url: string;
  /** Expiry, epoch ms. */
  expiresAt: number;
}

/** Issues approval links. */
export interface ApprovalLinks {
  /** A link approving `installationId` of `appId` up to `version`, valid from `now` (epoch ms) for the TTL. */
  issue(grant: { installationId: string; appId: string; version: string }, now: number): IssuedApprovalLink;
}

/** Options of `createApprovalLinks`. */
export interface ApprovalLinkOptions {
  /** HMAC secret (MPU_APPROVAL_SECRET, or derived from the webhook secret). */
  secret: string;
  /** Base URL the links point at (MPU_PUBLIC_URL). */
  baseUrl: string;
  /** Validity, ms (MPU_APPROVAL_LINK_TTL). @defaultValue 7 days */
  ttlMs?: number;
}

/** Signs links with `opts.secret`, valid for `opts.ttlMs` (rounded up to the second). */
export function createApprovalLinks(opts: ApprovalLinkOptions): ApprovalLinks {
  const ttlMs = opts.ttlMs ?? 7 * 86_400_000;
  return {
    issue(grant, now) {
      const expires = Math.ceil((now + ttlMs) / 1000);
      const link = signApproval(opts.secret, { ...grant, expires });
      return { url: approvalUrl(opts.baseUrl, link), expiresAt: expires * 1000 };
    },
  };
}
