/** What a CLI command (run in-process) prints on stdout. */
import { vi } from 'vitest';

/** Runs `fn` with `process.stdout.write` captured; resolves with what it wrote. */
export async function capture(fn: () => Promise<void>): Promise<string> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}
