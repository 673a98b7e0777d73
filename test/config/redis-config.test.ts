/**
 * Where Redis is and what the queues are called: REDIS_CLUSTER_NODES (a Redis Cluster, replacing
 * REDIS_URL) and MPU_PREFIX written as a name or as a hash tag (`{mpu}`), which store keys never
 * use (it would put every app's keys in one slot) and queues use on a cluster (BullMQ docs,
 * "Redis Cluster").
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

describe('Redis configuration', () => {
  it('one server by default: REDIS_URL, the prefix as written for keys and queues', () => {
    const c = loadConfig({});
    expect(c.redis).toEqual({ url: 'redis://127.0.0.1:6379' });
    expect([c.prefix, c.queuePrefix]).toEqual(['mpu', 'mpu']);
  });

  it('REDIS_CLUSTER_NODES: a cluster (REDIS_URL unused), queues under a hash-tagged prefix', () => {
    const c = loadConfig({
      REDIS_URL: 'redis://elsewhere:6379',
      REDIS_CLUSTER_NODES: '10.0.0.5:7000, redis-b.internal:7001,[::1]:7002',
      MPU_PREFIX: 'prod',
    });
    expect(c.redis).toEqual({
      clusterNodes: [
        { host: '10.0.0.5', port: 7000 },
        { host: 'redis-b.internal', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
    expect([c.prefix, c.queuePrefix]).toEqual(['prod', '{prod}']);
  });

  it('MPU_PREFIX in braces: the hash tag for the queues, the bare name for store keys', () => {
    const c = loadConfig({ MPU_PREFIX: '{mpu}' });
    expect([c.prefix, c.queuePrefix]).toEqual(['mpu', '{mpu}']);
  });

  it('reports bad nodes and prefixes by variable, all at once', () => {
    let err: unknown;
    try {
      loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.5,host:99999', MPU_PREFIX: '{mpu' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'config-invalid' });
    const issues = (err as { details: { issues: { variable: string; problem: string }[] } }).details.issues;
    expect(issues.map((i) => i.variable).sort()).toEqual(['MPU_PREFIX', 'REDIS_CLUSTER_NODES']);
    expect(issues.find((i) => i.variable === 'REDIS_CLUSTER_NODES')!.problem).toMatch(/'10\.0\.0\.5' is not host:port/);
  });
});
