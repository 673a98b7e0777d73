/**
 * End to end: a local server replays a real Connect descriptor history from
 * ../shared/fixtures/real, advancing one version per poll; the scheduler (ManualClock), the real
 * poll and versioning queues and workers produce exactly the expected versions in order; 304s
 * and reformatted-but-equal bodies produce none.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR } from '../../src/lib/clock.js';
import { nextVersion } from '../../src/versioning/index.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { schedulerTick } from '../../src/workers/scheduler.js';
import { planRolloutJobId } from '../../src/jobs/queues.js';
import { requireFixtures } from '../helpers/fixtures.js';
import {
  createHarness,
  localFetchPolicy,
  startLocalServer,
  type Harness,
  type LocalServer,
} from '../helpers/detection-harness.js';

interface Expected {
  kind: string;
  app: string;
  from_file: string;
  to_file: string;
  bump: 'major' | 'minor' | 'micro' | 'none';
  approval: string;
}

const APPS = ['CodeNow__agreeable-egret', 'jmigueprieto__ticket-linter'];

describe('daemon: poll a real descriptor history end to end', () => {
  let h: Harness;
  let server: LocalServer;
  const fixtures = requireFixtures();
  const expected = readFileSync(path.join(fixtures, 'expected.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Expected);
  // Per app: which file the server serves now, and whether to reformat it (same content, new ETag).
  const serving = new Map<string, { index: number; files: string[]; reformat: boolean }>();

  beforeEach(async () => {
    server = await startLocalServer((req, res) => {
      const app = decodeURIComponent((req.url ?? '/').slice(1).replace(/\/atlassian-connect\.json$/, ''));
      const s = serving.get(app);
      if (!s) return void res.writeHead(404).end();
      const etag = `"${s.index}${s.reformat ? '-r' : ''}"`;
      if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
      let body = readFileSync(path.join(fixtures, 'connect', app, s.files[s.index]!), 'utf8');
      if (s.reformat) body = '\n  ' + body.replace(/\n/g, '\n  ') + '\n\n';
      res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
    });
    h = await createHarness({
      workers: true,
      fetchPolicy: localFetchPolicy(server.port),
      settings: { pollIntervalMs: 5 * HOUR },
    });
  });
  afterEach(async () => {
    await h.close();
    await server.close();
  });

  it('produces exactly the expected versions, in order, and nothing for 304s or equal bodies', async () => {
    const want = new Map<string, { version: string; bump: string; approval: string }[]>();
    for (const app of APPS) {
      const files = readdirSync(path.join(fixtures, 'connect', app))
        .filter((f) => f.endsWith('.json'))
        .sort();
      serving.set(app, { index: 0, files, reformat: false });
      await registerConnectApp(h.ctx, app, server.url(`/${app}/atlassian-connect.json`));
      const list = [{ version: nextVersion('connect', null, 'major'), bump: 'initial', approval: 'automatic' }];
      for (const e of expected.filter((x) => x.kind === 'connect' && x.app === app)) {
        if (e.bump === 'none') continue;
        list.push({
          version: nextVersion('connect', list.at(-1)!.version, e.bump),
          bump: e.bump,
          approval: e.approval,
        });
      }
      want.set(app, list);
    }
    const cycles = Math.max(...[...serving.values()].map((s) => s.files.length));
    const outcomes: string[] = [];
    for (let i = 0; i < cycles; i++) {
      for (const s of serving.values()) s.index = Math.min(i, s.files.length - 1);
      // 1. the new file (or the last one again once the history is exhausted)
      for (const s of serving.values()) s.reformat = false;
      expect((await schedulerTick(h.ctx)).due).toBe(APPS.length);
      expect((await schedulerTick(h.ctx)).due).toBe(0); // a second tick in the same slot enqueues nothing
      await h.drain();
      h.clock.advance(5 * HOUR);
      // 2. the same file again: 304
      await schedulerTick(h.ctx);
      await h.drain();
      outcomes.push((await h.ctx.apps.requireApp(APPS[0]!)).lastPollOutcome!);
      h.clock.advance(5 * HOUR);
      // 3. the same content reformatted under a new ETag: 200, unchanged
      for (const s of serving.values()) s.reformat = true;
      await schedulerTick(h.ctx);
      await h.drain();
      h.clock.advance(5 * HOUR);
    }
    expect(outcomes.every((o) => o === 'not-modified')).toBe(true);
    for (const app of APPS) {
      const versions = await h.ctx.versions.listVersions(app);
      expect(
        versions.map((v) => ({ version: v.version, bump: v.bump, approval: v.approval })),
        app,
      ).toEqual(want.get(app));
      expect(versions.every((v) => v.source === 'poll')).toBe(true);
      const shown = await h.ctx.apps.requireApp(app);
      expect(shown).toMatchObject({ status: 'active', consecutiveFailures: 0, totalFailures: 0 });
      for (const v of versions) {
        expect(
          await h.ctx.queues.rollout.getJob(planRolloutJobId({ v: 1, appId: app, version: v.version })),
          `${app} ${v.version} plan`,
        ).toBeDefined();
        expect(await h.ctx.descriptors.getDescriptorText(app, v.descriptorHash)).not.toBeNull();
      }
      if (app === 'CodeNow__agreeable-egret') expect(versions.length).toBe(14); // 15 files, one pair without change
    }
  });
});
