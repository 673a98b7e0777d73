/**
 * The HTTP boundary's one translation of errors (STYLE.md, "Error model"): an AppError answers
 * its code's catalogue status (`httpStatusFor`, src/lib/errors.ts), Fastify's own errors (413
 * body too large, 415, 400) keep theirs, anything else is a 500 that is logged.
 * Body: `{ error: { code, message, details } }`.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, httpStatusFor } from '../lib/errors.js';

/** Installs the error handler on `app`. 5xx answers are logged at error level with their code. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (err instanceof AppError) {
      req.errorCode = err.code;
      const status = httpStatusFor(err.code);
      if (status >= 500) req.log.error({ err, code: err.code }, 'request failed');
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
