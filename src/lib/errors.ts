/**
 * One catalogue of coded errors (STYLE.md, "Error model"; modelled on Fastify's `lib/errors.js`,
 * where `createError(code, message, statusCode)` makes the status travel with the code). Pure
 * code returns results; use cases throw `AppError` with a code; each boundary translates once,
 * reading the code's entry in `ERROR_CATALOGUE`: workers (retry or not, `isRetryable`), HTTP
 * (status, `httpStatusFor`), CLI (exit status, `exitCodeFor`). README.md "Errors" lists the
 * catalogue; a test keeps the two equal.
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
  BULK_UPGRADE_NOT_FOUND: 'bulk-upgrade-not-found',
  WEBHOOK_SIGNATURE_INVALID: 'webhook-signature-invalid',
  WEBHOOK_REPLAYED: 'webhook-replayed',
  PAYLOAD_INVALID: 'payload-invalid',
  CONFIG_INVALID: 'config-invalid',
  POLICY_INVALID: 'policy-invalid',
  INPUT_INVALID: 'input-invalid',
  /** A command-line option's value, or a combination of options, that the command cannot run with. */
  USAGE_INVALID: 'usage-invalid',
  STORE_UNAVAILABLE: 'store-unavailable',
  /** An admin notification (webhook) could not be delivered: retryable. */
  NOTIFY_FAILED: 'notify-failed',
  /** No credentials, a wrong token, or a tampered or expired approval link. */
  UNAUTHORIZED: 'unauthorized',
  /** Authenticated, but the role (viewer) or the approval link does not allow this action. */
  FORBIDDEN: 'forbidden',
  /** An approval that would approve nothing: the version needs none, or the installation cannot take it. */
  APPROVAL_REFUSED: 'approval-refused',
  /** Too many requests from one client on a route reachable without an operator token. */
  RATE_LIMITED: 'rate-limited',
  /** No such site is registered (`mpu sites add`). */
  SITE_NOT_FOUND: 'site-not-found',
  /** Sharing by installation link cannot be enabled or changed in the app's state (seed 000). */
  SHARING_REFUSED: 'sharing-refused',
  /** An installation link that is stale (regenerated), stopped, or forged. */
  INSTALL_LINK_INVALID: 'install-link-invalid',
  /** The installer may not install here: not an admin of the link's product, or the site lacks a product. */
  INSTALL_REFUSED: 'install-refused',
  /** The Connect app's descriptor has `blockInstall: true` (seed 004). */
  INSTALL_BLOCKED: 'install-blocked',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What the catalogue says about one error code. */
export interface ErrorSpec {
  /** One line a user can read: what went wrong in general (the error's message says the specifics). */
  readonly description: string;
  /** HTTP status the API answers with when a request fails with this code. */
  readonly httpStatus: number;
  /**
   * `mpu` exit status, sysexits(3) style: 64 usage, 65 data, 66 not found, 69 unavailable, 75 temporary,
   * 77 permission denied, 78 config, 1 other.
   */
  readonly exitCode: number;
  /** Whether a worker retries it (BullMQ backoff), unless the thrower says otherwise (`AppErrorMeta.retryable`). */
  readonly retryable: boolean;
}

/** sysexits(3) statuses used by the catalogue. */
const EX = {
  FAILURE: 1,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  UNAVAILABLE: 69,
  TEMPFAIL: 75,
  NOPERM: 77,
  CONFIG: 78,
} as const;

// Who sees each status: 4xx blame the request, 5xx the daemon or what it depends on. The
// exit statuses of the codes that had one before the catalogue are kept (scripts test them).
const CATALOGUE = {
  [ErrorCode.DESCRIPTOR_INVALID]: {
    description: 'an app descriptor is malformed or breaks the descriptor schema',
    httpStatus: 422,
    exitCode: EX.DATAERR,
    retryable: false,
  },
  // 502: the daemon is a gateway to the vendor's server, which failed. Retried: network errors,
  // timeouts and 5xx pass; the fetcher marks an unexpected 4xx or a bad redirect permanent.
  [ErrorCode.DESCRIPTOR_FETCH_FAILED]: {
    description: "an app descriptor could not be fetched (network error, timeout or the server's error)",
    httpStatus: 502,
    exitCode: EX.UNAVAILABLE,
    retryable: true,
  },
  // 422: the URL the client gave is well formed but not one the fetcher may follow.
  [ErrorCode.DESCRIPTOR_FETCH_REFUSED]: {
    description: 'the descriptor URL is not allowed (scheme, port, non-public address, too many redirects, too large)',
    httpStatus: 422,
    exitCode: EX.UNAVAILABLE,
    retryable: false,
  },
  [ErrorCode.APP_NOT_FOUND]: {
    description: 'no such app is registered',
    httpStatus: 404,
    exitCode: EX.NOINPUT,
    retryable: false,
  },
  [ErrorCode.APP_CONFLICT]: {
    description: 'an app with this id is already registered',
    httpStatus: 409,
    exitCode: EX.FAILURE,
    retryable: false,
  },
  [ErrorCode.INSTALLATION_NOT_FOUND]: {
    description: 'no such installation is registered',
    httpStatus: 404,
    exitCode: EX.NOINPUT,
    retryable: false,
  },
  [ErrorCode.VERSION_NOT_FOUND]: {
    description: 'no such version of the app is stored',
    httpStatus: 404,
    exitCode: EX.NOINPUT,
    retryable: false,
  },
  [ErrorCode.ROLLOUT_NOT_FOUND]: {
    description: 'no such rollout exists',
    httpStatus: 404,
    exitCode: EX.NOINPUT,
    retryable: false,
  },
  // Not retried by default: a rollout in the wrong state stays so. Losers of an optimistic
  // update (another writer moved it meanwhile) are thrown with `retryable: true`.
  [ErrorCode.ROLLOUT_CONFLICT]: {
    description: "the rollout's state does not allow this action, or it changed meanwhile",
    httpStatus: 409,
    exitCode: EX.FAILURE,
    retryable: false,
  },
  [ErrorCode.BULK_UPGRADE_REFUSED]: {
    description: 'a bulk upgrade was refused in the current state',
    httpStatus: 409,
    exitCode: EX.FAILURE,
    retryable: false,
  },
  [ErrorCode.BULK_UPGRADE_NOT_FOUND]: {
    description: 'no such bulk upgrade exists (never started, or its record expired)',
    httpStatus: 404,
    exitCode: EX.NOINPUT,
    retryable: false,
  },
  [ErrorCode.WEBHOOK_SIGNATURE_INVALID]: {
    description: 'a deploy event is unsigned, wrongly signed or too old',
    httpStatus: 401,
    // EX_NOPERM: `mpu forge deploy` signed with another secret than the daemon's (or a clock
    // more than 5 minutes off), which a script should tell apart from other failures.
    exitCode: EX.NOPERM,
    retryable: false,
  },
  [ErrorCode.WEBHOOK_REPLAYED]: {
    description: 'a deploy event with this id was already received',
    httpStatus: 409,
    exitCode: EX.FAILURE,
    retryable: false,
  },
  [ErrorCode.PAYLOAD_INVALID]: {
    description: 'a request body or job payload is not valid',
    httpStatus: 400,
    exitCode: EX.DATAERR,
    retryable: false,
  },
  // 500: settings are the operator's, never a request's; a daemon with invalid settings does not
  // start, so a client seeing this code means the daemon, not the request, is at fault.
  [ErrorCode.CONFIG_INVALID]: {
    description: 'a setting (environment variable or option) is missing or invalid',
    httpStatus: 500,
    exitCode: EX.CONFIG,
    retryable: false,
  },
  // 422, like descriptor-invalid: a policy is a document checked against rules. The daemon checks
  // its own policies at start, so over HTTP this code can only be about a policy the request sent.
  [ErrorCode.POLICY_INVALID]: {
    description: 'a versioning or rollout policy is invalid',
    httpStatus: 422,
    exitCode: EX.CONFIG,
    retryable: false,
  },
  [ErrorCode.INPUT_INVALID]: {
    description: 'an argument, file or request field is invalid',
    httpStatus: 400,
    exitCode: EX.DATAERR,
    retryable: false,
  },
  // EX_USAGE: the command line itself is wrong (a value out of range for this run, options that
  // do not go together): found by the command once its options are parsed.
  [ErrorCode.USAGE_INVALID]: {
    description: 'a command-line option is invalid (its value, or its combination with others)',
    httpStatus: 400,
    exitCode: EX.USAGE,
    retryable: false,
  },
  [ErrorCode.STORE_UNAVAILABLE]: {
    description: 'Redis (or the daemon, for a client command) does not answer',
    httpStatus: 503,
    exitCode: EX.UNAVAILABLE,
    retryable: true,
  },
  // 502: the receiver of the notification failed, not the request.
  [ErrorCode.NOTIFY_FAILED]: {
    description: 'an admin notification could not be delivered',
    httpStatus: 502,
    exitCode: EX.TEMPFAIL,
    retryable: true,
  },
  // 401 answers carry `WWW-Authenticate: Bearer` (RFC 6750). Exit 1, as webhook-signature-invalid:
  // the CLI meets these only as a daemon's refusal.
  [ErrorCode.UNAUTHORIZED]: {
    description: 'no credentials, an unknown token, or a tampered or expired approval link',
    httpStatus: 401,
    exitCode: EX.FAILURE,
    retryable: false,
  },
  [ErrorCode.FORBIDDEN]: {
    description: "the credentials are valid but do not allow this action (a viewer's write)",
    httpStatus: 403,
    exitCode: EX.FAILURE,
    retryable: false,
  },
  // 409, like rollout-conflict: the request is well formed, the installation's state refuses it
  // (the version is automatic, already approved, or not newer than what it runs).
  [ErrorCode.APPROVAL_REFUSED]: {
    description: 'the approval would approve nothing: the version needs no approval or the installation cannot take it',
    httpStatus: 409,
    exitCode: EX.FAILURE,
    retryable: false,
  },
  // Retried: waiting `Retry-After` seconds is enough.
  [ErrorCode.RATE_LIMITED]: {
    description: 'too many requests from this client; retry after the seconds in Retry-After',
    httpStatus: 429,
    exitCode: EX.TEMPFAIL,
    retryable: true,
  },
  [ErrorCode.SITE_NOT_FOUND]: {
    description: 'no such site is registered',
    httpStatus: 404,
    exitCode: EX.NOINPUT,
    retryable: false,
  },
  // 409: the app's state (licensed, submitted for listing, no production version, sharing not on)
  // refuses the change; the same request may pass once the state changes.
  [ErrorCode.SHARING_REFUSED]: {
    description:
      "sharing by installation link is not possible in the app's state (licensed, listed, no production version, not shared)",
    httpStatus: 409,
    exitCode: EX.FAILURE,
    retryable: false,
  },
  // 403 and EX_NOPERM, as the installation refusals below: the link itself is the credential.
  [ErrorCode.INSTALL_LINK_INVALID]: {
    description: 'the installation link was replaced by a newer one, sharing was stopped, or the link is forged',
    httpStatus: 403,
    exitCode: EX.NOPERM,
    retryable: false,
  },
  [ErrorCode.INSTALL_REFUSED]: {
    description:
      "the installer is not an admin of the link's product on that site, the site lacks a product, or the app may not be installed by link",
    httpStatus: 403,
    exitCode: EX.NOPERM,
    retryable: false,
  },
  // Seed 004: the message is exactly "The app vendor has blocked addon {addon_key} from being installed."
  [ErrorCode.INSTALL_BLOCKED]: {
    description: "the Connect app's vendor blocks new installations (blockInstall in its descriptor)",
    httpStatus: 403,
    exitCode: EX.NOPERM,
    retryable: false,
  },
} as const satisfies Record<ErrorCode, ErrorSpec>;

/**
 * Every error code with its description, HTTP status, exit status and retry default. Frozen.
 * Source of truth for `httpStatusFor`, `exitCodeFor`, `AppError.retryable` and README.md "Errors".
 */
export const ERROR_CATALOGUE: Readonly<Record<ErrorCode, ErrorSpec>> = Object.freeze(CATALOGUE);
for (const spec of Object.values(CATALOGUE)) Object.freeze(spec);

/** What a code unknown to the catalogue (a string cast to ErrorCode) translates to: internal, not retried. */
const UNKNOWN: ErrorSpec = Object.freeze({
  description: 'internal error',
  httpStatus: 500,
  exitCode: EX.FAILURE,
  retryable: false,
});

/** The catalogue entry of `code`; a code not in the catalogue gets an internal error's: 500, exit 1, not retried. */
export function errorSpecFor(code: ErrorCode): ErrorSpec {
  return Object.hasOwn(ERROR_CATALOGUE, code) ? ERROR_CATALOGUE[code] : UNKNOWN;
}

/** Metadata carried by an AppError. `details` is safe to show to users and to log. */
export interface AppErrorMeta {
  /** Overrides the code's catalogue default (`ErrorSpec.retryable`) for this one error. */
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
  /** `meta.retryable` when the thrower set it, else the code's catalogue default. */
  get retryable(): boolean {
    return this.meta.retryable ?? errorSpecFor(this.code).retryable;
  }
  /** `meta.details`: safe to show to users and to log. */
  get details(): Record<string, unknown> | undefined {
    return this.meta.details;
  }
}

/** True when `err` is an AppError with `code`. */
export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

/** HTTP status of an error code (catalogue `httpStatus`; 500 for a code not in the catalogue). */
export function httpStatusFor(code: ErrorCode): number {
  return errorSpecFor(code).httpStatus;
}

/** CLI exit status of an error: its code's catalogue `exitCode` for an AppError, 1 for anything else. */
export function exitCodeFor(err: unknown): number {
  return err instanceof AppError ? errorSpecFor(err.code).exitCode : EX.FAILURE;
}

/**
 * Whether a worker should let BullMQ retry after `err` (the worker boundary's one question): an
 * AppError's `retryable`; anything else `true`, since an unexpected error (a Redis hiccup, say)
 * is retried with backoff until the job's attempts run out. BullMQ's own `UnrecoverableError`
 * is not recognised here: it is the translation's output and ends retries by itself.
 */
export function isRetryable(err: unknown): boolean {
  return err instanceof AppError ? err.retryable : true;
}
