/**
 * Rollout policy: the timing rules of DESIGN.md "Rollout rules" [seed 003] as data, so an operator
 * can change them. `resolveRolloutPolicy` validates a partial policy once and freezes the result.
 */
import { z } from 'zod';
import { AppError, ErrorCode } from '../lib/errors.js';
import { DAY, HOUR, MINUTE, SECOND } from '../lib/clock.js';
import type { RolloutPolicy } from './types.js';

/** Defaults: 4 h maintenance cap, 24 h checks, Forge within 5 min [seed 003]; Connect to Forge within 120 h. */
export const DEFAULT_ROLLOUT_POLICY: Readonly<RolloutPolicy> = Object.freeze({
  maintenanceCapMs: 4 * HOUR,
  checkIntervalMs: DAY,
  connectBucketMs: 5 * MINUTE,
  forgeSpreadMs: 5 * MINUTE,
  forgeBucketMs: 15 * SECOND,
  adoptionWindowMs: 120 * HOUR,
  adoptionBucketMs: HOUR,
});

const PolicySchema = z.object({
  maintenanceCapMs: z.number().int().min(0).max(DAY),
  checkIntervalMs: z
    .number()
    .int()
    .min(MINUTE)
    .max(7 * DAY),
  connectBucketMs: z.number().int().min(SECOND).max(HOUR),
  forgeSpreadMs: z.number().int().min(0).max(DAY),
  forgeBucketMs: z.number().int().min(SECOND).max(HOUR),
  adoptionWindowMs: z
    .number()
    .int()
    .min(0)
    .max(30 * DAY),
  adoptionBucketMs: z.number().int().min(SECOND).max(DAY),
});

/**
 * Merges `partial` over the defaults and validates it.
 * @throws AppError `policy-invalid` listing every problem.
 */
export function resolveRolloutPolicy(partial: Partial<RolloutPolicy> = {}): Readonly<RolloutPolicy> {
  const r = PolicySchema.safeParse({ ...DEFAULT_ROLLOUT_POLICY, ...partial });
  if (!r.success) {
    throw new AppError(
      ErrorCode.POLICY_INVALID,
      'rollout policy invalid: ' + r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      {
        details: { issues: r.error.issues },
      },
    );
  }
  return Object.freeze(r.data);
}
