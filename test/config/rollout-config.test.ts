/**
 * MPU_FORGE_SPREAD: how long an automatic Forge version takes to reach every installation (5
 * minutes by default; 0 sends it to all at once), passed to the rollout policy.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

describe('MPU_FORGE_SPREAD', () => {
  it('is 5 minutes by default, and takes 0 and durations up to 24h', () => {
    expect(loadConfig({}).forgeSpreadMs).toBe(300_000);
    expect(loadConfig({ MPU_FORGE_SPREAD: '0' }).forgeSpreadMs).toBe(0);
    expect(loadConfig({ MPU_FORGE_SPREAD: '0s' }).forgeSpreadMs).toBe(0);
    expect(loadConfig({ MPU_FORGE_SPREAD: '90s' }).forgeSpreadMs).toBe(90_000);
    expect(loadConfig({ MPU_FORGE_SPREAD: '24h' }).forgeSpreadMs).toBe(86_400_000);
  });

  it('refuses what is not a duration, or more than a day, naming the variable', () => {
    for (const bad of ['soon', '-5m', '25h'])
      expect(() => loadConfig({ MPU_FORGE_SPREAD: bad }), bad).toThrow(/MPU_FORGE_SPREAD/);
  });
});
