#!/usr/bin/env node
// Launcher of `mpu`. Runs the compiled CLI (dist/, `npm run build`) when there is one and it is
// not older than the sources, else the TypeScript sources through tsx, so `npx mpu` works in a
// checkout without a build step and never runs a stale build:
// - no src/ beside dist/ (the Docker image, a package): dist, without looking further;
// - a checkout: dist when dist/cli/main.js is at least as new as every file under src/, else tsx;
// - MPU_DEV=1 forces tsx, MPU_DEV=0 forces dist (both for people who know which they want).
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist/cli/main.js');
const src = path.join(root, 'src');

/** Newest modification time (ms) of any file under `dir`. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function useDist() {
  if (process.env.MPU_DEV === '1') return false;
  if (!existsSync(dist)) return false;
  if (process.env.MPU_DEV === '0' || !existsSync(src)) return true;
  return statSync(dist).mtimeMs >= newest(src);
}

if (useDist()) {
  await import(pathToFileURL(dist).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
