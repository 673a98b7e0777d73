/**
 * Forge deploy intake use case (DESIGN.md "Detection rules": only production deploys
 * create versions, every production deploy is a new version). The HTTP route and the CLI call it
 * with an already verified and validated event.
 */
import { parseDescriptor } from '../../versioning/index.js';
import { AppError, ErrorCode } from '../../lib/errors.js';
import type { VersionJob } from '../../jobs/queues.js';
import type { DetectionDeps } from './detection-deps.js';
import type { DeployEvent } from '../../poller/deploy-event.js';

/** What the intake did with an event. */
export type AcceptDeploymentResult =
  | { status: 'accepted'; versionJob: VersionJob }
  | { status: 'duplicate'; version: string | null }
  | { status: 'non-production'; environment: string };

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
  deps.logger.info({ appId: event.appId, deploymentId: event.deploymentId }, 'deploy:accepted');
  return { status: 'accepted', versionJob };
}

/**
 * Receives one verified deploy event exactly once: its id is remembered for `replayWindowMs` (ms)
 * before it is accepted (`acceptDeployment`); an event whose acceptance fails is forgotten again,
 * so the sender may retry the same event once the problem is fixed.
 * @throws AppError webhook-replayed (the id was received within the window), and
 *   `acceptDeployment`'s errors.
 */
export async function receiveDeployEvent(
  deps: DetectionDeps,
  event: DeployEvent,
  replayWindowMs: number,
): Promise<AcceptDeploymentResult> {
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
