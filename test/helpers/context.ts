/**
 * A process's context for tests (src/runtime.ts `createAppContext`), with what rollout suites
 * inject: an in-memory version reader we own (test/rollout/helpers.ts `MemoryVersions`), a
 * notifier that records, settings.
 */
import type { Notifier } from '../../src/app/rollout/notifier.js';
import type { Settings } from '../../src/app/settings.js';
import { createAppContext, type AppContextOptions, type Runtime, type RuntimeDeps } from '../../src/runtime.js';
import type { VersionReader } from '../../src/store/types.js';
import type { VersionStore } from '../../src/store/version-store.js';
import { startRolloutWorkers, type RolloutWorkers } from '../../src/workers/start-workers.js';

export interface TestContextOptions extends RuntimeDeps, Omit<AppContextOptions, 'settings'> {
  /** Versions the rollout reads; the Redis version store when absent. */
  versions?: VersionReader;
  notifier?: Notifier;
  settings?: Partial<Settings>;
  /** Same as `settings` (kept apart in suites that only set rollout settings). */
  rolloutSettings?: Partial<Settings>;
}

/**
 * Builds a context. With `versions`, the rollout reads that reader: the rollout use cases only
 * read versions (`VersionReader`), so a suite that plans rollouts can give them directly.
 */
export function createTestContext(opts: TestContextOptions): Runtime {
  const { connection, clock, logger, prefix, versions, rolloutSettings, settings, ...rest } = opts;
  const ctx = createAppContext(
    { connection, clock, logger, prefix },
    { ...rest, settings: { ...settings, ...rolloutSettings } },
  );
  if (versions) ctx.versions = versions as VersionStore;
  return ctx;
}

/** A context with the rollout and notify workers started on it; `close()` closes both. */
export interface TestRolloutWorkers {
  ctx: Runtime;
  workers: RolloutWorkers;
  close(): Promise<void>;
}

export async function startTestRolloutWorkers(opts: TestContextOptions): Promise<TestRolloutWorkers> {
  const ctx = createTestContext(opts);
  const workers = await startRolloutWorkers(ctx);
  return {
    ctx,
    workers,
    async close() {
      await workers.close();
      await ctx.close();
    },
  };
}
