/**
 * Client side of the Forge deploy intake (`POST /v1/forge/deployments`): signs an event with the
 * shared secret (HMAC-SHA256 over `<timestamp>.<raw body>`) and sends it with undici. Used by
 * `mpu forge deploy` and the demo.
 */
import { request } from 'undici';
import { AppError, ErrorCode } from '../lib/errors.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signDeployEvent, type DeployEvent } from '../poller/deploy-event.js';

/** The daemon's answer: HTTP status and JSON body. */
export interface DeployAnswer {
  httpStatus: number;
  body: Record<string, unknown> & { status?: string; version?: string; error?: { code: string; message: string } };
}

/**
 * Sends `event` to the daemon at `baseUrl`, signed with `secret` and timestamped `now` (epoch ms,
 * sent as epoch seconds; the daemon accepts ±5 minutes of its own clock).
 * @throws AppError store-unavailable when no daemon answers; the event's refusal (4xx/5xx) is
 *   thrown as the daemon's error code (a refused signature: webhook-signature-invalid, exit 77).
 */
export async function sendDeployEvent(
  baseUrl: string,
  secret: string,
  event: DeployEvent,
  now: number,
): Promise<DeployAnswer> {
  const body = JSON.stringify(event);
  const timestamp = String(Math.floor(now / 1000));
  let res;
  try {
    res = await request(new URL('/v1/forge/deployments', baseUrl), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signDeployEvent(secret, timestamp, body),
      },
      body,
    });
  } catch (err) {
    throw new AppError(
      ErrorCode.STORE_UNAVAILABLE,
      `no daemon answers at ${baseUrl}: start one with 'mpu daemon' (${(err as Error).message})`,
      { retryable: true, cause: err },
    );
  }
  const answer = (await res.body.json().catch(() => ({}))) as DeployAnswer['body'];
  if (res.statusCode >= 400) {
    const code = answer.error?.code as ErrorCode | undefined;
    // A 401 without a code of ours (an authenticating proxy, say) is a refused signature too.
    const fallback = res.statusCode === 401 ? ErrorCode.WEBHOOK_SIGNATURE_INVALID : ErrorCode.PAYLOAD_INVALID;
    const known = code && (Object.values(ErrorCode) as string[]).includes(code) ? code : fallback;
    throw new AppError(known, `daemon refused the event (HTTP ${res.statusCode}): ${answer.error?.message ?? ''}`, {
      retryable: false,
      details: { httpStatus: res.statusCode },
    });
  }
  return { httpStatus: res.statusCode, body: answer };
}
