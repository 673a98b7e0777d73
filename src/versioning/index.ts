/**
 * Public API of the versioning engine (pure: no I/O, no clock). Other layers import from here.
 */
export * from './types.js';
export { parseDescriptor, detectKind } from './parse-descriptor.js';
export { classifyChange, classifyDeploy, type ClassifyOptions } from './classify-change.js';
export {
  CONNECT_PRODUCTS,
  PRODUCT_NAME,
  chooseProduct,
  type ConnectProduct,
  type ProductChoice,
  type ProductScopes,
} from './connect-products.js';
export {
  judgeAdoption,
  checkAdoptionPair,
  connectKeyOf,
  type AdoptionVerdict,
  type AdoptionOptions,
} from './adoption.js';
export { SHIPPED_SCOPE_EQUIVALENCES } from './scope-equivalences.js';
export { nextVersion, initialVersion } from './next-version.js';
export { defaultPolicy, parsePolicy, type VersioningPolicy, type ScopeEquivalence } from './policy.js';
export { diffDocuments } from './diff.js';
export {
  replayHistory,
  replayMove,
  summarizeTimeline,
  type HistoryItem,
  type TimelineEntry,
  type Replay,
  type ReplaySummary,
} from './replay.js';
export { checkBulkUpgrade, type BulkUpgradeInput, type BulkUpgradeVerdict } from './bulk-upgrade.js';
