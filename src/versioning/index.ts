/**
 * Public API of the versioning engine (pure: no I/O, no clock). Other layers import from here.
 */
export * from './types.js';
export { parseDescriptor, detectKind } from './parse-descriptor.js';
export { classifyChange, classifyDeploy } from './classify-change.js';
export { nextVersion, initialVersion } from './next-version.js';
export { defaultPolicy, parsePolicy, type VersioningPolicy } from './policy.js';
export { diffDocuments } from './diff.js';
export {
  replayHistory,
  summarizeTimeline,
  type HistoryItem,
  type TimelineEntry,
  type Replay,
  type ReplaySummary,
} from './replay.js';
export { checkBulkUpgrade, type BulkUpgradeInput, type BulkUpgradeVerdict } from './bulk-upgrade.js';
