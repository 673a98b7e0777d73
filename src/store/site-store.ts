/**
 * Sites (customers' Atlassian sites): the products each runs and who administers each product
 * there (DESIGN.md "Distribution rules": a link names the products it installs into, and a site
 * must have all of them; seed 000: the installer must be an admin of an Atlassian app on the
 * site). Sites are not any app's, so their keys are global (keys.ts `sites`, `site…`), each
 * written by single-key commands only (Redis Cluster safe, never in a script with app keys).
 * Adding is a union: products and admins are only added, never dropped, so repeating a command
 * or importing installations again changes nothing.
 */
import { crossSlotPipeline, type RedisConnection } from '../lib/redis-connection.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import { execAll } from '../lib/exec-all.js';
import type { Keys } from './keys.js';

/** One site. */
export interface SiteRecord {
  /** Host name, e.g. `acme.atlassian.net`. */
  site: string;
  /** Products it runs, sorted. */
  products: string[];
  /** Admins by product, each list sorted: `{ jira: ['alice'] }`. */
  admins: Record<string, string[]>;
  /** When it was first registered, epoch ms. */
  createdAt: number;
}

/** What to add to a site: products it runs and `{ product, name }` admins. */
export interface SiteInput {
  site: string;
  products: readonly string[];
  admins?: readonly { product: string; name: string }[];
}

/** Redis store of sites. */
export class SiteStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: Keys,
  ) {}

  /**
   * Adds sites, or adds products and admins to known ones (one pipeline of single-key commands).
   * @param at registration time of new sites, epoch ms
   * @returns how many sites were new
   */
  async upsert(sites: readonly SiteInput[], at: number): Promise<number> {
    if (sites.length === 0) return 0;
    const pipe = crossSlotPipeline(this.redis);
    for (const s of sites) {
      pipe.hsetnx(this.keys.site(s.site), 'createdAt', at);
      if (s.products.length) pipe.sadd(this.keys.siteProducts(s.site), ...s.products);
      if (s.admins?.length) pipe.sadd(this.keys.siteAdmins(s.site), ...s.admins.map((a) => `${a.product}:${a.name}`));
      pipe.sadd(this.keys.sites(), s.site);
    }
    const replies = await execAll<number>(pipe);
    let created = 0;
    let k = 0;
    for (const s of sites) {
      created += replies[k] ?? 0;
      k += 2 + (s.products.length ? 1 : 0) + (s.admins?.length ? 1 : 0);
    }
    return created;
  }

  /** One site, or null when unknown. */
  async get(site: string): Promise<SiteRecord | null> {
    const [createdAt, products, admins] = await execAll<unknown>(
      this.redis
        .pipeline()
        .hget(this.keys.site(site), 'createdAt')
        .smembers(this.keys.siteProducts(site))
        .smembers(this.keys.siteAdmins(site)),
    );
    if (createdAt === null || createdAt === undefined) return null;
    return decode(site, Number(createdAt), products as string[], admins as string[]);
  }

  /** One site. @throws AppError site-not-found */
  async require(site: string): Promise<SiteRecord> {
    const rec = await this.get(site);
    if (!rec)
      throw new AppError(ErrorCode.SITE_NOT_FOUND, `no site '${site}' (add it: 'mpu sites add ${site} --products …')`, {
        details: { site },
      });
    return rec;
  }

  /** Every site, sorted by name. */
  async list(): Promise<SiteRecord[]> {
    const names = (await this.redis.smembers(this.keys.sites())).sort();
    const out: SiteRecord[] = [];
    for (let i = 0; i < names.length; i += 500) {
      const page = names.slice(i, i + 500);
      const pipe = crossSlotPipeline(this.redis);
      for (const s of page)
        pipe.hget(this.keys.site(s), 'createdAt').smembers(this.keys.siteProducts(s)).smembers(this.keys.siteAdmins(s));
      const r = await execAll<unknown>(pipe);
      page.forEach((s, k) => {
        const createdAt = r[3 * k];
        if (createdAt !== null && createdAt !== undefined)
          out.push(decode(s, Number(createdAt), r[3 * k + 1] as string[], r[3 * k + 2] as string[]));
      });
    }
    return out;
  }
}

function decode(site: string, createdAt: number, products: string[], admins: string[]): SiteRecord {
  const byProduct: Record<string, string[]> = {};
  for (const a of admins) {
    const at = a.indexOf(':');
    if (at <= 0) continue;
    (byProduct[a.slice(0, at)] ??= []).push(a.slice(at + 1));
  }
  for (const l of Object.values(byProduct)) l.sort();
  return { site, products: products.sort(), admins: byProduct, createdAt };
}
