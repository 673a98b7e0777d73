/**
 * The demo's phased-release act (src/rollout/phased-release.ts, src/app/rollout/phased-release.ts):
 * beside the demo's apps, one more Connect app, served by the demo's fixture server, whose
 * automatic version is rolled out in phases (10, 25, 50, 100 % every 6 simulated hours). When its
 * second phase is running, the vendor's monitoring reports failed upgrades of a few installations
 * that took it: past the error budget the rollout pauses itself, says why and notifies; an
 * operator resumes it 4 simulated hours later, and the phases go on, moved by the pause. At the
 * end the act prints the phase timeline: each phase's percentage, simulated time, cohort size and
 * upgrades so far, the pause with its reason, and the resume. Its app is not one of the demo's
 * promises (a phased release is slower than Atlassian's windows by design).
 */
import type { RolloutNotice } from '../app/rollout/notifier.js';
import { HOUR } from '../lib/clock.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Runtime } from '../runtime.js';
import { registerConnectApp } from '../app/detection/register-app.js';
import { generatePopulation } from '../app/rollout/installations.js';
import { controlRollout } from '../app/rollout/rollouts.js';
import { reportFailure, setAppPhasedRelease } from '../app/rollout/phased-release.js';
import type { FixtureServer, ServedHistory } from './fixture-server.js';

/** The act's app: its served name and registered id. */
const NAME = 'phased-release-act';
const APP_ID = `demo-${NAME}`;
const SCHEDULE = { percents: [10, 25, 50, 100], intervalMs: 6 * HOUR };
const INSTALLATIONS = 240;
/** Failures the monitoring reports: one more than the default budget of 5. */
const FAILURES = 6;
const PAUSE_HOURS = 4;

/** One line of the timeline. `at` simulated epoch ms. */
export interface PhasedActEvent {
  at: number;
  kind: 'phase' | 'paused' | 'resumed' | 'failures';
  /** Phase (1-based), its percentage and cohort, when `kind` is `phase`. */
  phase?: number;
  percent?: number;
  cohortSize?: number;
  /** Installations on the version then. */
  upgraded: number;
  /** Who and why, for a pause or a resume. */
  by?: string;
  reason?: string;
}

/** What the act did, for the demo's report. */
export interface PhasedActReport {
  appId: string;
  version: string | null;
  schedule: { percents: number[]; intervalMs: number };
  installations: number;
  events: PhasedActEvent[];
  /** Installations on the version at the end. */
  upgraded: number;
  /** Pauses by the error budget (each sends the notifier a `rollout-paused` notice). */
  notices: number;
  /** The timeline as printed. */
  lines: string[];
}

/** The act, created before the demo's fixture server (it serves `served`). */
export interface PhasedAct {
  /** The act's descriptor history, for the fixture server; null when the act is skipped. */
  served: ServedHistory | null;
  /** Registers the app and starts following its rollout. */
  begin(ctx: Runtime, server: FixtureServer): Promise<void>;
  /** Stops, and reports the timeline (null when skipped). */
  finish(): Promise<PhasedActReport | null>;
}

/**
 * Builds the act from a Connect descriptor text (the demo's first Connect app's first version):
 * version 1 is that descriptor, version 2 the same with its description changed (a micro,
 * automatic change), served from `start + 6 h`. Without a descriptor that parses as JSON the act
 * is skipped.
 */
export function createPhasedAct(opts: {
  descriptor: string | undefined;
  start: number;
  end: number;
  clock: Clock;
  logger: Logger;
}): PhasedAct {
  let second: string | null = null;
  try {
    const d = JSON.parse(opts.descriptor ?? '') as Record<string, unknown>;
    second = JSON.stringify({ ...d, description: `${String(d.description ?? '')} (phased release)`.trim() }, null, 2);
  } catch {
    second = null;
  }
  if (second === null || opts.descriptor === undefined) {
    return { served: null, begin: async () => {}, finish: async () => null };
  }
  const served: ServedHistory = {
    name: NAME,
    versions: [opts.descriptor, second],
    changeAt: [opts.start, opts.start + 6 * HOUR],
  };
  const events: PhasedActEvent[] = [];
  const notices: RolloutNotice[] = [];
  let ctx: Runtime | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let populated = false;
  let version: string | null = null;
  /** The app's first version: its rollout is not the act's (it updates nobody). */
  let first: string | null = null;
  const ours = (e: { appId: string; version: string }) => e.appId === APP_ID && e.version !== first;
  let reported = false;
  let pausedAt: number | null = null;
  let resumed = false;
  const offs: (() => void)[] = [];

  const upgraded = async (): Promise<number> => {
    if (!ctx || !version) return 0;
    const r = await ctx.rollouts.get(APP_ID, version);
    return r ? (await ctx.rollouts.view(r)).reached : 0;
  };

  const tick = async (): Promise<void> => {
    const c = ctx!;
    const now = opts.clock.now();
    const versions = await c.versions.listVersions(APP_ID);
    if (!populated && versions.length > 0) {
      populated = true;
      first = versions[0]!.version;
      await generatePopulation(c, {
        appId: APP_ID,
        count: INSTALLATIONS,
        seed: 14,
        version: versions[0]!.version,
        now,
      });
      await setAppPhasedRelease(c, APP_ID, SCHEDULE);
    }
    if (version === null && versions.length > 1) version = versions[1]!.version;
    if (!version) return;
    const r = await c.rollouts.get(APP_ID, version);
    if (!r?.phases) return;
    // The monitoring reports failures once the second phase runs and enough installations took it.
    if (!reported && r.phases.phase >= 1 && r.status !== 'paused') {
      const ids: string[] = [];
      for await (const [id, h] of c.installs.scanHistory(APP_ID))
        if (h.some((e) => e.kind === 'upgraded' && e.to === version)) ids.push(id);
      if (ids.length >= FAILURES) {
        reported = true;
        for (const id of ids.sort().slice(0, FAILURES))
          await reportFailure(c, { installationId: id, version, reason: 'health check failed', by: 'demo-monitoring' });
        events.push({
          at: now,
          kind: 'failures',
          upgraded: await upgraded(),
          reason: `${FAILURES} failed upgrades reported`,
        });
      }
    }
    if (r.status === 'paused' && r.pause?.by === 'system' && pausedAt === null) pausedAt = r.pause.at;
    if (pausedAt !== null && !resumed && now >= pausedAt + PAUSE_HOURS * HOUR) {
      resumed = true;
      await controlRollout(c, APP_ID, version, 'resume', 'demo-operator');
    }
  };

  return {
    served,
    async begin(c, server) {
      ctx = c;
      await registerConnectApp(c, APP_ID, server.url(NAME));
      // The notifier of the demo's daemon logs; the act counts the notices from the events it sees.
      offs.push(
        c.events.on('rollout:phase', (e) => {
          if (e.appId !== APP_ID) return;
          void upgraded().then((n) =>
            events.push({
              at: e.at,
              kind: 'phase',
              phase: e.phase + 1,
              percent: e.percent,
              cohortSize: e.cohortSize,
              upgraded: n,
            }),
          );
        }),
        c.events.on('rollout:paused', (e) => {
          if (!ours(e)) return;
          if (e.by === 'system')
            notices.push({ type: 'rollout-paused', appId: e.appId, version: e.version, at: e.at, reason: e.reason });
          void upgraded().then((n) =>
            events.push({ at: e.at, kind: 'paused', by: e.by, reason: e.reason, upgraded: n }),
          );
        }),
        c.events.on('rollout:resumed', (e) => {
          if (!ours(e)) return;
          void upgraded().then((n) =>
            events.push({ at: e.at, kind: 'resumed', by: e.by, reason: "an operator's decision", upgraded: n }),
          );
        }),
      );
      timer = setInterval(() => {
        running = running
          .then(() => (opts.clock.now() < opts.end ? tick() : undefined))
          .catch((err: unknown) => opts.logger.warn({ err }, 'demo:phased act step failed'));
      }, 250);
    },
    async finish() {
      if (timer) clearInterval(timer);
      await running;
      for (const off of offs) off();
      const total = await upgraded();
      const h = (at: number) => `+${((at - opts.start) / HOUR).toFixed(1)}h`.padStart(7);
      const lines = [
        '',
        `phased release of ${APP_ID}@${version ?? '-'} (${SCHEDULE.percents.join(', ')} % every ${SCHEDULE.intervalMs / HOUR} h; ${INSTALLATIONS} installations):`,
      ];
      for (const e of events.sort((a, b) => a.at - b.at)) {
        if (e.kind === 'phase')
          lines.push(
            `${h(e.at)}  phase ${e.phase} of ${SCHEDULE.percents.length}: ${String(e.percent).padStart(3)} %  cohort ${String(e.cohortSize).padStart(4)}  upgraded so far ${e.upgraded}`,
          );
        else if (e.kind === 'failures') lines.push(`${h(e.at)}  monitoring: ${e.reason}`);
        else if (e.kind === 'paused') lines.push(`${h(e.at)}  paused by ${e.by}: ${e.reason}`);
        else lines.push(`${h(e.at)}  resumed by ${e.by} (${e.reason})`);
      }
      lines.push(
        `  end: ${total} of ${INSTALLATIONS} installations on ${version ?? '-'} (${Math.round((total / INSTALLATIONS) * 100)} %)`,
      );
      return {
        appId: APP_ID,
        version,
        schedule: SCHEDULE,
        installations: INSTALLATIONS,
        events,
        upgraded: total,
        notices: notices.length,
        lines,
      };
    },
  };
}
