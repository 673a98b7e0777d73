/**
 * Per-app distribution state (DESIGN.md "Distribution rules"; seed 000): sharing by installation
 * link (status, the products the link installs into, the link's generation and salt) and the
 * Marketplace listing submission, in one HASH per app (keys.ts `sharing`); and the shared secrets
 * of installations made by an install (keys.ts `installationSecrets`). Every key is the app's
 * (hash tag `{appId}`): each change is one command or a MULTI on that one key, and `mpu apps
 * remove` deletes them with the app.
 */
import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '../lib/redis-connection.js';
import type { Keys } from './keys.js';

/** An app's sharing and listing state. Times epoch ms. */
export interface SharingRecord {
  appId: string;
  /** `enabled`: links of the current generation install; `stopped`: every link is refused; `off`: never enabled. */
  status: 'enabled' | 'stopped' | 'off';
  /** Products the current link installs into (sorted). */
  products: string[];
  /** Current link generation (0 before the first link). */
  generation: number;
  /** Salt of the link signatures (hex; empty before the first link). */
  salt: string;
  enabledAt: number | null;
  enabledBy: string | null;
  regeneratedAt: number | null;
  stoppedAt: number | null;
  stoppedBy: string | null;
  /** When the app was submitted for a Marketplace listing (`mpu apps listing submit`), or null. */
  listingSubmittedAt: number | null;
  listingSubmittedBy: string | null;
}

const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v));

function decode(appId: string, h: Record<string, string>): SharingRecord {
  return {
    appId,
    status: h.status === 'enabled' || h.status === 'stopped' ? h.status : 'off',
    products: h.products ? h.products.split(',') : [],
    generation: Number(h.gen ?? 0),
    salt: h.salt ?? '',
    enabledAt: num(h.enabledAt),
    enabledBy: h.enabledBy ?? null,
    regeneratedAt: num(h.regeneratedAt),
    stoppedAt: num(h.stoppedAt),
    stoppedBy: h.stoppedBy ?? null,
    listingSubmittedAt: num(h.listingSubmittedAt),
    listingSubmittedBy: h.listingSubmittedBy ?? null,
  };
}

/** Redis store of sharing records and installation secrets. */
export class SharingStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: Keys,
  ) {}

  /** The app's record (`status: 'off'` when sharing was never enabled). */
  async get(appId: string): Promise<SharingRecord> {
    return decode(appId, await this.redis.hgetall(this.keys.sharing(appId)));
  }

  /**
   * Enables sharing into `products` (sorted) with a new link generation, in one MULTI on the app's
   * key: the salt is set once, the generation goes up by one, so every earlier link is stale.
   * @param at epoch ms
   * @returns the record after the change
   */
  async enable(appId: string, products: readonly string[], at: number, actor: string): Promise<SharingRecord> {
    const key = this.keys.sharing(appId);
    const res = await this.redis
      .multi()
      .hsetnx(key, 'salt', randomBytes(16).toString('hex'))
      .hincrby(key, 'gen', 1)
      .hset(key, { status: 'enabled', products: products.join(','), enabledAt: at, enabledBy: actor })
      .hdel(key, 'stoppedAt', 'stoppedBy')
      .hgetall(key)
      .exec();
    return decode(appId, res?.at(-1)?.[1] as Record<string, string>);
  }

  /**
   * A new link generation (the previous link stops working at once), in one MULTI.
   * @returns the record after the change
   */
  async regenerate(appId: string, at: number): Promise<SharingRecord> {
    const key = this.keys.sharing(appId);
    const res = await this.redis.multi().hincrby(key, 'gen', 1).hset(key, 'regeneratedAt', at).hgetall(key).exec();
    return decode(appId, res?.at(-1)?.[1] as Record<string, string>);
  }

  /** Stops sharing: every link is refused until sharing is enabled again (with a new link). */
  async stop(appId: string, at: number, actor: string): Promise<SharingRecord> {
    const key = this.keys.sharing(appId);
    const res = await this.redis
      .multi()
      .hset(key, { status: 'stopped', stoppedAt: at, stoppedBy: actor })
      .hgetall(key)
      .exec();
    return decode(appId, res?.at(-1)?.[1] as Record<string, string>);
  }

  /**
   * Marks the app as submitted for a Marketplace listing (once: a second submission keeps the first time).
   * @returns the record after the change
   */
  async submitListing(appId: string, at: number, actor: string): Promise<SharingRecord> {
    const key = this.keys.sharing(appId);
    if (await this.redis.hsetnx(key, 'listingSubmittedAt', at)) await this.redis.hset(key, 'listingSubmittedBy', actor);
    return this.get(appId);
  }

  /**
   * Stores an installation's shared secret unless it has one (HSETNX): whoever stores it is the
   * one to show it, so it is shown once.
   * @returns true when stored now
   */
  async setSecretOnce(appId: string, installationId: string, secret: string): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.installationSecrets(appId), installationId, secret)) === 1;
  }

  /** An installation's shared secret (to verify the JWTs it signs), or null. Never log it. */
  secretOf(appId: string, installationId: string): Promise<string | null> {
    return this.redis.hget(this.keys.installationSecrets(appId), installationId);
  }
}
