/**
 * One catalogue of coded errors (STYLE.md, "Error model"). Pure code returns results or throws
 * `AppError` with a code; each boundary translates once: workers (retryable or not), HTTP
 * (status), CLI (exit status).
 */
export const ErrorCode = {
  /** Bad upstream data (malformed JSON/YAML, schema error): permanent. */
  DESCRIPTOR_INVALID: 'descriptor-invalid',
  /** Network error, timeout, 5xx: retryable. */
  DESCRIPTOR_FETCH_FAILED: 'descriptor-fetch-failed',
  /** The fetcher refused the URL (port, private address, too many redirects, too large): permanent. */
  DESCRIPTOR_FETCH_REFUSED: 'descriptor-fetch-refused',
  APP_NOT_FOUND: 'app-not-found',
  APP_CONFLICT: 'app-conflict',
  INSTALLATION_NOT_FOUND: 'installation-not-found',
  VERSION_NOT_FOUND: 'version-not-found',
  ROLLOUT_NOT_FOUND: 'rollout-not-found',
  ROLLOUT_CONFLICT: 'rollout-conflict',
  BULK_UPGRADE_REFUSED: 'bulk-upgrade-refused',
  WEBHOOK_SIGNATURE_INVALID: 'webhook-signature-invalid',
  WEBHOOK_REPLAYED: 'webhook-replayed',
  PAYLOAD_INVALID: 'payload-invalid',
  CONFIG_INVALID: 'config-invalid',
  POLICY_INVALID: 'policy-invalid',
  INPUT_INVALID: 'input-invalid',
  STORE_UNAVAILABLE: 'store-unavailable',
  /** An admin notification (webhook) could not be delivered: retryable. */
  NOTIFY_FAILED: 'notify-failed',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Metadata carried by an AppError. `details` is safe to show to users and to log. */
export interface AppErrorMeta {
  retryable?: boolean;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** A coded, user-facing error. `retryable` tells workers whether BullMQ should try again. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly meta: AppErrorMeta = {},
  ) {
    super(message, { cause: meta.cause });
    this.name = 'AppError';
  }
  get retryable(): boolean {
    return this.meta.retryable ?? false;
  }
  get details(): Record<string, unknown> | undefined {
    return this.meta.details;
  }
}

/** True when `err` is an AppError with `code`. */
export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/** CLI exit statuses by error code (sysexits-style: 65 data error, 69 unavailable, 78 config). */
export function exitCodeFor(err: unknown): number {
  if (!(err instanceof AppError)) return 1;
  switch (err.code) {
    case ErrorCode.DESCRIPTOR_INVALID:
    case ErrorCode.PAYLOAD_INVALID:
    case ErrorCode.INPUT_INVALID:
      return 65;
    case ErrorCode.DESCRIPTOR_FETCH_FAILED:
    case ErrorCode.DESCRIPTOR_FETCH_REFUSED:
    case ErrorCode.STORE_UNAVAILABLE:
      return 69;
    case ErrorCode.CONFIG_INVALID:
    case ErrorCode.POLICY_INVALID:
      return 78;
    case ErrorCode.APP_NOT_FOUND:
    case ErrorCode.INSTALLATION_NOT_FOUND:
    case ErrorCode.VERSION_NOT_FOUND:
    case ErrorCode.ROLLOUT_NOT_FOUND:
      return 66;
    default:
      return 1;
  }
}
