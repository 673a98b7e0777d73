/**
 * The process's one metrics registry (prom-client), exposed at `/metrics`: detection and
 * versioning counters (detection-metrics.ts), rollout gauges (rollout-metrics.ts) and gauges of
 * what the stores hold (store-metrics.ts), built once by the composition root.
 */
import type { BulkUpgradeStore } from '../store/bulk-upgrade-store.js';
import type { InstallationStore } from '../store/installation-store.js';
import type { RolloutStore } from '../store/rollout-store.js';
import type { VersionStore } from '../store/version-store.js';
import { createStoreMetrics, type StoreMetrics, type StoreMetricsOptions } from './store-metrics.js';
import { createDaemonMetrics, type DaemonMetrics } from './detection-metrics.js';
import { createRolloutMetrics, type RolloutMetrics } from './rollout-metrics.js';

/** Every metric of the process, on one registry. */
export type Metrics = DaemonMetrics & RolloutMetrics & StoreMetrics;

/** What the scrape-time collectors read. */
export interface MetricSources {
  /** `{ queue: { state: count } }` for every queue of the process, read at each scrape. */
  queueDepths?: () => Promise<Record<string, Record<string, number>>>;
  /** Descriptor fetches in flight in this process. */
  fetchesInFlight?: () => number;
  rollouts: RolloutStore;
  installs: InstallationStore;
  versions: VersionStore;
  /** Bulk upgrades (the in-progress gauge); absent: the gauge reads 0. */
  bulkUpgrades?: BulkUpgradeStore;
  /** Options of the store gauges (src/metrics/store-metrics.ts). */
  storeMetrics?: StoreMetricsOptions;
}

/** Creates a fresh registry with every metric. */
export function createMetrics(sources: MetricSources): Metrics {
  const detection = createDaemonMetrics(sources.queueDepths, sources.fetchesInFlight);
  return {
    ...detection,
    ...createRolloutMetrics(detection.registry, sources),
    ...createStoreMetrics(detection.registry, sources, sources.storeMetrics),
  };
}
