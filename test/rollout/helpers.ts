/** Test doubles we own (STYLE.md): an in-memory VersionReader, and a queue-draining helper. */
import type { Queue } from 'bullmq';
import type { VersionReader, VersionRecord } from '../../src/store/types.js';

export class MemoryVersions implements VersionReader {
  private readonly byApp = new Map<string, VersionRecord[]>();
  add(
    r: Omit<VersionRecord, 'reasons' | 'warnings' | 'descriptorHash' | 'source'> & Partial<VersionRecord>,
  ): VersionRecord {
    const rec: VersionRecord = {
      reasons: [],
      warnings: [],
      descriptorHash: 'sha256:' + '0'.repeat(64),
      source: 'cli',
      ...r,
    };
    const l = this.byApp.get(rec.appId) ?? [];
    l.push(rec);
    this.byApp.set(rec.appId, l);
    return rec;
  }
  async getVersion(appId: string, version: string): Promise<VersionRecord | null> {
    return this.byApp.get(appId)?.find((v) => v.version === version) ?? null;
  }
  async listVersions(appId: string): Promise<VersionRecord[]> {
    return [...(this.byApp.get(appId) ?? [])];
  }
}

/** Waits until no job of `queues` is waiting or active (delayed ones may remain). */
export async function drain(queues: Queue[], timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let idle = 0;
  while (Date.now() < until) {
    let busy = 0;
    for (const q of queues) {
      const c = await q.getJobCounts('waiting', 'active', 'prioritized');
      busy += (c.waiting ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0);
    }
    idle = busy === 0 ? idle + 1 : 0;
    if (idle >= 2) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('queues did not drain in time');
}

/** Promotes every delayed job (they recheck the clock and go back to sleep if early), then drains. */
export async function promoteAndDrain(queues: Queue[]): Promise<void> {
  for (const q of queues) await q.promoteJobs();
  await drain(queues);
}
