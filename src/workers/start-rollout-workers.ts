/**
 * Starts the rollout side of the daemon (issue 4): planner, upgrade and notify workers.
 */
import type { Closable, RuntimeDeps } from './runtime.js';

export async function startRolloutWorkers(_deps: RuntimeDeps): Promise<Closable> {
  return { close: async () => {} };
}
