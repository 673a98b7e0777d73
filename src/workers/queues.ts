/**
 * Queue names, job names and job payloads in one place (STYLE.md). Job data outlives deploys, so
 * each payload carries `v` and is parsed at the start of its processor. BullMQ job ids may not
 * contain `:` and may not be integers: build them with `jobIdPart`.
 */
import { z } from 'zod';

export const QueueName = {
  /** Connect descriptor polls: one job per app per due slot. */
  poll: 'descriptor-poll',
  /** Classify a detected descriptor/manifest and allocate its version. */
  version: 'versioning',
  /** Plan and drive the rollout of one version; upgrade batches. */
  rollout: 'rollout',
  /** Admin notifications for versions that need approval. */
  notify: 'notify',
} as const;

/** Job enqueued by the versioning worker once a version is stored: the rollout plans it. */
export const PlanRolloutJob = z.object({
  v: z.literal(1),
  appId: z.string().min(1),
  version: z.string().min(1),
});
export type PlanRolloutJob = z.infer<typeof PlanRolloutJob>;
export const PLAN_ROLLOUT_JOB_NAME = 'plan-rollout';

/**
 * Makes a string safe inside a BullMQ job id: letters, digits, `.`, `_` and `-` pass; any other
 * character becomes `~` + its hex code (`:` → `~3a`), so distinct inputs stay distinct.
 */
export function jobIdPart(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, (c) => `~${c.codePointAt(0)!.toString(16)}`);
}

/** Deterministic id: a second daemon's or a retry's enqueue of the same plan is a no-op. */
export const planRolloutJobId = (j: PlanRolloutJob): string => `plan__${jobIdPart(j.appId)}__${jobIdPart(j.version)}`;
