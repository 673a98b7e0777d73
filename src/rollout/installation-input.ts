/**
 * Validation of installations coming from outside (HTTP API, `mpu installations import` JSONL).
 * Bad input becomes an AppError `input-invalid` naming the line/field; nothing is half-stored.
 */
import { z } from 'zod';
import semver from 'semver';
import { DAY, MINUTE } from '../lib/clock.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import { hash32 } from './plan-rollout.js';
import type { Installation } from './types.js';
import { isValidTimeZone, parseLocalTime } from './windows.js';

const WindowsSchema = z.object({
  timeZone: z.string().default('UTC').refine(isValidTimeZone, { message: 'unknown IANA time zone' }),
  weekly: z
    .array(
      z.object({
        day: z.number().int().min(0).max(6),
        start: z.string().refine((s) => parseLocalTime(s) !== null, { message: 'expected HH:MM' }),
        minutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60),
      }),
    )
    .max(50)
    .default([]),
  adHoc: z
    .array(
      z
        .object({ start: z.number().int(), end: z.number().int() })
        .refine((w) => w.end > w.start, { message: 'end must be after start' }),
    )
    .max(50)
    .default([]),
});

/**
 * An installation as registered from outside. `checkOffsetMs` (ms after 00:00 UTC) or
 * `checkTime` (`HH:MM` UTC) sets its daily update check; when both are absent a stable one is
 * derived from its id.
 */
export const InstallationInput = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[^\s;|]+$/, 'no whitespace, ";" or "|"'),
  appId: z.string().min(1).max(200),
  site: z.string().min(1).max(253),
  products: z.array(z.string().min(1)).max(20).default([]),
  version: z.string().refine((v) => semver.valid(v) !== null, { message: 'expected a semver version such as 1.0.0' }),
  checkOffsetMs: z
    .number()
    .int()
    .min(0)
    .max(DAY - 1)
    .optional(),
  checkTime: z
    .string()
    .refine((s) => parseLocalTime(s) !== null, { message: 'expected HH:MM (UTC)' })
    .optional(),
  maintenance: WindowsSchema.nullable().optional(),
  /** Its admins' addresses: one notice each (absent: one per installation, to its site's admins). */
  admins: z
    .array(
      z
        .string()
        .min(1)
        .max(320)
        .regex(/^[^\s;|]+$/, 'no whitespace, ";" or "|"'),
    )
    .max(50)
    .optional(),
});
export type InstallationInput = z.input<typeof InstallationInput>;

/** A stable daily check time for `id` (whole minutes after 00:00 UTC). */
export function defaultCheckOffsetMs(id: string): number {
  return (hash32(id) % (DAY / MINUTE)) * MINUTE;
}

/**
 * Parses one installation.
 * @param where e.g. `line 12` or `body[3]`, named in the error
 * @throws AppError `input-invalid` with every issue in `details.issues`
 */
export function parseInstallationInput(raw: unknown, where = 'installation'): Installation {
  const r = InstallationInput.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new AppError(ErrorCode.INPUT_INVALID, `${where}: ${issues.join('; ')}`, { details: { where, issues } });
  }
  const d = r.data;
  const checkOffsetMs =
    d.checkOffsetMs ?? (d.checkTime !== undefined ? parseLocalTime(d.checkTime)! * MINUTE : defaultCheckOffsetMs(d.id));
  return {
    id: d.id,
    appId: d.appId,
    site: d.site,
    products: d.products,
    version: d.version,
    checkOffsetMs,
    maintenance: d.maintenance ?? null,
    ...(d.admins && d.admins.length > 0 ? { admins: [...new Set(d.admins)] } : {}),
  };
}
