/**
 * Every Redis key the project writes, built in one place (like BullMQ's QueueKeys.toKey).
 * Redis Cluster: all keys of one app share the hash tag `{<appId>}`, so multi-key Lua scripts
 * and MULTI on one app stay in one slot; each cross-app key is a slot of its own, written only by
 * single-key commands, never in a script or MULTI with another key (the README's "Redis Cluster
 * and many daemons" has the table of keys per slot, and the order of the two-step writes). The
 * prefix (default `mpu`, never in braces here: it would override the apps' hash tags) lets tests
 * and several deployments share a server.
 *
 * `mpu apps remove` (app-remover.ts) deletes an app by SCAN over `<p>:app:{<appId>}*` plus the
 * cross-app keys below (apps, poll-schedule, the entries of its installations in the two
 * bucketed indexes, rollouts; sites are not any app's and stay): a new per-app key must
 * start with `app(appId)`, and a new cross-app key needs its cleanup added there.
 *
 * Layout (add new keys here, with a line of documentation each):
 * - `<p>:apps`                                   SET of app ids
 * ... (sections below)
 */
import { fallbackField, indexDigest, INDEX_BUCKETS, INDEX_GROUPS, type IndexDigest } from './index-digest.js';

/**
 * Where one entry of a bucketed index lives: the bucket key, the field named by the digest, and
 * the fallback field holding the full looked-up string (used only when the digest field is
 * taken by another string: installation-index.ts).
 */
export interface IndexEntry {
  key: string;
  field: string;
  fallback: string;
  /** The bucket's group's fallback marks (`indexFallbackMarks`). */
  marks: string;
}

export interface Keys {
  readonly prefix: string;
  /** Buckets per bucketed index (index-digest.ts `INDEX_BUCKETS`). */
  readonly indexBuckets: number;
  /** SET of every registered app id. */
  apps(): string;
  /**
   * STRING `<p>:layout`: the number of the store's key layout, written by the migrations
   * (migrate.ts) once the store is in it; absent in a store written before migrations existed.
   */
  layout(): string;
  // ── apps, descriptors, versions ──────────────────────────────────────
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
  // ── installations, rollouts ─────────────────────────────────────────
  // One app's installations live in a few big hashes (not a key per installation): a million
  // installations are ~5 keys, read and written in batches by pipelines and Lua.
  /**
   * HASH `<p>:installations:{ix:<group>}:<bucket>` (group = bucket mod 256, index-digest.ts
   * `INDEX_GROUPS`: a group's buckets share a cluster slot, the groups spread over 256 slots):
   * one bucket of the global index, installation id → app id. Field: the 11-character digest of
   * the id (index-digest.ts), or `.<id>` when that digest field is another id's; a small hash
   * kept in listpack encoding (about 13 bytes + the app id per entry). Entries are hints: a
   * lookup checks that the app's record has the id (installation-index.ts).
   */
  installationIndexBucket(bucket: number): string;
  /**
   * SET `<p>:index-fallbacks:{ix:<group>}` (the group's hash tag, index-digest.ts
   * `INDEX_GROUPS`): the keys of the group's buckets (either index) that hold a fallback field,
   * added when one is written (commands/writeIndexEntries.lua) and never removed (a stale member
   * only costs a check). Absent for nearly every group: a registration's fast path
   * (commands/claimIndexEntries.lua) reads it once per group to skip the fallback fields' check.
   */
  indexFallbackMarks(group: number): string;
  /** The bucket, digest field and fallback field of installation `id` in the global index. */
  installationIndexEntry(id: string): IndexEntry;
  /**
   * HASH `<p>:sites-index:{ix:<group>}:<bucket>` (the same groups and hash tags as the global
   * index's buckets): one bucket of the by-site index, digest of
   * `<appId>\n<site>` (or `.<appId>\n<site>` as the fallback field) → the id of that app's
   * installation on that site (the latest registered there). Hints too: a lookup checks the
   * installation's record in that app names that site.
   */
  siteIndexBucket(bucket: number): string;
  /** The bucket, digest field and fallback field of `appId`'s installation on `site` in the by-site index. */
  siteIndexEntry(appId: string, site: string): IndexEntry;
  /**
   * HASH `<p>:installations`: the global index before it was bucketed (installation id → app
   * id, one key). Read and deleted only by migrations/indexes.ts.
   */
  legacyInstallationIndex(): string;
  /**
   * HASH `<p>:migrations:indexes`: progress of migrations/indexes.ts, legacy key → HSCAN cursor
   * of its next page (deleted when the migration ends).
   */
  indexMigration(): string;
  /** LIST `<p>:app:{<appId>}:inst:ids`: installation ids in registration order (stable paging for plans). */
  installationIds(appId: string): string;
  /**
   * HASH `<p>:app:{<appId>}:inst:data`: id → `<version>\x1f<record JSON>\x1f<history>`, the whole
   * installation in one field (installation-record.ts): the version it runs (the compare-and-set
   * target), its record (site, products, check offset, windows, admins) and its `;`-separated
   * history entries (rollout/installation-history.ts). Stores written before this layout kept the
   * version and history in `inst:version` and `inst:history` (migrations/records.ts merges them).
   */
  installationData(appId: string): string;
  /**
   * SET `<p>:app:{<appId>}:inst:windowed`: the ids of the app's installations whose record has
   * maintenance windows (record JSON `m` not null; installation-record.ts "Windows"), so that
   * SCARD tells whether any installation of the app has windows without reading the records.
   * Kept exact with the records by the scripts that write or remove a record JSON
   * (registerInstallations-5.lua, releaseAdoptions-8.lua, receiveAdoptions-6.lua), built for
   * stores written before it by migrations/windowed.ts, deleted with the app's other keys.
   */
  installationWindowed(appId: string): string;
  /** HASH `<p>:app:{<appId>}:inst:approved`: id → highest version its admins approved. */
  installationApproved(appId: string): string;
  /** HASH `<p>:app:{<appId>}:inst:available`: id → newest version shown as "update available". */
  installationAvailable(appId: string): string;
  /**
   * HASH `<p>:app:{<appId>}:inst:left`: id → the history of an installation that left the app (an
   * adoption moved it to a Forge app: its record is gone, the app keeps its history).
   */
  installationsLeft(appId: string): string;
  /** HASH `<p>:app:{<appId>}:inst:distribution`: version → number of installations running it. */
  versionDistribution(appId: string): string;
  /**
   * LIST `<p>:app:{<appId>}:inst:late`: registrations not yet handed to the late planner, one entry
   * `<start>|<end>|<at>` per registration call (positions in `installationIds`, inclusive; epoch
   * ms), appended atomically with the registration and trimmed by the late planner.
   */
  installationLog(appId: string): string;
  /** ZSET `<p>:rollouts`: rollout ids (`<appId>@<version>`) scored by publication time (epoch ms). */
  rollouts(): string;
  /** HASH `<p>:app:{<appId>}:rollout:<version>`: rollout state (status, plan summary, counts). */
  rollout(appId: string, version: string): string;
  /** HASH `<p>:app:{<appId>}:rollout:<version>:buckets`: `<kind>:<at>` → id count of each planned bucket. */
  rolloutBuckets(appId: string, version: string): string;
  /** LIST `<p>:app:{<appId>}:rollout:<version>:bucket:<kind>:<at>`: installation ids of one bucket. */
  rolloutBucket(appId: string, version: string, kind: string, at: number): string;
  /**
   * HASH `<p>:app:{<appId>}:rollout:<version>:deferrals`: installation id → its encoded `deferred`
   * history entry (installation-history.ts), written by the plan for each upgrade a maintenance
   * window defers and appended to the history by the upgrade's compare-and-set.
   */
  rolloutDeferrals(appId: string, version: string): string;
  /**
   * HASH `<p>:app:{<appId>}:reconcile`: version → clock ms up to which the reconciliation sweep
   * has checked that version's planned buckets, and `late:<version>` → the registration-list
   * position below which its late installations are settled (app/rollout/reconcile.ts).
   */
  reconcileMarks(appId: string): string;
  /**
   * HASH `<p>:app:{<appId>}:notices:<version>`: installation id → `<notified at>[,<reminded at>…]`
   * (clock ms): the "update available" notices its admins were sent for that manual version, and
   * each reminder (app/rollout/approval-notices.ts).
   */
  approvalNotices(appId: string, version: string): string;
  /** ZSET `<p>:app:{<appId>}:reminders`: `<version>\t<installation id>` scored by its next reminder time (clock ms). */
  approvalReminders(appId: string): string;
  /**
   * HASH `<p>:app:{<appId>}:rollout:<version>:failures`: installation id → JSON of its reported
   * failed upgrade (at, by, reason), once each (the error budget, rollout/phased-release.ts).
   */
  rolloutFailures(appId: string, version: string): string;
  // ── bulk upgrades (app/rollout/bulk-upgrades.ts) ─────────────────────
  /** ZSET `<p>:app:{<appId>}:bulk-upgrades`: the app's bulk upgrade ids scored by start time (clock ms). */
  bulkUpgrades(appId: string): string;
  /** HASH `<p>:app:{<appId>}:bulk:<id>`: one bulk upgrade (status, majors, versions, counters, cursor). */
  bulkUpgrade(appId: string, id: string): string;
  /** LIST `<p>:app:{<appId>}:bulk:<id>:ids`: its candidates (installations on the source major at plan time). */
  bulkUpgradeCandidates(appId: string, id: string): string;
  /** LIST `<p>:app:{<appId>}:bulk:<id>:requested`: the installations an operator listed (`--installations`). */
  bulkUpgradeRequested(appId: string, id: string): string;
  /** HASH `<p>:app:{<appId>}:bulk:<id>:outcome`: installation id → `moved` or its skip reason (once each). */
  bulkUpgradeOutcomes(appId: string, id: string): string;
  /**
   * HASH `<p>:bulk-upgrades:running`: running bulk upgrade id → `<appId>\t<env>\t<account>\t<at>`
   * (the limits' view; cross-app: an entry whose record is gone or finished is pruned by the next start).
   */
  bulkUpgradesRunning(): string;
  /** HASH `<p>:bulk-upgrades:index`: bulk upgrade id → app id (cancel by id; pruned as records expire). */
  bulkUpgradeIndex(): string;
  // ── Connect to Forge adoption (app/rollout/adoption.ts) ──────────────
  /**
   * HASH `<p>:app:{<forgeAppId>}:adoption:<version>:outcome`: Connect installation id →
   * `m|<connect version>|<a or p>` once the adoption by that Forge version moved it (once each).
   */
  adoptionOutcomes(appId: string, version: string): string;
  // ── distribution: sites, sharing by link, installation secrets (app/distribution) ──
  /** SET `<p>:sites`: every registered site name (cross-app; written by single-key commands only). */
  sites(): string;
  /** HASH `<p>:site:{<site>}`: the site record (`createdAt`, epoch ms); a site's keys share the hash tag `{<site>}`. */
  site(site: string): string;
  /** SET `<p>:site:{<site>}:products`: the products the site runs (`jira`, `confluence`, …). */
  siteProducts(site: string): string;
  /** SET `<p>:site:{<site>}:admins`: `<product>:<name>` for each admin of a product on the site. */
  siteAdmins(site: string): string;
  /**
   * HASH `<p>:app:{<appId>}:sharing`: sharing by installation link and listing state (`status`
   * enabled|stopped, `products`, `gen` link generation, `salt`, times and actors, `listingSubmittedAt`).
   */
  sharing(appId: string): string;
  /** HASH `<p>:app:{<appId>}:inst:secret`: installation id → its shared secret (set once, at install). */
  installationSecrets(appId: string): string;
  /**
   * HASH `<p>:app:{<appId>}:inst:site`: the by-site index before it was bucketed (site → id of
   * the app's installation on it). Read and deleted only by migrations/indexes.ts.
   */
  legacyInstallationSites(appId: string): string;
  /**
   * HASH `<p>:app:{<connectAppId>}:adoption:<forgeAppId>@<version>:released`: Connect installation
   * id → `m|<connect version>|<a or p>` once that adoption released it from the Connect app (once each).
   */
  adoptionReleased(connectAppId: string, forgeAppId: string, version: string): string;
  /**
   * HASH `<p>:app:{<connectAppId>}:adoption:<forgeAppId>@<version>:pending`: released installations
   * the Forge app has not received yet, id → `<connect version>\t<cause>\t<data JSON>\t<history>`
   * (emptied as they are received: holds a batch or two at most).
   */
  adoptionPending(connectAppId: string, forgeAppId: string, version: string): string;
  // ── audit ────────────────────────────────────────────────────────────
  /**
   * STREAM `<p>:audit`: one entry per state-changing action (audit-store.ts), capped by
   * `XADD MAXLEN ~`. Cross-app and kept when an app is removed: the trail outlives its subject.
   */
  audit(): string;
}

/**
 * Builds the key set for `prefix` (no trailing colon). `opts.digest` replaces the indexes'
 * digest (index-digest.ts `indexDigest`): for tests of digest collisions only, since entries
 * written with one digest are not found with another.
 */
export function createKeys(prefix = 'mpu', opts: { digest?: (s: string) => IndexDigest } = {}): Keys {
  const digest = opts.digest ?? indexDigest;
  // The bucket and marks key names, made once each (a registration names 2 buckets per installation).
  const named = (n: number, name: (i: number) => string) => {
    const cache: string[] = new Array<string>(n);
    return (i: number) => cache[i] ?? (cache[i] = name(i));
  };
  const indexFallbackMarks = named(INDEX_GROUPS, (g) => `${prefix}:index-fallbacks:{ix:${g}}`);
  const entry = (bucketKey: (b: number) => string, s: string): IndexEntry => {
    const d = digest(s);
    return {
      key: bucketKey(d.bucket),
      field: d.field,
      fallback: fallbackField(s),
      marks: indexFallbackMarks(d.bucket % INDEX_GROUPS),
    };
  };
  const installationIndexBucket = named(INDEX_BUCKETS, (b) => `${prefix}:installations:{ix:${b % INDEX_GROUPS}}:${b}`);
  const siteIndexBucket = named(INDEX_BUCKETS, (b) => `${prefix}:sites-index:{ix:${b % INDEX_GROUPS}}:${b}`);
  return {
    prefix,
    indexBuckets: INDEX_BUCKETS,
    apps: () => `${prefix}:apps`,
    layout: () => `${prefix}:layout`,
    // ── apps, descriptors, versions ──────────────────────────────────────
    app: (appId) => `${prefix}:app:{${appId}}`,
    versions: (appId) => `${prefix}:app:{${appId}}:versions`,
    versionOrder: (appId) => `${prefix}:app:{${appId}}:version-order`,
    descriptor: (appId, hash) => `${prefix}:app:{${appId}}:descriptor:${hash}`,
    deployments: (appId) => `${prefix}:app:{${appId}}:deployments`,
    pollSchedule: () => `${prefix}:poll-schedule`,
    webhookEvent: (eventId) => `${prefix}:webhook-event:${eventId}`,
    // ── installations, rollouts ─────────────────────────────────────────
    installationIndexBucket,
    indexFallbackMarks,
    installationIndexEntry: (id) => entry(installationIndexBucket, id),
    siteIndexBucket,
    siteIndexEntry: (appId, site) => entry(siteIndexBucket, `${appId}\n${site}`),
    legacyInstallationIndex: () => `${prefix}:installations`,
    indexMigration: () => `${prefix}:migrations:indexes`,
    installationIds: (appId) => `${prefix}:app:{${appId}}:inst:ids`,
    installationData: (appId) => `${prefix}:app:{${appId}}:inst:data`,
    installationWindowed: (appId) => `${prefix}:app:{${appId}}:inst:windowed`,
    installationApproved: (appId) => `${prefix}:app:{${appId}}:inst:approved`,
    installationAvailable: (appId) => `${prefix}:app:{${appId}}:inst:available`,
    installationsLeft: (appId) => `${prefix}:app:{${appId}}:inst:left`,
    versionDistribution: (appId) => `${prefix}:app:{${appId}}:inst:distribution`,
    installationLog: (appId) => `${prefix}:app:{${appId}}:inst:late`,
    rollouts: () => `${prefix}:rollouts`,
    rollout: (appId, version) => `${prefix}:app:{${appId}}:rollout:${version}`,
    rolloutBuckets: (appId, version) => `${prefix}:app:{${appId}}:rollout:${version}:buckets`,
    rolloutBucket: (appId, version, kind, at) => `${prefix}:app:{${appId}}:rollout:${version}:bucket:${kind}:${at}`,
    rolloutDeferrals: (appId, version) => `${prefix}:app:{${appId}}:rollout:${version}:deferrals`,
    reconcileMarks: (appId) => `${prefix}:app:{${appId}}:reconcile`,
    approvalNotices: (appId, version) => `${prefix}:app:{${appId}}:notices:${version}`,
    approvalReminders: (appId) => `${prefix}:app:{${appId}}:reminders`,
    rolloutFailures: (appId, version) => `${prefix}:app:{${appId}}:rollout:${version}:failures`,
    bulkUpgrades: (appId) => `${prefix}:app:{${appId}}:bulk-upgrades`,
    bulkUpgrade: (appId, id) => `${prefix}:app:{${appId}}:bulk:${id}`,
    bulkUpgradeCandidates: (appId, id) => `${prefix}:app:{${appId}}:bulk:${id}:ids`,
    bulkUpgradeRequested: (appId, id) => `${prefix}:app:{${appId}}:bulk:${id}:requested`,
    bulkUpgradeOutcomes: (appId, id) => `${prefix}:app:{${appId}}:bulk:${id}:outcome`,
    bulkUpgradesRunning: () => `${prefix}:bulk-upgrades:running`,
    bulkUpgradeIndex: () => `${prefix}:bulk-upgrades:index`,
    adoptionOutcomes: (appId, version) => `${prefix}:app:{${appId}}:adoption:${version}:outcome`,
    sites: () => `${prefix}:sites`,
    site: (site) => `${prefix}:site:{${site}}`,
    siteProducts: (site) => `${prefix}:site:{${site}}:products`,
    siteAdmins: (site) => `${prefix}:site:{${site}}:admins`,
    sharing: (appId) => `${prefix}:app:{${appId}}:sharing`,
    installationSecrets: (appId) => `${prefix}:app:{${appId}}:inst:secret`,
    legacyInstallationSites: (appId) => `${prefix}:app:{${appId}}:inst:site`,
    adoptionReleased: (appId, forgeAppId, version) =>
      `${prefix}:app:{${appId}}:adoption:${forgeAppId}@${version}:released`,
    adoptionPending: (appId, forgeAppId, version) =>
      `${prefix}:app:{${appId}}:adoption:${forgeAppId}@${version}:pending`,
    audit: () => `${prefix}:audit`,
  };
}
