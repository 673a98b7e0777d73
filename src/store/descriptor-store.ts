/**
 * Descriptors and manifests stored content-addressed: the key is the `sha256:` hash of the
 * canonical JSON, so the same content is stored once per app and never rewritten (keys.ts
 * `descriptor`). Kept per app (inside the app's hash tag) so that a version and its descriptor
 * are written in one Lua script on one Redis Cluster slot.
 */
import type { RedisConnection } from '../lib/redis-connection.js';
import type { AppKind, ParsedDescriptor } from '../versioning/types.js';
import { parseDescriptor } from '../versioning/index.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { Keys } from './keys.js';
import { descriptorSaved } from './script-results.js';
import { defineScripts, type ScriptedRedis } from './scripts.js';

/** Redis-backed descriptor store. */
export class DescriptorStore {
  private readonly redis: ScriptedRedis;
  constructor(
    redis: RedisConnection,
    private readonly keys: Keys,
  ) {
    this.redis = defineScripts(redis);
  }

  /**
   * Stores `parsed.canonical` under its hash (write-once) for a registered app.
   * @returns the hash
   * @throws AppError app-not-found when the app's record does not exist (never registered, or
   *   removed while this poll or deploy was in flight): nothing is stored.
   */
  async saveDescriptor(appId: string, parsed: ParsedDescriptor): Promise<string> {
    // Write-once and only for a registered app (commands/saveDescriptor-2.lua).
    const key = this.keys.descriptor(appId, parsed.hash);
    descriptorSaved(await this.redis.mpuSaveDescriptor(this.keys.app(appId), key, parsed.canonical), appId);
    return parsed.hash;
  }

  /** @returns the canonical JSON stored under `hash`, or null. */
  async getDescriptorText(appId: string, hash: string): Promise<string | null> {
    return this.redis.get(this.keys.descriptor(appId, hash));
  }

  /**
   * Loads and re-parses a stored descriptor.
   * @throws AppError version-not-found when nothing is stored under `hash` (never retryable).
   */
  async getDescriptor(appId: string, hash: string, kind: AppKind): Promise<ParsedDescriptor> {
    return parseStoredDescriptor(appId, hash, await this.getDescriptorText(appId, hash), kind);
  }
}

/**
 * Parses the canonical JSON `text` read from a descriptor key (`getDescriptorText`).
 * @throws AppError version-not-found when `text` is null (nothing stored under `hash`; never
 *   retryable); descriptor-invalid when it no longer parses (a policy or engine change).
 */
export function parseStoredDescriptor(
  appId: string,
  hash: string,
  text: string | null,
  kind: AppKind,
): ParsedDescriptor {
  if (text === null) {
    throw new AppError(ErrorCode.VERSION_NOT_FOUND, `descriptor ${hash} of app '${appId}' is not stored`, {
      details: { appId, hash },
    });
  }
  return parseDescriptor(text, { source: `store:${hash}`, kind });
}
