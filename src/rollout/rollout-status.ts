/**
 * The rollout status state machine, pure (no I/O): which status an operator action or the end
 * of planning leads to. The rollout store applies the result atomically as a compare-and-set
 * (src/store/rollout-store.ts, scripts setRolloutStatus-1.lua and finishPlanning-2.lua).
 *
 * Lifecycle (the rollout store's, behind DESIGN.md "Rollout rules": automatic changes roll out
 * on their own, manual ones wait for admins' approvals):
 * - `planning` → `scheduled` (automatic approval) or `awaiting-approval` (manual) when the plan
 *   ends (`completePlanning`);
 * - an operator may `pause` a rollout that is not halted (→ `paused`, remembering the status to
 *   resume to), `resume` a paused one (→ the remembered status, `scheduled` when none is
 *   remembered) and `halt` any (→ `halted`, final: pending upgrade batches do nothing);
 * - "complete" is not a status: it is read off the version distribution (`progressOf` in the
 *   rollout store).
 */

/** A rollout's stored status (see the module documentation for the lifecycle). */
export type RolloutStatus = 'planning' | 'scheduled' | 'awaiting-approval' | 'paused' | 'halted';

/** What the state machine reads and writes of a rollout. */
export interface RolloutStatusState {
  status: RolloutStatus;
  /** The status `resume` returns to; set only while `paused`, else null. */
  resumeTo: RolloutStatus | null;
}

/** An operator's action on a rollout (`mpu rollouts pause|resume|halt`, the operator API). */
export type RolloutAction = 'pause' | 'resume' | 'halt';

/** The outcome of `transitionRollout`. */
export type RolloutTransition =
  /** Allowed: `next` is the state to store; `changed` is false when it equals the current one. */
  | { ok: true; next: RolloutStatusState; changed: boolean }
  /** Refused: the action does not apply to a rollout in `status` (a halted rollout). */
  | { ok: false; reason: 'conflict'; status: RolloutStatus };

/** The status `resume` returns to when a paused rollout remembers none. */
export const DEFAULT_RESUME_STATUS: RolloutStatus = 'scheduled';

const same = (a: RolloutStatusState, b: RolloutStatusState): boolean =>
  a.status === b.status && a.resumeTo === b.resumeTo;

const allowed = (current: RolloutStatusState, next: RolloutStatusState): RolloutTransition => ({
  ok: true,
  next,
  changed: !same(current, next),
});

/**
 * The state after an operator's `action` on a rollout in `current` (see the module
 * documentation for the lifecycle):
 * - `pause`: a paused rollout stays as it is; a halted one is a conflict; any other becomes
 *   `paused` and remembers its status in `resumeTo`;
 * - `resume`: a paused rollout returns to `resumeTo` (`DEFAULT_RESUME_STATUS` when none) and
 *   forgets it; a halted one is a conflict; any other stays as it is (resuming a running
 *   rollout is harmless);
 * - `halt`: always `halted` with no `resumeTo` (halting twice is harmless).
 * Pure.
 */
export function transitionRollout(current: RolloutStatusState, action: RolloutAction): RolloutTransition {
  const { status } = current;
  switch (action) {
    case 'pause':
      if (status === 'halted') return { ok: false, reason: 'conflict', status };
      if (status === 'paused') return allowed(current, current);
      return allowed(current, { status: 'paused', resumeTo: status });
    case 'resume':
      if (status === 'halted') return { ok: false, reason: 'conflict', status };
      if (status !== 'paused') return allowed(current, current);
      return allowed(current, { status: current.resumeTo ?? DEFAULT_RESUME_STATUS, resumeTo: null });
    case 'halt':
      return allowed(current, { status: 'halted', resumeTo: null });
  }
}

/**
 * The state of a rollout in `current` once its plan ends with `planned` (`scheduled` for an
 * automatic change, `awaiting-approval` for a manual one): a rollout still `planning` takes
 * `planned`; a paused one stays paused and resumes to `planned`; any other keeps its state (a
 * halt that came meanwhile wins, and a plan run again after it ended changes nothing).
 * Pure.
 */
export function completePlanning(current: RolloutStatusState, planned: RolloutStatus): RolloutStatusState {
  if (current.status === 'planning') return { status: planned, resumeTo: current.resumeTo };
  if (current.status === 'paused') return { status: 'paused', resumeTo: planned };
  return current;
}
