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
  /** HASH `<p>:app:{<appId>}`: the app record (kind, descriptor URL, poll state, last error…). */
  app(appId: string): string;
  /** HASH `<p>:app:{<appId>}:versions`: version string → VersionRecord JSON. */
  versions(appId: string): string;
  /** LIST `<p>:app:{<appId>}:version-order`: version strings, oldest first (the last is the latest). */
  versionOrder(appId: string): string;
  /** STRING `<p>:app:{<appId>}:descriptor:<sha256:…>`: canonical descriptor JSON, content-addressed (write-once). */
  descriptor(appId: string, hash: string): string;
  /** HASH `<p>:app:{<appId>}:deployments`: Forge deployment id → version (`-` for non-production). */
  deployments(appId: string): string;
  /** ZSET `<p>:poll-schedule`: Connect app id scored by its next poll due time (epoch ms). */
  pollSchedule(): string;
  /** STRING `<p>:webhook-event:<eventId>` with a TTL: deploy event ids already accepted (replay refusal). */
  webhookEvent(eventId: string): string;
  // ── installations, rollouts (issue 4: rollout) ─────────────────────────────────────────
}

/** Builds the key set for `prefix` (no trailing colon). */
export function createKeys(prefix = 'mpu'): Keys {
  return {
    prefix,
    apps: () => `${prefix}:apps`,
    // ── apps, descriptors, versions (issue 3: daemon) ──────────────────────────────────────
    app: (appId) => `${prefix}:app:{${appId}}`,
    versions: (appId) => `${prefix}:app:{${appId}}:versions`,
    versionOrder: (appId) => `${prefix}:app:{${appId}}:version-order`,
    descriptor: (appId, hash) => `${prefix}:app:{${appId}}:descriptor:${hash}`,
    deployments: (appId) => `${prefix}:app:{${appId}}:deployments`,
    pollSchedule: () => `${prefix}:poll-schedule`,
    webhookEvent: (eventId) => `${prefix}:webhook-event:${eventId}`,
    // ── installations, rollouts (issue 4: rollout) ─────────────────────────────────────────
  };
}
