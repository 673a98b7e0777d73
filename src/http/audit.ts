/**
 * The HTTP side of the audit trail: every route whose config names an `audit` action leaves one
 * entry per request in the audit stream (src/store/audit-store.ts), written in `onSend`, i.e.
 * before the answer leaves, so a client that got its answer finds the entry. Failed requests are
 * recorded with their error code, with two exceptions that no actor stands behind: a request
 * without valid credentials on a protected route (401: anyone could fill the trail with them) and
 * a rate-limited one (429: nothing was attempted).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../lib/clock.js';
import type { AuditStore, AuditTarget } from '../store/audit-store.js';
import { requiredAccess } from './auth.js';

/** Options of `installAudit`. */
export interface HttpAuditOptions {
  store: AuditStore;
  /** Clock of the entries' times (real time). */
  clock: Clock;
}

function actionOf(req: FastifyRequest) {
  const a = req.routeOptions.config.audit;
  return typeof a === 'function' ? a(req) : a;
}

/** What the URL names, for a request refused before its handler said more (a viewer's 403). */
function targetOfParams(req: FastifyRequest): AuditTarget {
  const p = (req.params ?? {}) as Record<string, string | undefined>;
  const t: AuditTarget = {};
  if (p.appId !== undefined) t.app = p.appId;
  if (p.version !== undefined) t.version = p.version;
  const installation = p.id ?? p.installationId;
  if (installation !== undefined) t.installation = installation;
  return t;
}

/** Installs the audit hook on `app` (after `installAuth`, before the routes). */
export function installAudit(app: FastifyInstance, opts: HttpAuditOptions): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const action = actionOf(req);
    if (!action) return payload;
    const status = reply.statusCode;
    if (status === 429 || (status === 401 && requiredAccess(req) !== 'public')) return payload;
    const outcome = status < 400 ? 'ok' : (req.errorCode ?? `http-${status}`);
    try {
      await opts.store.record({
        actor: req.actor,
        action,
        atMs: opts.clock.now(),
        target: req.auditTarget && Object.keys(req.auditTarget).length > 0 ? req.auditTarget : targetOfParams(req),
        requestId: String(req.id),
        outcome,
      });
    } catch (err) {
      // The action has happened (or failed) already: say loudly that its record is missing.
      req.log.error({ err, action, actor: req.actor, outcome }, 'audit: entry not recorded');
    }
    return payload;
  });
}
