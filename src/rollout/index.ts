/** Pure rollout planning: no Redis, no HTTP, no wall clock. */
export * from './types.js';
export * from './policy.js';
export * from './windows.js';
export * from './version-ladder.js';
export * from './plan-rollout.js';
export * from './generate-population.js';
export * from './simulate-rollout.js';
export * from './installation-input.js';
export * from './plan-late.js';
export * from './rollout-status.js';
export * from './installation-history.js';
export * from './plan-adoption.js';
export * from './explain-installation.js';
