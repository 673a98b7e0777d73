/**
 * Forge deploy intake use case (DESIGN.md "Detection rules": only production deploys
 * create versions, every production deploy is a new version). The HTTP route and the CLI call it
 * with an already verified and validated event.
 */
import { parseDescriptor } from '../../versioning/index.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { VersionJob } from '../../jobs/queues.js';
import type { DetectionDeps } from './detection-deps.js';
import { DeployEvent } from '../../poller/deploy-event.js';

/** What the intake did with an event. */
export type AcceptDeploymentResult =
  /** `warnings`: what was accepted but looks wrong (`deploy-app-mismatch`, see `manifestAppWarning`). */
  | { status: 'accepted'; versionJob: VersionJob; warnings: DeployWarning[] }
  | { status: 'duplicate'; version: string | null }
  | { status: 'non-production'; environment: string };

/** Something about an accepted deploy event that an operator should look at. */
export interface DeployWarning {
  code: 'deploy-app-mismatch';
  detail: string;
}

/**
 * The manifest's `app.id` against the app the event deploys to. A manifest naming another app
 * is accepted, with a warning (logged with the deployment): the event's app (signed by the sender)
 * is where the deployment went, and the manifest's id is the vendor's file, which in real
 * histories switches between registrations (a development and a production registration,
 * `forge register` run again; the fixtures have such histories, and `mpu replay` warns about them
 * as `app-key-changed`) while the app deployed stays the same. Refusing would lose a production
 * version over a field the versioning rules do not read; the warning makes the mismatch visible.
 * A manifest without `app.id` is no mismatch. ARIs compare case-insensitively (the UUID is hex).
 */
export function manifestAppWarning(eventAppId: string, manifestAppId: string | undefined): DeployWarning[] {
  if (manifestAppId === undefined || manifestAppId.toLowerCase() === eventAppId.toLowerCase()) return [];
  return [
    {
      code: 'deploy-app-mismatch',
      detail: `the manifest's app.id '${manifestAppId}' is not the app deployed to ('${eventAppId}'); versioned as '${eventAppId}'`,
    },
  ];
}

/**
 * Accepts one deploy event.
 * @throws AppError app-not-found (register the app first: `mpu apps add forge ARI`),
 *   input-invalid (a Connect app), descriptor-invalid (the manifest does not parse).
 */
export async function acceptDeployment(deps: DetectionDeps, event: DeployEvent): Promise<AcceptDeploymentResult> {
  const app = await deps.apps.requireApp(event.appId);
  if (app.kind !== 'forge') throw new AppError(ErrorCode.INPUT_INVALID, `app '${event.appId}' is not a Forge app`);
  const deployedAt = Date.parse(event.deployedAt);
  const seen = await deps.versions.deploymentVersion(event.appId, event.deploymentId);
  if (seen !== null) {
    deps.metrics?.deployEvents.inc({ result: 'duplicate' });
    return { status: 'duplicate', version: seen === '-' ? null : seen };
  }
  // Parse first: a bad manifest stores nothing.
  const parsed = parseDescriptor(event.manifest, { source: `deploy:${event.deploymentId}`, kind: 'forge' });
  await deps.apps.recordForgeDeployment(event.appId, event.environment, deployedAt);
  if (event.environment !== 'production') {
    await deps.versions.recordDeploymentWithoutVersion(event.appId, event.deploymentId);
    deps.metrics?.deployEvents.inc({ result: 'non-production' });
    deps.logger.info(
      { appId: event.appId, environment: event.environment, deploymentId: event.deploymentId },
      'deploy:ignored non-production',
    );
    return { status: 'non-production', environment: event.environment };
  }
  await deps.descriptors.saveDescriptor(event.appId, parsed);
  const latest = await deps.versions.latestVersion(event.appId);
  const versionJob: VersionJob = {
    v: 1,
    appId: event.appId,
    source: 'deploy',
    descriptorHash: parsed.hash,
    baseVersion: latest?.version ?? null,
    deploymentId: event.deploymentId,
    detectedAt: deps.clock.now(),
  };
  await deps.enqueueVersion(versionJob);
  deps.metrics?.deployEvents.inc({ result: 'accepted' });
  const warnings = manifestAppWarning(event.appId, parsed.appKey);
  for (const w of warnings) {
    deps.logger.warn({ appId: event.appId, deploymentId: event.deploymentId, warning: w.code }, w.detail);
  }
  deps.logger.info({ appId: event.appId, deploymentId: event.deploymentId }, 'deploy:accepted');
  return { status: 'accepted', versionJob, warnings };
}

/**
 * Receives one verified deploy event exactly once: its id is remembered for `replayWindowMs` (ms)
 * before it is accepted (`acceptDeployment`); an event whose acceptance fails is forgotten again,
 * so the sender may retry the same event once the problem is fixed.
 * @throws AppError payload-invalid (a field breaks `DeployEvent`: environment and id character
 *   sets), webhook-replayed (the id was received within the window), and
 *   `acceptDeployment`'s errors.
 */
export async function receiveDeployEvent(
  deps: DetectionDeps,
  event: DeployEvent,
  replayWindowMs: number,
): Promise<AcceptDeploymentResult> {
  // Checked again here, not only by the HTTP route: ids become Redis key names and the
  // environment decides whether a version is made (deploy-event.ts).
  const checked = DeployEvent.safeParse(event);
  if (!checked.success) {
    throw new AppError(
      ErrorCode.PAYLOAD_INVALID,
      'deploy event is invalid: ' + checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      { details: { issues: checked.error.issues.map((i) => ({ path: i.path.join('.'), problem: i.message })) } },
    );
  }
  if (!(await deps.versions.claimDeployEvent(event.eventId, deps.clock.now(), replayWindowMs))) {
    throw new AppError(ErrorCode.WEBHOOK_REPLAYED, `deploy event '${event.eventId}' was already received`, {
      details: { eventId: event.eventId },
    });
  }
  try {
    return await acceptDeployment(deps, event);
  } catch (err) {
    await deps.versions.releaseDeployEvent(event.eventId);
    throw err;
  }
}
