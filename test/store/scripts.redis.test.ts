/**
 * The script loader (src/store/scripts.ts): the folder of .lua files and the list of scripts
 * agree, every file documents itself, its number of keys matches the KEYS it uses, and the
 * scripts are defined once per connection, on the connection and on its pipelines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { defineScripts, loadScripts, SCRIPT_FILES, scriptedPipeline } from '../../src/store/scripts.js';
import { connectTestRedis } from '../helpers/redis.js';

const DIR = new URL('../../src/store/commands/', import.meta.url);

describe('script files', () => {
  it('the folder holds exactly the listed scripts', () => {
    expect(readdirSync(DIR).sort()).toEqual([...SCRIPT_FILES].sort());
  });

  it.each([...SCRIPT_FILES])('%s has a header (what, KEYS, ARGV, output) and uses the KEYS its name says', (file) => {
    const text = readFileSync(new URL(file, DIR), 'utf8');
    const end = text.indexOf(']]');
    expect(text.startsWith('--[[\n')).toBe(true);
    expect(end).toBeGreaterThan(0);
    const header = text.slice(0, end);
    const code = text.slice(end + 2);
    expect(header).toMatch(/KEYS\[/);
    expect(header).toMatch(/Output/);
    const declared = /-(\d+)\.lua$/.exec(file)?.[1];
    const used = Math.max(0, ...[...code.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
    if (declared === undefined) {
      // a varying number of keys: the script walks KEYS (ipairs or #KEYS), and says so
      expect(code).toMatch(/ipairs\(KEYS\)|#KEYS/);
      expect(header).toMatch(/numkeys/);
    } else {
      expect(used).toBe(Number(declared));
      for (let i = 1; i <= used; i++) expect(header).toContain(`KEYS[${i}]`);
    }
    // every ARGV index the code reads is described (scripts that walk ARGV describe a range)
    for (const m of code.matchAll(/ARGV\[(\d+)\]/g)) expect(header).toMatch(new RegExp(`ARGV\\[(${m[1]}|[^\\]]*)`));
  });

  it('are read once per process', () => {
    expect(loadScripts()).toBe(loadScripts());
    expect(loadScripts().map((s) => s.name)).toContain('mpuStoreVersion');
    expect(loadScripts().find((s) => s.file === 'pushBuckets.lua')!.numberOfKeys).toBeUndefined();
    expect(loadScripts().find((s) => s.file === 'storeVersion-5.lua')!.numberOfKeys).toBe(5);
  });
});

describe('defineScripts (real Redis)', () => {
  let redis: Redis;
  beforeEach(async () => {
    redis = await connectTestRedis();
  });
  afterEach(async () => {
    await redis.quit();
  });

  it('defines every script once per connection, on it and on its pipelines', async () => {
    const spy = vi.spyOn(redis, 'defineCommand');
    const scripted = defineScripts(redis);
    expect(scripted).toBe(redis);
    expect(spy).toHaveBeenCalledTimes(SCRIPT_FILES.length);
    defineScripts(redis);
    expect(spy).toHaveBeenCalledTimes(SCRIPT_FILES.length);
    const pipe = scriptedPipeline(scripted);
    for (const s of loadScripts()) {
      expect(typeof (scripted as unknown as Record<string, unknown>)[s.name]).toBe('function');
      expect(typeof (pipe as unknown as Record<string, unknown>)[s.name]).toBe('function');
    }
    // a script runs (EVALSHA, falling back to EVAL): ack of an empty log is "not first"
    expect(await scripted.mpuAckRegistrations(`test-${Math.random()}:none`, 'x', 1)).toBe(0);
  });
});
