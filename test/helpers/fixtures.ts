/**
 * Where the real descriptor histories are: ../shared/fixtures/real beside the checkout, or
 * MPU_FIXTURES_DIR. They come from public repositories and are never copied into the project.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const FIXTURES_DIR = process.env.MPU_FIXTURES_DIR ?? path.resolve(here, '../../../shared/fixtures/real');

/** Throws with a clear message when the fixtures are missing. */
export function requireFixtures(): string {
  if (!existsSync(path.join(FIXTURES_DIR, 'expected.jsonl'))) {
    throw new Error(
      `real fixtures not found at ${FIXTURES_DIR}: put ../shared beside the checkout or set MPU_FIXTURES_DIR`,
    );
  }
  return FIXTURES_DIR;
}
