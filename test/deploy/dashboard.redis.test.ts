/**
 * The Grafana dashboard (deploy/grafana/dashboards/*.json) only queries metrics the daemon
 * exports: every `mpu_…` name in its PromQL is on a daemon's registry (a histogram's `_bucket`,
 * `_sum` and `_count` count as the histogram), with the labels the query groups by. Also: the
 * Prometheus config scrapes /metrics with a bearer token file, and the compose file runs the
 * image with the monitoring services behind a profile.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Redis } from 'ioredis';
import { ManualClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { createAppContext, type Runtime } from '../../src/runtime.js';
import { connectTestRedis, testPrefix } from '../helpers/redis.js';

const root = path.resolve(import.meta.dirname, '../..');
const dashboardsDir = path.join(root, 'deploy/grafana/dashboards');

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of a dashboard, with its panel's title. */
function queries(file: string): { panel: string; expr: string }[] {
  const dash = JSON.parse(readFileSync(path.join(dashboardsDir, file), 'utf8')) as { panels: Panel[] };
  const walk = (ps: Panel[]): { panel: string; expr: string }[] =>
    ps.flatMap((p) => [
      ...(p.targets ?? []).flatMap((t) => (t.expr ? [{ panel: p.title ?? '?', expr: t.expr }] : [])),
      ...walk(p.panels ?? []),
    ]);
  return walk(dash.panels);
}

describe('deploy/: dashboard, Prometheus, compose', () => {
  let redis: Redis;
  let ctx: Runtime;
  /** Metric name → its label names, as the daemon's registry exports them. */
  const exported = new Map<string, Set<string>>();

  beforeAll(async () => {
    redis = await connectTestRedis();
    ctx = createAppContext({ connection: redis, clock: new ManualClock(), logger: silentLogger, prefix: testPrefix() });
    // Label names as declared (a gauge with no value yet still has them).
    for (const m of ctx.metrics.registry.getMetricsAsArray()) {
      const labels = (m as unknown as { labelNames?: string[] }).labelNames ?? [];
      exported.set(m.name, new Set(labels));
    }
    // And the scrape itself answers (collectors read Redis).
    await ctx.metrics.registry.metrics();
  });
  afterAll(async () => {
    await ctx.close();
    await redis.quit();
  });

  const files = readdirSync(dashboardsDir).filter((f) => f.endsWith('.json'));
  it('has a dashboard', () => expect(files.length).toBeGreaterThan(0));

  it.each(files)('%s: every metric it queries is exported, with the labels it groups by', (file) => {
    const problems: string[] = [];
    const used = new Set<string>();
    for (const { panel, expr } of queries(file)) {
      for (const [name] of expr.matchAll(/\bmpu_[a-z0-9_]+\b/g)) {
        const base = exported.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
        used.add(base);
        if (!exported.has(base)) {
          problems.push(`${panel}: ${name} is not exported`);
          continue;
        }
        const labels = new Set([...exported.get(base)!, ...(name.endsWith('_bucket') ? ['le'] : [])]);
        for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g))
          for (const l of m[1]!
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean))
            if (!labels.has(l)) problems.push(`${panel}: groups ${name} by '${l}', which it does not have`);
        for (const m of expr.matchAll(/\{([^}]*)\}/g))
          for (const l of m[1]!.matchAll(/([a-z_]+)\s*[=!]~?/g))
            if (!labels.has(l[1]!)) problems.push(`${panel}: selects ${name} on '${l[1]}', which it does not have`);
      }
    }
    expect(problems).toEqual([]);
    // The issue's list: polls, detection lag, versions, rollout progress, deferrals, approvals, queues.
    for (const m of [
      'mpu_polls_total',
      'mpu_version_delay_seconds',
      'mpu_versions_stored',
      'mpu_rollout_progress_percent',
      'mpu_rollout_deferred',
      'mpu_approvals_pending',
      'mpu_queue_jobs',
    ])
      expect(used, m).toContain(m);
  });

  it('Prometheus scrapes the daemon’s /metrics with a bearer token from a file', () => {
    const prom = parseYaml(readFileSync(path.join(root, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: { metrics_path: string; authorization: { type: string; credentials_file: string } }[];
    };
    expect(prom.scrape_configs[0]).toMatchObject({
      metrics_path: '/metrics',
      authorization: { type: 'Bearer', credentials_file: '/run/secrets/mpu_metrics_token' },
    });
  });

  it('compose: the daemon from the image with Redis (AOF); Prometheus and Grafana in the monitoring profile', () => {
    const compose = parseYaml(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { build?: string; command?: string[]; profiles?: string[]; volumes?: string[] }>;
    };
    expect(compose.services.daemon!.build).toBe('.');
    expect(compose.services.redis!.command).toContain('--appendonly');
    expect(compose.services.prometheus!.profiles).toEqual(['monitoring']);
    expect(compose.services.grafana!.profiles).toEqual(['monitoring']);
    expect(compose.services.grafana!.volumes).toContain('./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro');
  });
});
