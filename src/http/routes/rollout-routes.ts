/**
 * Operator API for installations, approvals and rollouts (issue 4). Registered by buildApp.
 */
import type { FastifyInstance } from 'fastify';
import type { RuntimeDeps } from '../../workers/runtime.js';

export async function registerRolloutRoutes(_app: FastifyInstance, _deps: RuntimeDeps): Promise<void> {}
