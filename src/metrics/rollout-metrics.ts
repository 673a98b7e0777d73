/**
 * Rollout metrics for `/metrics` (prom-client): progress per rollout and installations per
 * version, read from Redis at scrape time (so every daemon reports the same numbers), and an
 * upgrade counter of this process.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BulkUpgradeStore } from '../store/bulk-upgrade-store.js';
import type { InstallationStore } from '../store/installation-store.js';
import type { RolloutStore } from '../store/rollout-store.js';

export interface RolloutMetrics {
  readonly registry: Registry;
  /** `mpu_upgrades_total{app,cause}`: installations moved by this process. */
  readonly upgrades: Counter<'app' | 'cause'>;
  /**
   * `mpu_upgrades_deferred_total{app}`: upgrades applied by this process that a maintenance window
   * had deferred (each is also a `deferred` entry in the installation's history).
   */
  readonly upgradesDeferred: Counter<'app'>;
  /**
   * `mpu_installations_overdue{app}`: installations the last reconciliation sweep of this process
   * found past their promised time without their upgrade (it upgraded them at once).
   */
  readonly installationsOverdue: Gauge<'app'>;
  /** `mpu_reconcile_repairs_total{app,kind}`: upgrades (`upgrade`) and notices (`notice`) the sweep made up for. */
  readonly reconcileRepairs: Counter<'app' | 'kind'>;
  /**
   * `mpu_approvals{app,version,state}`: installations notified of a manual version, by state
   * (pending, approved, upgraded, superseded, gone), as of the last reconciliation sweep.
   */
  readonly approvals: Gauge<'app' | 'version' | 'state'>;
  /** `mpu_rollout_progress_percent{app,version,status}`: collected at scrape time (latest 50 rollouts). */
  readonly progress: Gauge<'app' | 'version' | 'status'>;
  /** `mpu_installations{app,version}`: version distribution of apps with rollouts (collected). */
  readonly installations: Gauge<'app' | 'version'>;
  /**
   * `mpu_rollout_deferred{app,version}`: upgrades its plan moved to the end of a maintenance
   * window (latest 50 rollouts, from their stored plan summaries).
   */
  readonly deferred: Gauge<'app' | 'version'>;
  /**
   * `mpu_rollout_phase_percent{app,version}`: the percentage a phased release's phase reached
   * (latest 50 rollouts; only phased ones), and `mpu_rollout_phase_cohort{app,version}`: the
   * installations within it when the phase was released.
   */
  readonly phasePercent: Gauge<'app' | 'version'>;
  readonly phaseCohort: Gauge<'app' | 'version'>;
  /** `mpu_rollout_failures{app,version}`: failed upgrades reported (the error budget), latest 50 rollouts. */
  readonly failures: Gauge<'app' | 'version'>;
  /** `mpu_bulk_upgrades_in_progress`: running bulk upgrades, all apps (read from Redis at scrape time). */
  readonly bulkInProgress: Gauge;
  /** `mpu_bulk_upgrade_installations_moved_total{app}`: installations moved by bulk upgrades in this process. */
  readonly bulkMoved: Counter<'app'>;
}

/**
 * Creates the rollout metrics on `registry` (once per registry: prom-client refuses a second
 * metric of the same name).
 */
export function createRolloutMetrics(
  registry: Registry,
  stores: { rollouts: RolloutStore; installs: InstallationStore; bulkUpgrades?: BulkUpgradeStore },
): RolloutMetrics {
  const upgrades = new Counter({
    name: 'mpu_upgrades_total',
    help: 'Installations upgraded by this process',
    labelNames: ['app', 'cause'] as const,
    registers: [registry],
  });
  const upgradesDeferred = new Counter({
    name: 'mpu_upgrades_deferred_total',
    help: 'Upgrades applied by this process after a maintenance window deferred them',
    labelNames: ['app'] as const,
    registers: [registry],
  });
  const installationsOverdue = new Gauge({
    name: 'mpu_installations_overdue',
    help: 'Installations past their promised time without their upgrade, found by the last reconciliation sweep',
    labelNames: ['app'] as const,
    registers: [registry],
  });
  const reconcileRepairs = new Counter({
    name: 'mpu_reconcile_repairs_total',
    help: 'Upgrades and notices the reconciliation sweep made up for (their jobs were lost)',
    labelNames: ['app', 'kind'] as const,
    registers: [registry],
  });
  const approvals = new Gauge({
    name: 'mpu_approvals',
    help: 'Installations notified of a manual version, by approval state, as of the last reconciliation sweep',
    labelNames: ['app', 'version', 'state'] as const,
    registers: [registry],
  });
  const progress = new Gauge({
    name: 'mpu_rollout_progress_percent',
    help: 'Installations running the rollout version or newer, percent',
    labelNames: ['app', 'version', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await stores.rollouts.list({ limit: 50 })) {
        const v = await stores.rollouts.view(r);
        this.set({ app: r.appId, version: r.version, status: v.complete ? 'complete' : r.status }, v.progressPercent);
      }
    },
  });
  const installations = new Gauge({
    name: 'mpu_installations',
    help: 'Installations per app and version',
    labelNames: ['app', 'version'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const apps = new Set((await stores.rollouts.list({ limit: 50 })).map((r) => r.appId));
      for (const app of apps)
        for (const [version, n] of Object.entries(await stores.installs.distribution(app)))
          this.set({ app, version }, n);
    },
  });
  const deferred = new Gauge({
    name: 'mpu_rollout_deferred',
    help: 'Planned upgrades deferred by a maintenance window, per rollout',
    labelNames: ['app', 'version'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await stores.rollouts.list({ limit: 50 }))
        if (r.summary) this.set({ app: r.appId, version: r.version }, r.summary.deferred ?? 0);
    },
  });
  const phasePercent = new Gauge({
    name: 'mpu_rollout_phase_percent',
    help: "Percentage of installations a phased release's current phase releases to",
    labelNames: ['app', 'version'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await stores.rollouts.list({ limit: 50 }))
        if (r.phases) this.set({ app: r.appId, version: r.version }, r.phases.schedule.percents[r.phases.phase] ?? 100);
    },
  });
  const phaseCohort = new Gauge({
    name: 'mpu_rollout_phase_cohort',
    help: "Installations within a phased release's current phase",
    labelNames: ['app', 'version'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await stores.rollouts.list({ limit: 50 }))
        if (r.phases) this.set({ app: r.appId, version: r.version }, r.phases.cohortSize);
    },
  });
  const failures = new Gauge({
    name: 'mpu_rollout_failures',
    help: 'Failed upgrades reported per rollout (the error budget)',
    labelNames: ['app', 'version'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await stores.rollouts.list({ limit: 50 })) {
        const n = await stores.rollouts.failureCount(r.appId, r.version);
        if (n > 0) this.set({ app: r.appId, version: r.version }, n);
      }
    },
  });
  const bulkInProgress = new Gauge({
    name: 'mpu_bulk_upgrades_in_progress',
    help: 'Bulk major-version upgrades running, all apps',
    registers: [registry],
    async collect() {
      this.set(stores.bulkUpgrades ? (await stores.bulkUpgrades.running()).length : 0);
    },
  });
  const bulkMoved = new Counter({
    name: 'mpu_bulk_upgrade_installations_moved_total',
    help: 'Installations moved by bulk upgrades in this process',
    labelNames: ['app'] as const,
    registers: [registry],
  });
  return {
    registry,
    upgrades,
    upgradesDeferred,
    installationsOverdue,
    reconcileRepairs,
    approvals,
    progress,
    installations,
    deferred,
    phasePercent,
    phaseCohort,
    failures,
    bulkInProgress,
    bulkMoved,
  };
}
