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
import type { AuditStore } from '../store/audit-store.js';
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
        target: req.auditTarget ?? {},
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
