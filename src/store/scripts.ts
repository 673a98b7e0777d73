/**
 * The store's Lua scripts, loaded in one place (as BullMQ's `src/classes/scripts.ts` loads
 * `src/commands/*.lua`). Each script is a file in `./commands/`, named `<name>-<numberOfKeys>.lua`,
 * or `<name>.lua` when the number of keys varies (the caller passes numkeys first); each file's
 * header comment says what it does and why, its KEYS and ARGV, and its replies. A script is
 * defined on a connection as the command `mpu<Name>` (`storeVersion-5.lua` → `mpuStoreVersion`),
 * and its replies are turned into typed results or AppErrors in script-results.ts.
 *
 * The .lua files are read at run time next to this module (`new URL('./commands/…',
 * import.meta.url)`): a build into `dist/` must copy `src/store/commands/*.lua` beside the
 * compiled `scripts.js`.
 */
import { readFileSync } from 'node:fs';
import type { ChainableCommander } from 'ioredis';
import type { RedisConnection } from '../lib/redis-connection.js';

/** Every script file in `./commands/` (test/store/scripts.redis.test.ts checks the folder matches). */
export const SCRIPT_FILES = [
  'claimPolls.lua',
  'recordPolls.lua',
  'storeVersion-5.lua',
  'markDecided-2.lua',
  'recordDeployment-2.lua',
  'saveDescriptor-2.lua',
  'unindexInstallations.lua',
  'readIndexEntries.lua',
  'writeIndexEntries.lua',
  'claimIndexEntries.lua',
  'hasInstallations-1.lua',
  'setRolloutStatus-1.lua',
  'markSuperseded-1.lua',
  'finishPlanning-2.lua',
  'pushBuckets.lua',
  'planInstallationList-6.lua',
  'registerInstallations-5.lua',
  'ackRegistrations-1.lua',
  'compareAndSetVersions-3.lua',
  'upgradeRange-5.lua',
  'migrateRecords-4.lua',
  'syncWindowed-2.lua',
  'readPlanChunk-3.lua',
  'approveInstallation-2.lua',
  'markUpdateAvailable-2.lua',
  'claimBulkUpgrade-1.lua',
  'pushBulkCandidates-3.lua',
  'planBulkChunk-4.lua',
  'readBulkBatch-4.lua',
  'applyBulkMoves-6.lua',
  'finishBulkPlan-4.lua',
  'cancelBulkUpgrade-4.lua',
  'releaseAdoptions-8.lua',
  'receiveAdoptions-6.lua',
  'createRecord-1.lua',
  'claimReminder-2.lua',
  'setPhases-1.lua',
  'recordFailure-3.lua',
  'setAppField-1.lua',
] as const;

/**
 * The command names of the scripts that take numkeys first (no number in their file name). On a
 * Redis Cluster connection with auto-pipelining they must be left out of it
 * (`autoPipeliningIgnoredCommands`): ioredis groups an auto-pipelined script by its first
 * argument, which for these is numkeys, not a key, so it would send the script to the wrong node.
 */
export const VARIADIC_KEY_SCRIPTS: readonly string[] = SCRIPT_FILES.filter((f) => !/-\d+\.lua$/.test(f)).map(
  (f) => `mpu${f[0]!.toUpperCase()}${f.slice(1, -'.lua'.length)}`,
);

/** A script argument: ioredis sends numbers as their decimal text. */
type Arg = string | number;

/**
 * The commands `defineScripts` adds, with their raw replies (what the Lua returns; see each
 * file's header). Keys come first, then the ARGV, in the files' order; scripts without a number
 * in their file name take numkeys first. Replies are decoded by script-results.ts.
 */
export interface ScriptCommands {
  /** claimPolls.lua: per app 'G', 'T' .. owner or 'C' .. NUL-joined fields. */
  mpuClaimPolls(numKeys: number, ...keysAndArgs: string[]): Promise<string[]>;
  /** recordPolls.lua: per app 1 recorded, 0 gone. */
  mpuRecordPolls(numKeys: number, ...keysAndArgs: string[]): Promise<number[]>;
  /** storeVersion-5.lua: {status, value}. */
  mpuStoreVersion(
    versions: string,
    order: string,
    deployments: string,
    descriptor: string,
    app: string,
    expectedLatest: string,
    version: string,
    recordJson: string,
    deploymentId: string,
    canonical: string,
    descriptorHash: string,
    polledAt: string,
  ): Promise<[string, string]>;
  /** markDecided-2.lua: 'ok' | 'conflict' | 'gone'. */
  mpuMarkDecided(app: string, order: string, detectedAt: Arg, latest: string): Promise<string>;
  /** recordDeployment-2.lua: 1 recorded, 0 known, -1 gone. */
  mpuRecordDeployment(app: string, deployments: string, deploymentId: string): Promise<number>;
  /** saveDescriptor-2.lua: 1 stored, 0 stored already, -1 gone. */
  mpuSaveDescriptor(app: string, descriptor: string, canonical: string): Promise<number>;
  /** unindexInstallations.lua: index entries deleted (KEYS: buckets; ARGV: packed bucket number, field, expected value triples). */
  mpuUnindexInstallations(numKeys: number, ...keysAndPacked: (string | Buffer)[]): Promise<number>;
  /** readIndexEntries.lua: (entry number, digest value, fallback value) triples of the entries with a value. */
  mpuReadIndexEntries(numKeys: number, ...keysAndPacked: (string | Buffer)[]): Promise<(string | number | null)[]>;
  /** writeIndexEntries.lua: index entries written (KEYS: buckets and marks; ARGV: packed bucket, marks, field, value). */
  mpuWriteIndexEntries(numKeys: number, ...keysAndPacked: (string | Buffer)[]): Promise<number>;
  /** claimIndexEntries.lua: 1 every entry written at its digest field, 0 nothing written. */
  mpuClaimIndexEntries(numKeys: number, ...keysAndPacked: (string | Buffer)[]): Promise<number>;
  /** hasInstallations-1.lua: 1/0 per id, whether the record hash has it. */
  mpuHasInstallations(data: string, ...ids: string[]): Promise<number[]>;
  /** setRolloutStatus-1.lua: 'ok' | 'stale' | 'missing'. */
  mpuSetRolloutStatus(
    rollout: string,
    expectedStatus: string,
    expectedResumeTo: string,
    status: string,
    resumeTo: string,
    ...phasesAndFields: string[]
  ): Promise<string>;
  /** setAppField-1.lua: 1 written, 0 the app is not registered. */
  mpuSetAppField(app: string, field: string, value: string): Promise<number>;
  /** setPhases-1.lua: 'ok' | 'stale' | 'halted' | 'missing'. */
  mpuSetPhases(rollout: string, expectedPhases: string, phases: string): Promise<string>;
  /** recordFailure-3.lua: -1 no rollout, -2 unknown installation, {added 1/0, count}. */
  mpuRecordFailure(
    rollout: string,
    failures: string,
    installationData: string,
    installationId: string,
    failureJson: string,
  ): Promise<number | [number, number]>;
  /** markSuperseded-1.lua: 1 marked, 0 no rollout. */
  mpuMarkSuperseded(rollout: string, newerVersion: string): Promise<number>;
  /** finishPlanning-2.lua: 'ok' | 'behind' | 'stale' | 'missing'. */
  mpuFinishPlanning(
    rollout: string,
    installationIds: string,
    summaryJson: string,
    batches: Arg,
    plannedAt: Arg,
    expectedStatus: string,
    expectedResumeTo: string,
    status: string,
    resumeTo: string,
  ): Promise<string>;
  /** pushBuckets.lua: 1 appended, 0 no rollout, -1 cursor moved. */
  mpuPushBuckets(numKeys: number, ...keysAndArgs: string[]): Promise<number>;
  /** planInstallationList-6.lua: {size (the new cursor), flat distribution}, -1 no rollout, -2 cursor moved, -3 windows or approvals that matter. */
  mpuPlanInstallationList(
    buckets: string,
    rollout: string,
    ids: string,
    distribution: string,
    windowed: string,
    approved: string,
    at: Arg,
    expected: Arg,
    approvalSensitive: string,
  ): Promise<[number, string[]] | number>;
  /** registerInstallations-5.lua: new installations. */
  mpuRegisterInstallations(
    ids: string,
    data: string,
    distribution: string,
    log: string,
    windowed: string,
    at: Arg,
    ...idJsonVersion: Arg[]
  ): Promise<number>;
  /** ackRegistrations-1.lua: 1 dropped, 0 another planner did. */
  mpuAckRegistrations(log: string, first: string, count: Arg): Promise<number>;
  /** releaseAdoptions-8.lua: {moved, conflicts, done, pending id/value pairs}. */
  mpuReleaseAdoptions(
    connectData: string,
    connectApproved: string,
    connectAvailable: string,
    connectDistribution: string,
    connectLeft: string,
    released: string,
    pending: string,
    connectWindowed: string,
    at: Arg,
    connectAppId: string,
    forgeAppId: string,
    version: string,
    lines: string,
  ): Promise<[number, number, number, string[]]>;
  /** receiveAdoptions-6.lua: installations received now. */
  mpuReceiveAdoptions(
    forgeIds: string,
    forgeData: string,
    forgeDistribution: string,
    forgeLog: string,
    outcomes: string,
    forgeWindowed: string,
    at: Arg,
    version: string,
    lines: string,
  ): Promise<number>;
  /** createRecord-1.lua: 1 created, 0 the record exists. */
  mpuCreateRecord(key: string, guardField: string, ...fieldsAndValues: string[]): Promise<number>;
  /** compareAndSetVersions-3.lua: {installations moved, of which deferred}. */
  mpuCompareAndSetVersions(
    data: string,
    distribution: string,
    deferrals: string,
    at: Arg,
    moves: string,
    withDeferrals: '0' | '1',
  ): Promise<[number, number]>;
  /** upgradeRange-5.lua: {considered, moved, deferred, targets, ids left to the caller}. */
  mpuUpgradeRange(
    bucket: string,
    data: string,
    distribution: string,
    deferrals: string,
    approved: string,
    at: Arg,
    start: Arg,
    stop: Arg,
    targets: string,
    withDeferrals: '0' | '1',
  ): Promise<number | [number, number, number, (string | number)[], string[]]>;
  /** migrateRecords-4.lua: {merged, dropped, skipped}. */
  mpuMigrateRecords(
    data: string,
    oldVersion: string,
    oldHistory: string,
    left: string,
    mode: 'records' | 'left',
    ...ids: string[]
  ): Promise<[number, number, number]>;
  /** syncWindowed-2.lua: {ids added to the windowed set, ids removed from it}. */
  mpuSyncWindowed(data: string, windowed: string, ...ids: string[]): Promise<[number, number]>;
  /** claimReminder-2.lua: 1 claimed, 0 not. */
  mpuClaimReminder(
    notices: string,
    reminders: string,
    member: string,
    id: string,
    score: Arg,
    at: Arg,
    next: Arg,
  ): Promise<number>;
  /** readPlanChunk-3.lua: {ids, `<version>\x1f<JSON>` records, approved} (nil where absent; approved empty when none). */
  mpuReadPlanChunk(
    ids: string,
    data: string,
    approved: string,
    start: Arg,
    stop: Arg,
  ): Promise<[string[], (string | null)[], (string | null)[]]>;
  /** approveInstallation-2.lua: 1 recorded, 0 not (stale or unregistered). */
  mpuApproveInstallation(
    approved: string,
    data: string,
    id: string,
    expected: string,
    next: string,
    entries: string,
  ): Promise<number>;
  /** markUpdateAvailable-2.lua: installations newly marked. */
  mpuMarkUpdateAvailable(
    available: string,
    data: string,
    entry: string,
    availableVersion: string,
    ...ids: string[]
  ): Promise<number>;
  /** claimBulkUpgrade-1.lua: 1 claimed, 0 the running set changed. */
  mpuClaimBulkUpgrade(running: string, seenIds: string, id: string, value: string): Promise<number>;
  /** pushBulkCandidates-3.lua: 1 appended, 0 cursor moved, -1 not running. */
  mpuPushBulkCandidates(
    record: string,
    candidates: string,
    outcomes: string,
    expectedCursor: Arg,
    cursor: Arg,
    skips: Arg,
    ...pairsThenIds: string[]
  ): Promise<number>;
  /** planBulkChunk-4.lua: {1, read, candidates} appended, {0, 0, 0} cursor moved, {-1, 0, 0} not running. */
  mpuPlanBulkChunk(
    record: string,
    candidates: string,
    installationIds: string,
    data: string,
    cursor: Arg,
    chunk: Arg,
    fromMajor: Arg,
  ): Promise<[number, number, number]>;
  /** readBulkBatch-4.lua: {ids, versions, approved, records}. */
  mpuReadBulkBatch(
    candidates: string,
    outcomes: string,
    approved: string,
    data: string,
    start: Arg,
    stop: Arg,
  ): Promise<[string[], string[], string[], string[]]>;
  /** applyBulkMoves-6.lua: {state, moved, skipped, conflicts}. */
  mpuApplyBulkMoves(
    data: string,
    distribution: string,
    outcomes: string,
    record: string,
    candidates: string,
    requested: string,
    at: Arg,
    bulkId: string,
    target: string,
    ttlMs: Arg,
    expiresAt: Arg,
    lines: string,
  ): Promise<[string, number, number, number]>;
  /** finishBulkPlan-4.lua: 'ok' | 'finished' | 'stopped'. */
  mpuFinishBulkPlan(
    record: string,
    outcomes: string,
    candidates: string,
    requested: string,
    at: Arg,
    ttlMs: Arg,
    expiresAt: Arg,
  ): Promise<string>;
  /** cancelBulkUpgrade-4.lua: 'ok' | 'finished' | 'missing'. */
  mpuCancelBulkUpgrade(
    record: string,
    outcomes: string,
    candidates: string,
    requested: string,
    at: Arg,
    ttlMs: Arg,
    expiresAt: Arg,
  ): Promise<string>;
}

/** The command name of a script file: `storeVersion-5.lua` → `mpuStoreVersion`. */
type CommandName<F extends string> = F extends `${infer N}-${number}.lua`
  ? `mpu${Capitalize<N>}`
  : F extends `${infer N}.lua`
    ? `mpu${Capitalize<N>}`
    : never;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Compile-time check: one typed command per script file, and no other.
const _everyFileTyped: Same<keyof ScriptCommands, CommandName<(typeof SCRIPT_FILES)[number]>> = true;

/** A connection with every script defined as a command (`defineScripts`). */
export type ScriptedRedis = RedisConnection & ScriptCommands;

/** A pipeline of a `ScriptedRedis`: the scripts queue like any command (see `scriptedPipeline`). */
export type ScriptedPipeline = ChainableCommander & {
  [K in keyof ScriptCommands]: (...args: Parameters<ScriptCommands[K]>) => ScriptedPipeline;
};

/** One script as `defineCommand` takes it. */
export interface ScriptDefinition {
  /** The command name, `mpu<Name>`. */
  name: keyof ScriptCommands;
  /** The file in `./commands/`. */
  file: (typeof SCRIPT_FILES)[number];
  /** From the file name; undefined when it varies (the caller passes numkeys). */
  numberOfKeys: number | undefined;
  lua: string;
}

let sources: readonly ScriptDefinition[] | undefined;

/**
 * Every script, read from `./commands/` on the first call and kept for the process.
 * @throws the file system's error when a .lua file is missing (e.g. a build that did not copy
 *   them beside the compiled module).
 */
export function loadScripts(): readonly ScriptDefinition[] {
  sources ??= SCRIPT_FILES.map((file) => {
    const m = /^([A-Za-z]+)(?:-(\d+))?\.lua$/.exec(file)!;
    const name = `mpu${m[1]![0]!.toUpperCase()}${m[1]!.slice(1)}` as keyof ScriptCommands;
    const lua = readFileSync(new URL(`./commands/${file}`, import.meta.url), 'utf8');
    return { name, file, numberOfKeys: m[2] === undefined ? undefined : Number(m[2]), lua };
  });
  return sources;
}

/** Connections the scripts are defined on already. */
const defined = new WeakSet<RedisConnection>();

/**
 * Defines every script on `redis` as a command (once per connection: later calls only return
 * it) and returns the same connection, typed with the commands. Every store calls it in its
 * constructor; nothing else in src/ calls `defineCommand` (eslint.config.js).
 * @throws as `loadScripts` when a .lua file cannot be read.
 */
export function defineScripts(redis: RedisConnection): ScriptedRedis {
  if (!defined.has(redis)) {
    for (const s of loadScripts()) {
      const definition = s.numberOfKeys === undefined ? { lua: s.lua } : { numberOfKeys: s.numberOfKeys, lua: s.lua };
      redis.defineCommand(s.name, definition);
    }
    defined.add(redis);
  }
  return redis as ScriptedRedis;
}

/** A pipeline of `redis` on which the scripts can be queued (ioredis copies them onto it). */
export function scriptedPipeline(redis: ScriptedRedis): ScriptedPipeline {
  return redis.pipeline() as ScriptedPipeline;
}
