/**
 * Gauges read from Redis at scrape time, for the work any process does: versions made by `mpu
 * poll` or another daemon, installations waiting for an approval. A counter of this process
 * (`mpu_versions_total`) misses those; these report the same numbers from every daemon.
 */
import { Gauge, type Registry } from 'prom-client';
import { FORGE_ARI } from '../store/app-store.js';
import type { InstallationStore } from '../store/installation-store.js';
import type { RolloutStore } from '../store/rollout-store.js';
import type { VersionStore } from '../store/version-store.js';

/** The scrape-time gauges of the stores. */
export interface StoreMetrics {
  /** `mpu_apps{kind}`: registered apps. */
  readonly apps: Gauge<'kind'>;
  /**
   * `mpu_versions_stored{kind}`: versions stored, summed per kind (a label per app would be
   * 10,000 series for 10,000 apps; `mpu versions APP` has one app's).
   */
  readonly versionsStored: Gauge<'kind'>;
  /**
   * `mpu_approvals_pending{app}`: installations shown "update available" that are not approved
   * up to it, for apps with a manual rollout in progress among the latest 50 rollouts.
   */
  readonly approvalsPending: Gauge<'app'>;
}

/** Options: how long a count of pending approvals is reused (it scans the app's installations). */
export interface StoreMetricsOptions {
  /** @defaultValue 30,000 ms */
  approvalsCacheMs?: number;
}

/** Kind of an app from its id: Forge apps are registered by ARI, Connect apps by key (no ':'). */
const kindOf = (appId: string): 'connect' | 'forge' => (FORGE_ARI.test(appId) ? 'forge' : 'connect');

/** Creates the gauges on `registry` (once per registry). */
export function createStoreMetrics(
  registry: Registry,
  stores: { versions: VersionStore; rollouts: RolloutStore; installs: InstallationStore },
  opts: StoreMetricsOptions = {},
): StoreMetrics {
  const cacheMs = opts.approvalsCacheMs ?? 30_000;
  const apps = new Gauge({
    name: 'mpu_apps',
    help: 'Registered apps by kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const versionsStored = new Gauge({
    name: 'mpu_versions_stored',
    help: 'Versions stored by kind, whichever process created them',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const counts = await stores.versions.countVersionsByApp();
      const byKind = { connect: { apps: 0, versions: 0 }, forge: { apps: 0, versions: 0 } };
      for (const [app, n] of counts) {
        const k = byKind[kindOf(app)];
        k.apps++;
        k.versions += n;
      }
      for (const kind of ['connect', 'forge'] as const) {
        this.set({ kind }, byKind[kind].versions);
        apps.set({ kind }, byKind[kind].apps);
      }
    },
  });
  const cached = new Map<string, { at: number; pending: number }>();
  const approvalsPending = new Gauge({
    name: 'mpu_approvals_pending',
    help: 'Installations shown "update available" and not yet approved (apps with a manual rollout in progress)',
    labelNames: ['app'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const apps = new Set<string>();
      for (const r of await stores.rollouts.list({ limit: 50 })) {
        if (r.approval !== 'manual' || r.status === 'halted') continue;
        if (!(await stores.rollouts.view(r)).complete) apps.add(r.appId);
      }
      const now = performance.now();
      for (const app of apps) {
        let c = cached.get(app);
        if (!c || now - c.at >= cacheMs) {
          c = { at: now, pending: await stores.installs.countPendingApprovals(app) };
          cached.set(app, c);
        }
        this.set({ app }, c.pending);
      }
      for (const app of cached.keys()) if (!apps.has(app)) cached.delete(app);
    },
  });
  return { apps, versionsStored, approvalsPending };
}
