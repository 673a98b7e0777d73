/**
 * The HTTP boundary's one translation of errors (STYLE.md, "Error model"): an AppError answers
 * its code's catalogue status (`httpStatusFor`, src/lib/errors.ts), Fastify's own errors (413
 * body too large, 415, 400) keep theirs, a Redis connection error (`isConnectionError`) is a
 * retryable 503 `store-unavailable` with `retry-after`, anything else is a 500 that is logged.
 * A request that fails its route's zod schema is an `input-invalid` AppError, worded as the
 * routes word their own checks (`query: limit: Too big: …`).
 * Body: `{ error: { code, message, details } }`.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, type ZodFastifySchemaValidationError } from 'fastify-type-provider-zod';
import { AppError, ErrorCode, httpStatusFor } from '../lib/errors.js';
import { isConnectionError } from '../lib/log-errors.js';

/** Seconds a client is told to wait after a Redis outage answered a request with 503. */
const STORE_RETRY_AFTER_SECONDS = 5;

/** How a message names each part of the request. */
const PART_NAMES: Record<string, string> = { querystring: 'query', body: 'body', params: 'params', headers: 'headers' };

/**
 * The `input-invalid` error of a request that failed its route's zod schema: `<part>: <path>:
 * <problem>; …`, the path dotted, `(root)` for the part itself.
 */
export function schemaValidationError(issues: readonly ZodFastifySchemaValidationError[], part?: string): AppError {
  const problems = issues.map((i) => `${i.instancePath.slice(1).split('/').join('.') || '(root)'}: ${i.message}`);
  return new AppError(
    ErrorCode.INPUT_INVALID,
    `${PART_NAMES[part ?? ''] ?? part ?? 'request'}: ${problems.join('; ')}`,
  );
}

/** Installs the error handler on `app`. 5xx answers are logged at error level with their code. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((thrown: FastifyError | AppError | Error, req, reply) => {
    const err = hasZodFastifySchemaValidationErrors(thrown)
      ? schemaValidationError(thrown.validation, thrown.validationContext)
      : isConnectionError(thrown)
        ? new AppError(ErrorCode.STORE_UNAVAILABLE, `Redis does not answer: ${thrown.message}`, {
            retryable: true,
            details: { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS },
          })
        : thrown;
    if (err instanceof AppError) {
      req.errorCode = err.code;
      const status = httpStatusFor(err.code);
      if (status >= 500) req.log.error({ err, code: err.code }, 'request failed');
      // A refusal that says when to come back (a bulk upgrade's global limit: 1800 s).
      const retryAfter = err.details?.retryAfterSeconds;
      if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
      return reply.status(status).send({ error: { code: err.code, message: err.message, details: err.details ?? {} } });
    }
    const fe = err as FastifyError;
    req.errorCode = fe.code ?? (typeof fe.statusCode === 'number' && fe.statusCode < 500 ? 'bad-request' : 'internal');
    if (typeof fe.statusCode === 'number' && fe.statusCode < 500) {
      return reply
        .status(fe.statusCode)
        .send({ error: { code: fe.code ?? 'bad-request', message: fe.message, details: {} } });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'internal', message: 'internal error', details: {} } });
  });
}
