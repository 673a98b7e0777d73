/**
 * Fetches Connect descriptors with `undici`, safely (DESIGN.md "Detection rules"):
 * connect/header/body timeouts and a total deadline, a body cap, at most N redirects followed by
 * hand, conditional requests (ETag / Last-Modified → 304), ports from an allow-list, and refusal
 * of non-public addresses on every hop, checked after DNS resolution inside the connector (so a
 * DNS answer that changes between check and connect cannot slip through).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, type Dispatcher } from 'undici';
import { AppError, ErrorCode } from '../lib/errors.js';
import { DEFAULT_ALLOWED_PORTS, effectivePort, isIpLiteral, refusedRange, type AllowList } from './address-policy.js';

/** Limits of one fetch. Times in ms, sizes in bytes. */
export interface FetchPolicy {
  /** @defaultValue [80, 443, 8080] */
  allowedPorts: readonly number[];
  /** Non-public ranges that may be reached anyway (tests, local runs). @defaultValue [] */
  allowList: AllowList;
  /** @defaultValue 1 MiB (1_048_576) */
  maxBytes: number;
  /** @defaultValue 3 */
  maxRedirects: number;
  /** @defaultValue 5_000 */
  connectTimeoutMs: number;
  /** Time to the response headers. @defaultValue 10_000 */
  headersTimeoutMs: number;
  /** Longest pause between body chunks. @defaultValue 10_000 */
  bodyTimeoutMs: number;
  /**
   * Whole fetch, all hops and the body included (catches slow-drip bodies): each hop's wait for
   * headers is capped by the time left and the body is cut off when it runs out. A new
   * connection's attempt is bounded by `connectTimeoutMs` on its own. @defaultValue 30_000
   */
  totalTimeoutMs: number;
  /** @defaultValue 'marketplace-updater/0.1 (descriptor poller)' */
  userAgent: string;
}

export const DEFAULT_FETCH_POLICY: FetchPolicy = Object.freeze({
  allowedPorts: DEFAULT_ALLOWED_PORTS,
  allowList: [],
  maxBytes: 1_048_576,
  maxRedirects: 3,
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  totalTimeoutMs: 30_000,
  userAgent: 'marketplace-updater/0.1 (descriptor poller)',
});

/** Validators of the last response, sent as If-None-Match / If-Modified-Since. */
export interface ConditionalHeaders {
  etag?: string;
  lastModified?: string;
}

/** A fetch that reached a final answer. */
export type FetchResult =
  | { status: 'not-modified'; httpStatus: 304; finalUrl: string }
  | { status: 'ok'; httpStatus: 200; body: string; etag?: string; lastModified?: string; finalUrl: string };

const REFUSED_CODE = 'MPU_ADDRESS_REFUSED';
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Bytes of a non-200 body (redirect, error page) read and dropped before its connection is dropped instead. */
const DISCARD_LIMIT = 128 * 1024;

function refused(message: string, details: Record<string, unknown>): AppError {
  return new AppError(ErrorCode.DESCRIPTOR_FETCH_REFUSED, message, { retryable: false, details });
}

/**
 * One fetcher per process: it owns a pooled undici Agent whose connector only connects to
 * allowed addresses. Call `close()` on shutdown.
 */
export class DescriptorFetcher {
  readonly policy: FetchPolicy;
  private readonly agent: Agent;
  /**
   * Host → refused range of an IP literal (null = allowed, or a name: names are checked after
   * DNS, in the connector). A pure function of the host and this fetcher's fixed allow-list,
   * memoised (address parsing is a measurable share of a poll: docs/performance.md); bounded.
   */
  private readonly literalRanges = new Map<string, string | null>();

  constructor(policy: Partial<FetchPolicy> = {}) {
    // Frozen: the memoised address checks below depend on it staying as constructed.
    this.policy = Object.freeze({ ...DEFAULT_FETCH_POLICY, ...policy });
    const allow = this.policy.allowList;
    // Called by net.connect for host names (never for IP literals, which `fetch` checks itself).
    const lookup = (
      hostname: string,
      options: LookupOptions,
      callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
    ): void => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, '');
        const ok = addresses.filter((a) => refusedRange(a.address, allow) === null);
        if (ok.length === 0) {
          const e: NodeJS.ErrnoException = new Error(
            `${hostname} resolves to ${addresses.map((a) => `${a.address} (${refusedRange(a.address, allow)})`).join(', ')}: not a public address`,
          );
          e.code = REFUSED_CODE;
          return callback(e, '');
        }
        if (options.all) callback(null, ok);
        else callback(null, ok[0]!.address, ok[0]!.family);
      });
    };
    this.agent = new Agent({
      connect: { timeout: this.policy.connectTimeoutMs, lookup: lookup as never },
      headersTimeout: this.policy.headersTimeoutMs,
      bodyTimeout: this.policy.bodyTimeoutMs,
      keepAliveTimeout: 10_000,
    });
  }

  /** Refuses a URL before any connection: scheme, port, IP literal. @throws AppError descriptor-fetch-refused */
  checkUrl(url: URL, original: string): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw refused(`refused ${url.href}: only http and https are fetched`, { url: original, hop: url.href });
    }
    const port = effectivePort(url);
    if (!this.policy.allowedPorts.includes(port)) {
      throw refused(
        `refused ${url.href}: port ${port} is not allowed (allowed: ${this.policy.allowedPorts.join(', ')})`,
        {
          url: original,
          hop: url.href,
          port,
        },
      );
    }
    let range = this.literalRanges.get(url.hostname);
    if (range === undefined) {
      range = isIpLiteral(url.hostname) ? refusedRange(url.hostname, this.policy.allowList) : null;
      if (this.literalRanges.size >= 10_000) this.literalRanges.clear();
      this.literalRanges.set(url.hostname, range);
    }
    if (range !== null) {
      throw refused(`refused ${url.href}: ${url.hostname} is a ${range} address`, {
        url: original,
        hop: url.href,
        range,
      });
    }
  }

  /**
   * Fetches `url`, following at most `maxRedirects` redirects, each hop checked.
   * @returns `not-modified` on 304, else the body (UTF-8) and the new validators.
   * @throws AppError descriptor-fetch-refused (not retryable): bad scheme/port, non-public
   *   address, too many redirects, body over `maxBytes`.
   * @throws AppError descriptor-fetch-failed: network error or timeout (retryable), status
   *   ≥ 500 / 408 / 429 (retryable), other unexpected status (not retryable).
   */
  async fetch(url: string, cond: ConditionalHeaders = {}): Promise<FetchResult> {
    let hop: URL;
    try {
      hop = new URL(url);
    } catch {
      throw refused(`refused '${url}': not a URL`, { url });
    }
    // The whole fetch's deadline, without an AbortSignal per fetch (signal listeners are costly
    // per request: docs/performance.md): each hop's wait for its headers is capped by the time
    // left, and a body is destroyed when the time runs out.
    const deadline = performance.now() + this.policy.totalTimeoutMs;
    const headers: Record<string, string> = {
      'user-agent': this.policy.userAgent,
      accept: 'application/json, */*;q=0.5',
    };
    if (cond.etag) headers['if-none-match'] = cond.etag;
    if (cond.lastModified) headers['if-modified-since'] = cond.lastModified;

    for (let redirects = 0; ; redirects++) {
      this.checkUrl(hop, url);
      const left = Math.floor(deadline - performance.now());
      if (left <= 0) throw this.timedOut(url, hop);
      // Capped by the deadline: its expiry then reads as the deadline's, not the headers timeout's.
      const capped = left < this.policy.headersTimeoutMs;
      const res: HopResponse = await this.exchange(
        hop,
        headers,
        capped ? left : this.policy.headersTimeoutMs,
        deadline,
        url,
        capped,
      );
      const { statusCode } = res;
      if (REDIRECTS.has(statusCode)) {
        const location = res.headers.location;
        if (typeof location !== 'string' || location === '') {
          throw new AppError(
            ErrorCode.DESCRIPTOR_FETCH_FAILED,
            `${hop.href} answered ${statusCode} without a Location`,
            {
              retryable: false,
              details: { url, hop: hop.href, httpStatus: statusCode },
            },
          );
        }
        if (redirects >= this.policy.maxRedirects) {
          throw refused(`refused ${url}: more than ${this.policy.maxRedirects} redirects`, {
            url,
            hop: hop.href,
            httpStatus: statusCode,
          });
        }
        hop = new URL(location, hop);
        continue;
      }
      if (statusCode === 304) return { status: 'not-modified', httpStatus: 304, finalUrl: hop.href };
      if (statusCode !== 200) {
        const retryable = statusCode >= 500 || statusCode === 408 || statusCode === 429;
        throw new AppError(ErrorCode.DESCRIPTOR_FETCH_FAILED, `${hop.href} answered HTTP ${statusCode}`, {
          retryable,
          details: { url, hop: hop.href, httpStatus: statusCode },
        });
      }
      return {
        status: 'ok',
        httpStatus: 200,
        body: res.body!,
        etag: headerValue(res, 'etag'),
        lastModified: headerValue(res, 'last-modified'),
        finalUrl: hop.href,
      };
    }
  }

  /**
   * One request and its response, through undici's `dispatch` API (see `Exchange`).
   * @throws AppError descriptor-fetch-refused (body over `maxBytes`, non-public address found by
   *   the connector), descriptor-fetch-failed (network error, timeouts).
   */
  private exchange(
    hop: URL,
    headers: Record<string, string>,
    headersTimeout: number,
    deadline: number,
    url: string,
    capped: boolean,
  ): Promise<HopResponse> {
    return new Promise((resolve, reject) => {
      const ex = new Exchange(this, hop, url, deadline, capped, resolve, reject);
      try {
        this.agent.dispatch(
          { origin: hop.origin, path: hop.pathname + hop.search, method: 'GET', headers, headersTimeout },
          ex,
        );
      } catch (err) {
        ex.onResponseError(undefined, err as Error);
      }
    });
  }

  /** @internal */
  timedOut(url: string, hop: URL, cause?: unknown): AppError {
    return new AppError(
      ErrorCode.DESCRIPTOR_FETCH_FAILED,
      `${hop.href}: no complete answer within ${this.policy.totalTimeoutMs} ms`,
      {
        retryable: true,
        details: { url, hop: hop.href, cause: 'timeout' },
        ...(cause !== undefined ? { cause } : {}),
      },
    );
  }

  /** @internal */
  translate(err: unknown, url: string, hop: URL): AppError {
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e?.code ?? e?.cause?.code ?? e?.name;
    if (code === REFUSED_CODE) return refused(`refused ${hop.href}: ${e.message}`, { url, hop: hop.href });
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || code === 'UND_ERR_ABORTED')
      return this.timedOut(url, hop, err);
    const what =
      code === 'UND_ERR_CONNECT_TIMEOUT'
        ? `connect timeout (${this.policy.connectTimeoutMs} ms)`
        : code === 'UND_ERR_HEADERS_TIMEOUT'
          ? `no headers within ${this.policy.headersTimeoutMs} ms`
          : code === 'UND_ERR_BODY_TIMEOUT'
            ? `body stalled for ${this.policy.bodyTimeoutMs} ms`
            : `${code ?? 'network error'}: ${e?.message ?? String(err)}`;
    return new AppError(ErrorCode.DESCRIPTOR_FETCH_FAILED, `${hop.href}: ${what}`, {
      retryable: true,
      details: { url, hop: hop.href, cause: code },
      cause: err,
    });
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** A response header given once, else undefined. */
function headerValue(res: HopResponse, name: string): string | undefined {
  const v = res.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** What one hop answered: its status, headers and, for a 200, its body (UTF-8). */
interface HopResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body?: string;
}

/**
 * The handler of one request (undici's `DispatchHandler`): the body arrives as chunks, with no
 * response stream, which `request()` would build per response (docs/performance.md). Methods,
 * not closures made per request: tsx (the launcher) names every closure it creates, a property
 * write each. A 200 body is kept (at most `maxBytes`, cut off at
 * `deadline`, performance.now() ms); another status's body is dropped as it arrives, and its
 * connection too once that body outgrows `DISCARD_LIMIT` or outlives the deadline.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private statusCode = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  /** The 200 body's chunks; undefined while no 200 answered (a body then discarded). */
  private chunks: Buffer[] | undefined;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly fetcher: DescriptorFetcher,
    private readonly hop: URL,
    private readonly url: string,
    private readonly deadline: number,
    /** The headers timeout was capped by the deadline: its expiry is the deadline's. */
    private readonly capped: boolean,
    private readonly resolve: (r: HopResponse) => void,
    private readonly reject: (err: AppError) => void,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.controller = controller;
    // 1xx informational answers come before the final one.
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
    if (statusCode === 200) {
      this.chunks = [];
      const max = this.fetcher.policy.maxBytes;
      const declared = Number(headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > max) {
        return this.stop(
          refused(`refused ${this.url}: body of ${declared} bytes exceeds ${max}`, {
            url: this.url,
            hop: this.hop.href,
            httpStatus: 200,
          }),
        );
      }
    }
    this.timer = setTimeout(Exchange.expire, Math.max(0, this.deadline - performance.now()), this);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.size += chunk.length;
    if (this.chunks === undefined) {
      if (this.size > DISCARD_LIMIT) this.drop();
      return;
    }
    const max = this.fetcher.policy.maxBytes;
    if (this.size > max)
      return this.stop(
        refused(`refused ${this.url}: body exceeds ${max} bytes`, {
          url: this.url,
          hop: this.hop.href,
          httpStatus: 200,
        }),
      );
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (!this.settle()) return;
    const { chunks } = this;
    if (chunks === undefined) return this.resolve({ statusCode: this.statusCode, headers: this.headers });
    const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, this.size).toString('utf8');
    this.resolve({ statusCode: this.statusCode, headers: this.headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (!this.settle()) return;
    if (this.capped && (err as { code?: string } | undefined)?.code === 'UND_ERR_HEADERS_TIMEOUT')
      return this.reject(this.fetcher.timedOut(this.url, this.hop, err));
    this.reject(this.fetcher.translate(err, this.url, this.hop));
  }

  /** At the deadline: a 200 body fails as a timeout; another status's body is dropped. */
  private static expire(ex: Exchange): void {
    ex.timer = undefined;
    if (ex.chunks === undefined) ex.drop();
    else ex.stop(ex.fetcher.timedOut(ex.url, ex.hop));
  }

  /** Fails the exchange with `why` and aborts the request (its connection is closed). */
  private stop(why: AppError): void {
    if (this.settle()) this.reject(why);
    this.controller?.abort(why);
  }

  /** A non-200 answer whose body is not worth reading on: the status is the answer; the connection goes. */
  private drop(): void {
    if (this.settle()) this.resolve({ statusCode: this.statusCode, headers: this.headers });
    this.controller?.abort(new Error('response body dropped'));
  }

  /** @returns false when already settled; else marks it settled and clears the deadline timer. */
  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return true;
  }
}
