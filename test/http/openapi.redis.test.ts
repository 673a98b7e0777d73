/**
 * The OpenAPI document and the route schemas (inject, real Redis): every registered route is in
 * `/openapi.json` with a tag, a summary and the security its role needs (checked against what
 * the auth hook does with each credential), `/openapi.json` and `/docs` answer without a token,
 * validation by schema answers as the handlers did, and answers keep every field of the records.
 */
import type { FastifyInstance } from 'fastify';
import type { OpenAPIV3_1 } from 'openapi-types';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, HOUR, ManualClock } from '../../src/lib/clock.js';
import { registerConnectApp } from '../../src/app/detection/register-app.js';
import { planVersionRollout } from '../../src/app/rollout/plan-version-rollout.js';
import type { VersionRecord } from '../../src/store/types.js';
import { ROLLOUT_T0 as T0, createRolloutHarness, type RolloutHarness } from '../helpers/rollout-harness.js';
import { MemoryVersions } from '../rollout/helpers.js';
import { asOperator, asViewer, buildTestApp } from '../helpers/http.js';

/** The versions the app routes read too (`latestVersion`). */
class Versions extends MemoryVersions {
  async latestVersion(appId: string): Promise<VersionRecord | null> {
    return (await this.listVersions(appId)).at(-1) ?? null;
  }
}

/** One method of one route, as Fastify registered it (path in Fastify's `:param` syntax). */
interface RegisteredRoute {
  method: string;
  path: string;
}

/**
 * The routes of `app`, read from `printRoutes({ commonPrefix: false })`: a tree whose lines are
 * `├── <path segment> (<METHODS>)`, indented 4 characters a level, each segment continuing its
 * parent's path.
 */
function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^(.*?)[├└]── (.+?) \(([^)]*)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + m[2]!;
    stack[depth] = path;
    for (const method of m[3]!.split(', ')) if (method !== '-') routes.push({ method, path });
  }
  return routes;
}

/** The routes the document must list: not HEAD/OPTIONS twins, bull-board's or Swagger UI's. */
function documentedRoutes(app: FastifyInstance): RegisteredRoute[] {
  return registeredRoutes(app).filter(
    (r) =>
      r.method !== 'HEAD' &&
      r.method !== 'OPTIONS' &&
      !r.path.startsWith('/admin/queues') &&
      !(r.path === '/docs' || r.path.startsWith('/docs/')),
  );
}

const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');
const VIEWER = [{ viewerToken: [] }, { operatorToken: [] }];
const OPERATOR = [{ operatorToken: [] }];

/** What each route needs, from README "Security": the few exceptions, else viewer for GET and operator otherwise. */
function expectedSecurity(method: string, path: string): unknown[] {
  if (path === '/healthz' || path === '/openapi.json') return [];
  if (path === '/v1/forge/deployments') return [{ deploySignature: [], deployTimestamp: [] }];
  if (path.startsWith('/v1/approval-links/')) return [{ approvalLink: [] }];
  if (path.startsWith('/install/')) return [{ installLink: [] }];
  if (path.startsWith('/2.0/addon/')) return [{ installationJwt: [] }];
  return method === 'GET' ? VIEWER : OPERATOR;
}

describe('OpenAPI document and route schemas (inject, real Redis)', () => {
  let rw: RolloutHarness;
  let app: FastifyInstance;
  let doc: OpenAPIV3_1.Document;

  beforeEach(async () => {
    const versions = new Versions();
    versions.add({
      appId: 'h',
      kind: 'connect',
      version: '1.0.0',
      bump: 'initial',
      approval: 'automatic',
      detectedAt: T0 - DAY,
    });
    versions.add({ appId: 'h', kind: 'connect', version: '2.0.0', bump: 'major', approval: 'manual', detectedAt: T0 });
    rw = await createRolloutHarness({ clock: new ManualClock(T0 + HOUR), versions, workers: false });
    ({ app } = await buildTestApp(rw.ctx));
    await registerConnectApp(rw.ctx, 'h', 'https://vendor.example.com/atlassian-connect.json');
    const inst = { id: 'i1', appId: 'h', site: 'i1.example.net', products: ['jira'], version: '1.0.0' };
    await rw.ctx.installs.register([{ ...inst, checkOffsetMs: 0, maintenance: null }], T0);
    await planVersionRollout(rw.ctx, { v: 1, appId: 'h', version: '2.0.0' });
    const res = await app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterEach(async () => {
    await app.close();
    await rw.close();
  });

  it('is an OpenAPI 3 document whose security schemes are bearer tokens, HMAC headers and the link signature', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components?.securitySchemes).toMatchObject({
      operatorToken: { type: 'http', scheme: 'bearer' },
      viewerToken: { type: 'http', scheme: 'bearer' },
      deploySignature: { type: 'apiKey', in: 'header', name: 'x-mpu-signature' },
      deployTimestamp: { type: 'apiKey', in: 'header', name: 'x-mpu-timestamp' },
      approvalLink: { type: 'apiKey', in: 'query', name: 'sig' },
    });
  });

  it('lists every registered route with a tag, a summary, its security and its error body', () => {
    const routes = documentedRoutes(app);
    expect(routes.length).toBeGreaterThanOrEqual(18);
    for (const r of routes) {
      const op = doc.paths?.[toOpenApiPath(r.path)]?.[r.method.toLowerCase() as OpenAPIV3_1.HttpMethods];
      expect(op, `${r.method} ${r.path} is not in the document`).toBeDefined();
      expect(op!.tags?.length, `${r.method} ${r.path}: tags`).toBeGreaterThan(0);
      expect(op!.summary, `${r.method} ${r.path}: summary`).toBeTruthy();
      expect(op!.security, `${r.method} ${r.path}: security`).toEqual(expectedSecurity(r.method, r.path));
      const statuses = Object.keys(op!.responses ?? {});
      expect(
        statuses.some((s) => s.startsWith('2')),
        `${r.method} ${r.path}: a 2xx answer`,
      ).toBe(true);
      for (const s of statuses.filter((s) => s >= '400' && r.path !== '/healthz')) {
        const schema = (op!.responses![s] as OpenAPIV3_1.ResponseObject).content?.['application/json']?.schema;
        expect(JSON.stringify(schema), `${r.method} ${r.path} ${s}: error body`).toContain(
          '#/components/schemas/Error',
        );
      }
    }
    // Nothing documented that is not registered.
    const documented = Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
      Object.keys(item!).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${toOpenApiPath(r.path)}`).sort());
  });

  it("each operation's security is what the auth hook enforces", async () => {
    for (const r of documentedRoutes(app)) {
      const url = toOpenApiPath(r.path).replace(/\{(\w+)\}/g, 'x');
      const method = r.method as 'GET' | 'POST';
      const security = expectedSecurity(r.method, r.path);
      const anon = await app.inject({ method, url });
      const asked = anon.headers['www-authenticate'];
      if (security === VIEWER || security === OPERATOR) {
        expect([anon.statusCode, asked], `${method} ${url} anonymous`).toEqual([401, 'Bearer realm="mpu"']);
        const viewer = await app.inject({ method, url, headers: asViewer });
        const refused = viewer.statusCode === 401 || viewer.statusCode === 403;
        expect(refused, `${method} ${url} as a viewer: ${viewer.statusCode}`).toBe(security === OPERATOR);
      } else {
        expect(asked, `${method} ${url} asks for no token`).toBeUndefined();
      }
    }
  });

  it('/openapi.json and Swagger UI at /docs answer without a token', async () => {
    const page = await app.inject({ url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('Swagger UI');
    const copy = await app.inject({ url: '/docs/json' });
    expect(copy.statusCode).toBe(200);
    expect(copy.json().paths).toEqual(doc.paths);
  });

  it('a request that fails its schema answers 400 input-invalid, worded as the handlers word it', async () => {
    const query = await app.inject({ url: '/v1/rollouts?limit=0', headers: asViewer });
    expect(query.statusCode).toBe(400);
    expect(query.json()).toEqual({
      error: { code: 'input-invalid', message: expect.stringMatching(/^query: limit: Too small/), details: {} },
    });
    const paging = await app.inject({ url: '/v1/apps/h/installations?offset=-1&limit=x', headers: asViewer });
    expect(paging.json().error.message).toMatch(/^query: offset: .*; limit: /);
    const audit = await app.inject({ url: '/v1/audit?limit=5000', headers: asViewer });
    expect(audit.json().error).toMatchObject({
      code: 'input-invalid',
      message: expect.stringMatching(/^query: limit/),
    });
    const body = await app.inject({
      method: 'POST',
      url: '/v1/installations/i1/approve',
      payload: { version: 2 },
      headers: asOperator,
    });
    expect(body.statusCode).toBe(400);
    expect(body.json().error).toMatchObject({
      code: 'input-invalid',
      message: expect.stringMatching(/^body: version: /),
    });
    const action = await app.inject({ method: 'POST', url: '/v1/rollouts/h/2.0.0/explode', headers: asOperator });
    expect(action.statusCode).toBe(400);
    expect(action.json().error.message).toMatch(/^action \(pause, resume, halt, advance or complete\): \(root\): /);
  });

  it('answers keep every field of the records the use cases return', async () => {
    const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
    const one = await app.inject({ url: '/v1/apps/h', headers: asViewer });
    expect(one.json().app).toEqual(json(await rw.ctx.apps.requireApp('h')));
    const list = await app.inject({ url: '/v1/apps', headers: asViewer });
    expect(list.json().apps).toEqual(json(await rw.ctx.apps.listApps()));
    const inst = await app.inject({ url: '/v1/installations/i1', headers: asViewer });
    expect(inst.json()).toEqual(json({ ...(await rw.ctx.installs.get('i1')), forgeAppLink: null }));
    const versions = await app.inject({ url: '/v1/apps/h/versions', headers: asViewer });
    expect(versions.json().versions).toEqual(json(await rw.ctx.versions.listVersions('h')));
    const rollout = await app.inject({ url: '/v1/rollouts/h/2.0.0', headers: asViewer });
    const record = await rw.ctx.rollouts.get('h', '2.0.0');
    expect(rollout.json()).toMatchObject(json(await rw.ctx.rollouts.view(record!)) as object);
  });
});
