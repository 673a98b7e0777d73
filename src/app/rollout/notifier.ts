/**
 * The notification port of the rollout (DESIGN.md "Rollout rules", manual approval: each
 * installation "shows 'update available' at its next 24-hour check, and its admins are
 * emailed"). The notify step hands each batch to a `Notifier`: `LogNotifier` by default, or the
 * webhook adapter (src/notify/notifiers.ts).
 */
import type { Logger } from '../../lib/logger.js';

/**
 * One notice to one admin of one installation: `to` is the admin's address from the
 * installation's `admins`, or null when it has none (the notice is then for its site's admins,
 * one per installation). The approval link approves that installation up to the version.
 */
export interface AdminNotice {
  to: string | null;
  installationId: string;
  site: string | null;
  approvalUrl: string | null;
  /** When the link expires, epoch ms; null without a link. */
  approvalExpiresAt: number | null;
}

/**
 * One batch of "update available" notices for one manual version. `at` is epoch ms. Each
 * installation carries its admins' approval link (a signed, expiring URL: `POST` on it approves
 * that installation up to `version`, no other credential), or null when the process has no
 * approval secret (README "Security"). `notices` holds one notice per admin (per installation
 * when it lists none): what a mailer sends, one message each.
 */
export interface UpdateAvailableNotice {
  appId: string;
  version: string;
  /**
   * `notice`: the version's first notice; `reminder`: the approval is still pending after the
   * reminder interval (app/rollout/approval-notices.ts). @defaultValue `notice`
   */
  kind?: 'notice' | 'reminder';
  /**
   * The Forge app adopting `appId` (a Connect app), when the update is the move to it:
   * `version` is then that Forge app's version.
   */
  successorAppId?: string;
  at: number;
  installations: {
    id: string;
    site: string | null;
    approvalUrl: string | null;
    /** When the link expires, epoch ms; null without a link. */
    approvalExpiresAt: number | null;
  }[];
  /** One per admin of each installation (see `AdminNotice`); absent in notices of older callers. */
  notices?: AdminNotice[];
}

/**
 * A notice to the vendor's operators that a rollout changed by itself: paused by its error
 * budget, or resumed when a phased release's total pause reached its cap. `at` is epoch ms.
 */
export interface RolloutNotice {
  type: 'rollout-paused' | 'rollout-resumed';
  appId: string;
  version: string;
  at: number;
  /** In words, e.g. `error budget exceeded: 7 failures of 60 upgraded, budget 5`. */
  reason: string;
}

/** Delivers notices. Throws AppError (retryable or not) when it cannot. */
export interface Notifier {
  notify(notice: UpdateAvailableNotice): Promise<void>;
  /** Delivers a rollout notice; a notifier without it only has the log line the use case writes. */
  rolloutNotice?(notice: RolloutNotice): Promise<void>;
}

/** Logs one line per batch at info and one per admin notice at debug (the default). */
export class LogNotifier implements Notifier {
  constructor(private readonly logger: Logger) {}
  async notify(n: UpdateAvailableNotice): Promise<void> {
    for (const a of n.notices ?? [])
      this.logger.debug(
        {
          event: n.kind === 'reminder' ? 'notify:approval-reminder' : 'notify:update-available:admin',
          appId: n.appId,
          version: n.version,
          to: a.to ?? `admins of ${a.site ?? a.installationId}`,
          installationId: a.installationId,
          approvalUrl: a.approvalUrl,
        },
        `${n.kind === 'reminder' ? 'reminder: ' : ''}update ${n.version} of ${n.appId} needs your approval`,
      );
    this.logger.info(
      {
        event: 'notify:update-available',
        appId: n.appId,
        version: n.version,
        count: n.installations.length,
        sample: n.installations.slice(0, 3).map((i) => i.id),
      },
      `${n.kind === 'reminder' ? 'reminded' : 'notified'} ${n.notices?.length ?? n.installations.length} admin(s) of ${n.installations.length} installation(s): update ${n.version} of ${n.appId} needs approval`,
    );
  }

  async rolloutNotice(n: RolloutNotice): Promise<void> {
    this.logger.warn({ event: `notify:${n.type}`, ...n }, `rollout ${n.appId}@${n.version}: ${n.type}: ${n.reason}`);
  }
}
