/**
 * The CLI side of the audit trail (src/store/audit-store.ts): each state-changing command records
 * one entry, failed ones too, with actor `cli:<name>` (the `--actor` option, else the OS user),
 * a request id made here (`cli-<uuid>`) and the outcome (`ok`, or the error code). The CLI
 * writes to Redis directly, so its actor is what the person says: the trail is as trustworthy
 * as access to Redis.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Clock } from '../lib/clock.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { AuditAction, AuditStore, AuditTarget } from '../store/audit-store.js';

const ACTOR = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
let declaredActor: string | undefined;

/**
 * Sets the actor of this process's entries (`mpu --actor NAME`); undefined: the OS user.
 * @throws AppError input-invalid for a name that is not 1–64 letters, digits or `._@-`
 */
export function setCliActor(name: string | undefined): void {
  if (name !== undefined && !ACTOR.test(name))
    throw new AppError(
      ErrorCode.INPUT_INVALID,
      `--actor must be 1-64 letters, digits or ._@- characters (got '${name}')`,
    );
  declaredActor = name;
}

/** `cli:<--actor>` or `cli:<OS user>` (`cli:unknown` when the OS has no name for the user). */
export function cliActor(): string {
  if (declaredActor) return `cli:${declaredActor}`;
  try {
    return `cli:${userInfo().username || 'unknown'}`;
  } catch {
    return 'cli:unknown';
  }
}

/** What an audited command may say about itself while it runs. */
export interface AuditNote {
  /** What the action is about; fill it in as it becomes known. */
  target: AuditTarget;
  /** An outcome other than `ok` for a run that ends without an error (e.g. `cancelled`). */
  outcome?: string;
}

/**
 * Runs `fn` and records one entry of `action`: `ok` (or `note.outcome`), else the error's code
 * (`internal` for an unexpected error), which is then rethrown. A failed write of the entry is
 * reported on stderr and does not hide the command's own result.
 */
export async function audited<T>(
  deps: { audit: AuditStore; clock: Clock },
  action: AuditAction,
  target: AuditTarget,
  fn: (note: AuditNote) => Promise<T>,
): Promise<T> {
  const note: AuditNote = { target: { ...target } };
  let outcome = 'ok';
  try {
    const result = await fn(note);
    outcome = note.outcome ?? 'ok';
    return result;
  } catch (err) {
    outcome = err instanceof AppError ? err.code : 'internal';
    throw err;
  } finally {
    await deps.audit
      .record({
        actor: cliActor(),
        action,
        atMs: deps.clock.now(),
        target: note.target,
        requestId: `cli-${randomUUID()}`,
        outcome,
      })
      .catch((err: unknown) =>
        process.stderr.write(`mpu: audit entry not recorded: ${err instanceof Error ? err.message : String(err)}\n`),
      );
  }
}
