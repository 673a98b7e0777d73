/**
 * Every Redis key the project writes, built in one place (like BullMQ's QueueKeys.toKey).
 * Redis Cluster friendly: all keys of one app share the hash tag `{<appId>}`, so multi-key
 * Lua scripts and MULTI on one app stay in one slot. The prefix (default `mpu`) lets tests and
 * several deployments share a server.
 *
 * Layout (add new keys here, with a line of documentation each):
 * - `<p>:apps`                                   SET of app ids
 * ... (sections below)
 */
export interface Keys {
  readonly prefix: string;
  /** SET of every registered app id. */
  apps(): string;
  // ── apps, descriptors, versions (issue 3: daemon) ──────────────────────────────────────
  // ── installations, rollouts (issue 4: rollout) ─────────────────────────────────────────
}

/** Builds the key set for `prefix` (no trailing colon). */
export function createKeys(prefix = 'mpu'): Keys {
  return {
    prefix,
    apps: () => `${prefix}:apps`,
    // ── apps, descriptors, versions (issue 3: daemon) ──────────────────────────────────────
    // ── installations, rollouts (issue 4: rollout) ─────────────────────────────────────────
  };
}
