/**
 * Lifecycle events of the use cases, in `noun:verb` form (as graphile-worker's `WorkerEvents`):
 * what happened to which app and version, emitted on an injected emitter so that tests and the
 * demo await them instead of polling queue counts or sleeping. Emitting is synchronous and cheap
 * when nobody listens; a listener must not throw (an exception is logged by the caller's logger,
 * never propagated into the use case).
 */
import { EventEmitter } from 'node:events';

/** Every event with its payload. Times are clock ms. */
export interface LifecycleEventMap {
  /** One poll of one Connect app finished (changed, unchanged, not modified or failed). */
  'poll:polled': { appId: string; outcome: 'changed' | 'unchanged' | 'not-modified' | 'failed'; at: number };
  /** A versioning step stored a new version. */
  'version:created': { appId: string; version: string; bump: string; approval: string };
  /** A rollout's plan finished (every installation known then has its bucket). */
  'rollout:planned': { appId: string; version: string; status: string; batches: number };
  /** An upgrade batch applied: `moved` installations took a newer version. */
  'rollout:batch:applied': { appId: string; version: string; moved: number; progressPercent: number };
  /** Every installation of the app runs `version` or newer (seen by the batch that completed it). */
  'rollout:completed': { appId: string; version: string };
  /** A bulk upgrade batch recorded outcomes: `moved` installations took its target version. */
  'bulk:batch:applied': { appId: string; bulkId: string; moved: number; skipped: number };
  /** A bulk upgrade finished: every candidate moved or skipped (`completed`), or `cancelled`. */
  'bulk:finished': { appId: string; bulkId: string; status: 'completed' | 'cancelled' };
  /** "Update available" notices delivered for a manual version. */
  'notify:sent': { appId: string; version: string; notified: number };
  /** A phased release reached a phase (by its schedule, an operator's advance or complete) and planned its cohort. */
  'rollout:phase': { appId: string; version: string; phase: number; percent: number; cohortSize: number; at: number };
  /** A rollout was paused (`by`: the operator, or `system` for the error budget) or resumed (`system`: a pause cap). */
  'rollout:paused': { appId: string; version: string; by: string; reason: string; at: number };
  'rollout:resumed': { appId: string; version: string; by: string; reason: string; at: number };
  /** A failed upgrade was reported (the error budget). */
  'rollout:failure': { appId: string; version: string; installationId: string; failures: number; budget: number };
  /** Late installations planned into rollouts already planned. */
  'rollout:late:planned': { appId: string; registrations: number; upgrades: number; notifies: number };
}

export type LifecycleEventName = keyof LifecycleEventMap;

/** A typed emitter of lifecycle events. */
export class LifecycleEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Tests await many events at once; the default cap of 10 listeners would warn.
    this.emitter.setMaxListeners(0);
  }

  /** Emits `name`; returns without building anything when nobody listens. */
  emit<K extends LifecycleEventName>(name: K, payload: LifecycleEventMap[K]): void {
    if (this.emitter.listenerCount(name) > 0) this.emitter.emit(name, payload);
  }

  /** True when someone listens to `name` (lets a hot path skip building a payload). */
  listening(name: LifecycleEventName): boolean {
    return this.emitter.listenerCount(name) > 0;
  }

  /** Subscribes; returns the unsubscribe function. */
  on<K extends LifecycleEventName>(name: K, listener: (payload: LifecycleEventMap[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }

  /**
   * Resolves with the first `name` event whose payload matches `match` (every event when absent).
   * @throws Error when `timeoutMs` (real ms) passes first: the message names the event awaited.
   */
  next<K extends LifecycleEventName>(
    name: K,
    match: (payload: LifecycleEventMap[K]) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<LifecycleEventMap[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no '${name}' event matched within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(name, (p) => {
        if (!match(p)) return;
        clearTimeout(timer);
        off();
        resolve(p);
      });
    });
  }
}
