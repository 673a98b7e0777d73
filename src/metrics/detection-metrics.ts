/**
 * Prometheus metrics of detection and versioning (prom-client), on an injected Registry so tests
 * and several daemons in one process (tests) do not share global counters. Exposed at `/metrics`.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Counters the poller, the intake and the versioning worker update. */
export interface DaemonMetrics {
  readonly registry: Registry;
  /** `mpu_polls_total{outcome}`: outcome changed | unchanged | not-modified | failed (per attempt). */
  readonly polls: Counter<'outcome'>;
  /** `mpu_poll_failures_total{code}`: failed poll attempts by error code. */
  readonly pollFailures: Counter<'code'>;
  /** `mpu_versions_total{kind,bump,approval}`: versions created. */
  readonly versions: Counter<'kind' | 'bump' | 'approval'>;
  /**
   * `mpu_version_delay_seconds{kind,source}`: from detection (the poll that fetched the change, or
   * the deploy event's arrival) to its version stored, in clock seconds: the queue's share of the
   * detection lag (a Connect change's whole lag is at most one poll interval more).
   */
  readonly versionDelay: Histogram<'kind' | 'source'>;
  /** `mpu_versions_superseded_total`: polled changes not versioned because a later polled change of the app was decided already (a late retry). */
  readonly versionsSuperseded: Counter;
  /** `mpu_deploy_events_total{result}`: deploy events by result (accepted, duplicate, non-production, rejected). */
  readonly deployEvents: Counter<'result'>;
  /** `mpu_queue_jobs{queue,state}`: queue depths, collected at scrape time. */
  readonly queueJobs: Gauge<'queue' | 'state'>;
  /** `mpu_poll_fetches_in_flight`: descriptor fetches in flight in this process, at scrape time. */
  readonly fetchesInFlight: Gauge;
}

/**
 * Creates the metrics on a fresh registry. `collectQueueDepths` is called at each scrape and
 * returns `{ queue: { state: count } }`; `fetchesInFlight` too (the poll limiter's places taken).
 */
export function createDaemonMetrics(
  collectQueueDepths?: () => Promise<Record<string, Record<string, number>>>,
  fetchesInFlight?: () => number,
): DaemonMetrics {
  const registry = new Registry();
  const queueJobs = new Gauge({
    name: 'mpu_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      if (!collectQueueDepths) return;
      const depths = await collectQueueDepths();
      for (const [queue, states] of Object.entries(depths)) {
        for (const [state, n] of Object.entries(states)) this.set({ queue, state }, n);
      }
    },
  });
  return {
    registry,
    polls: new Counter({
      name: 'mpu_polls_total',
      help: 'Descriptor poll attempts by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    pollFailures: new Counter({
      name: 'mpu_poll_failures_total',
      help: 'Failed poll attempts by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    versions: new Counter({
      name: 'mpu_versions_total',
      help: 'Versions created by kind, bump and approval',
      labelNames: ['kind', 'bump', 'approval'] as const,
      registers: [registry],
    }),
    versionDelay: new Histogram({
      name: 'mpu_version_delay_seconds',
      help: 'Seconds from a change detected (poll or deploy event) to its version stored',
      labelNames: ['kind', 'source'] as const,
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
      registers: [registry],
    }),
    versionsSuperseded: new Counter({
      name: 'mpu_versions_superseded_total',
      help: 'Polled changes not versioned because a later polled change of the app was decided already',
      registers: [registry],
    }),
    deployEvents: new Counter({
      name: 'mpu_deploy_events_total',
      help: 'Forge deploy events by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    queueJobs,
    fetchesInFlight: new Gauge({
      name: 'mpu_poll_fetches_in_flight',
      help: 'Descriptor fetches in flight in this process (at most MPU_POLL_CONCURRENCY)',
      registers: [registry],
      collect() {
        if (fetchesInFlight) this.set(fetchesInFlight());
      },
    }),
  };
}
