import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Builds the pino logger. The destination is injectable so tests can read the logs; secrets
 * (webhook secrets, tokens, authorization headers) are redacted.
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream; name?: string } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'mpu',
      level: opts.level ?? 'info',
      redact: {
        paths: [
          'secret',
          '*.secret',
          'token',
          '*.token',
          'req.headers.authorization',
          'req.headers.cookie',
          'operatorTokens',
          'viewerTokens',
          'approvalSecret',
          'webhookSecret',
          '*.operatorTokens',
          '*.viewerTokens',
          '*.approvalSecret',
          '*.webhookSecret',
          'req.headers["x-mpu-signature"]',
        ],
        censor: '[redacted]',
      },
    },
    opts.destination ?? pino.destination(2),
  );
}

/** A logger that discards everything (tests, pure CLI commands). */
export const silentLogger: Logger = pino({ level: 'silent' });
