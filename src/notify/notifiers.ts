/**
 * The HTTP adapter of the `Notifier` port (src/app/rollout/notifier.ts): "update available"
 * notices POSTed to a webhook (DESIGN.md "Rollout rules": "its admins are emailed"). It retries
 * itself, then lets BullMQ retry the notify job.
 */
import { request } from 'undici';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { Notifier, RolloutNotice, UpdateAvailableNotice } from '../app/rollout/notifier.js';

/** Options of `WebhookNotifier`. */
export interface WebhookNotifierOptions {
  /** Endpoint receiving `POST` JSON `UpdateAvailableNotice`. */
  url: string;
  /** Tries per notice before giving up (then BullMQ retries the job). @defaultValue 3 */
  attempts?: number;
  /** First retry delay, doubled each time, ms. @defaultValue 200 */
  backoffMs?: number;
  /** Per-request timeout, ms. @defaultValue 5000 */
  timeoutMs?: number;
  /** Extra headers (e.g. authorization). */
  headers?: Record<string, string>;
  /** Injected sleep (tests). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * POSTs each notice as JSON. 2xx is success; 408, 429 and 5xx and network errors are retried
 * with exponential backoff; other 4xx fail at once (non-retryable: the receiver refused it).
 */
export class WebhookNotifier implements Notifier {
  private readonly o: Required<Omit<WebhookNotifierOptions, 'headers'>> & { headers: Record<string, string> };
  constructor(opts: WebhookNotifierOptions) {
    this.o = {
      url: opts.url,
      attempts: opts.attempts ?? 3,
      backoffMs: opts.backoffMs ?? 200,
      timeoutMs: opts.timeoutMs ?? 5000,
      headers: opts.headers ?? {},
      sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
  }

  async notify(n: UpdateAvailableNotice): Promise<void> {
    await this.post({ type: 'update-available', ...n });
  }

  /** POSTs `{ type: 'rollout-paused' | 'rollout-resumed', appId, version, at, reason }`. */
  async rolloutNotice(n: RolloutNotice): Promise<void> {
    await this.post({ ...n });
  }

  private async post(body: object): Promise<void> {
    let last: unknown;
    for (let attempt = 1; attempt <= this.o.attempts; attempt++) {
      try {
        const res = await request(this.o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...this.o.headers },
          body: JSON.stringify(body),
          headersTimeout: this.o.timeoutMs,
          bodyTimeout: this.o.timeoutMs,
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) return;
        const retryable = res.statusCode === 408 || res.statusCode === 429 || res.statusCode >= 500;
        last = new AppError(ErrorCode.NOTIFY_FAILED, `notification webhook answered ${res.statusCode}`, {
          retryable,
          details: { status: res.statusCode },
        });
        if (!retryable) throw last;
      } catch (err) {
        if (err instanceof AppError && !err.retryable) throw err;
        last = err;
      }
      if (attempt < this.o.attempts) await this.o.sleep(this.o.backoffMs * 2 ** (attempt - 1));
    }
    if (last instanceof AppError) throw last;
    throw new AppError(
      ErrorCode.NOTIFY_FAILED,
      `notification webhook unreachable: ${String((last as Error)?.message ?? last)}`,
      { retryable: true, cause: last },
    );
  }
}
