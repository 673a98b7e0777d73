/**
 * The HTTP boundary's one translation of errors (STYLE.md, "Error model"): AppError codes to
 * statuses, Fastify's own errors (413 body too large, 415, 400) kept, anything else a 500 that
 * is logged. Body: `{ error: { code, message, details } }`.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, ErrorCode, type ErrorCode as Code } from '../lib/errors.js';

const STATUS: Partial<Record<Code, number>> = {
  [ErrorCode.DESCRIPTOR_INVALID]: 422,
  [ErrorCode.PAYLOAD_INVALID]: 400,
  [ErrorCode.INPUT_INVALID]: 400,
  [ErrorCode.WEBHOOK_SIGNATURE_INVALID]: 401,
  [ErrorCode.WEBHOOK_REPLAYED]: 409,
  [ErrorCode.APP_CONFLICT]: 409,
  [ErrorCode.ROLLOUT_CONFLICT]: 409,
  [ErrorCode.APP_NOT_FOUND]: 404,
  [ErrorCode.VERSION_NOT_FOUND]: 404,
  [ErrorCode.INSTALLATION_NOT_FOUND]: 404,
  [ErrorCode.ROLLOUT_NOT_FOUND]: 404,
  [ErrorCode.STORE_UNAVAILABLE]: 503,
};

/** HTTP status of an AppError code. */
export function statusFor(code: Code): number {
  return STATUS[code] ?? 500;
}

/** Installs the error handler on `app`. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (err instanceof AppError) {
      const status = statusFor(err.code);
      if (status >= 500) req.log.error({ err, code: err.code }, 'request failed');
      return reply.status(status).send({ error: { code: err.code, message: err.message, details: err.details ?? {} } });
    }
    const fe = err as FastifyError;
    if (typeof fe.statusCode === 'number' && fe.statusCode < 500) {
      return reply.status(fe.statusCode).send({ error: { code: fe.code ?? 'bad-request', message: fe.message, details: {} } });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'internal', message: 'internal error', details: {} } });
  });
}
