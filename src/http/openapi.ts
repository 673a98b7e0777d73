/**
 * The API's OpenAPI 3 document, built from the routes' zod schemas (`@fastify/swagger` with
 * `fastify-type-provider-zod`'s transforms): `GET /openapi.json`, and Swagger UI at `/docs`.
 * Both are public (README "Security"): the document describes the routes, the same as this
 * repository's README and source, and holds no secret and no data; Swagger UI is a browser page,
 * which cannot send a bearer header on navigation.
 *
 * Each operation's `security` follows the route's `config.access`, the one that auth.ts enforces,
 * so the document cannot drift from it: viewer routes take a viewer or an operator token,
 * operator routes an operator token, public routes nothing, unless the route names its own
 * credential (the deploy intake's HMAC headers, an approval link's signature).
 */
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { OpenAPIV3 } from 'openapi-types';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../poller/deploy-event.js';
import type { RouteAccess } from './auth.js';

/** Where Swagger UI is mounted. */
export const DOCS_PREFIX = '/docs';
/** Where the document is served. */
export const OPENAPI_PATH = '/openapi.json';

/** The security schemes the document's operations name. */
export const SECURITY_SCHEMES = {
  operatorToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'An operator token (`MPU_OPERATOR_TOKENS`): every route.',
  },
  viewerToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'A viewer token (`MPU_VIEWER_TOKENS`): the read-only routes.',
  },
  deploySignature: {
    type: 'apiKey',
    in: 'header',
    name: SIGNATURE_HEADER,
    description: '`sha256=<hex HMAC-SHA256(MPU_WEBHOOK_SECRET, "<timestamp>.<raw body>")>`',
  },
  deployTimestamp: {
    type: 'apiKey',
    in: 'header',
    name: TIMESTAMP_HEADER,
    description: 'Epoch seconds the signature covers, within 5 minutes of the server clock.',
  },
  approvalLink: {
    type: 'apiKey',
    in: 'query',
    name: 'sig',
    description: 'The signature of an approval link, as the "update available" notice carries it.',
  },
  installLink: {
    type: 'apiKey',
    in: 'query',
    name: 'signature',
    description:
      "The signature of an installation link (`mpu apps sharing enable`); installing also takes the installer's API token (`token` field or bearer).",
  },
  installationJwt: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      "A Connect JWT (`Authorization: JWT <token>`): iss = the installation's id, HMAC-signed with its shared secret, with exp and the request's qsh.",
  },
} satisfies Record<string, OpenAPIV3.SecuritySchemeObject>;

/** A security requirement of the document. */
export type SecurityRequirement = Partial<Record<keyof typeof SECURITY_SCHEMES, string[]>>;

/** The security requirement of each access level: any one of the listed alternatives passes. */
export const SECURITY_BY_ACCESS: Readonly<Record<RouteAccess, SecurityRequirement[]>> = {
  public: [],
  viewer: [{ viewerToken: [] }, { operatorToken: [] }],
  operator: [{ operatorToken: [] }],
};

/** The document's tags, in the order Swagger UI shows them. */
const TAGS: OpenAPIV3.TagObject[] = [
  { name: 'apps', description: 'Registered apps and their versions' },
  { name: 'installations', description: 'Installations, their histories and admin approvals' },
  { name: 'rollouts', description: 'Rollouts in flight: progress, pause, resume, halt' },
  { name: 'forge', description: 'Forge deploy intake (HMAC-signed events)' },
  { name: 'bulk-upgrades', description: 'Bulk major-version upgrades of Forge apps: start, list, cancel' },
  { name: 'approval-links', description: 'Signed approval links from "update available" notices' },
  {
    name: 'distribution',
    description:
      'Sites, sharing by installation link, the installation screen, Connect installs and the Connect clientKey',
  },
  { name: 'audit', description: 'The audit trail' },
  { name: 'ops', description: 'Health, metrics and this document' },
];

/** The access a route needs, as auth.ts's `requiredAccess` decides it, from its options alone. */
function accessOf(route: RouteOptions): RouteAccess {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  return route.config?.access ?? (methods.every((m) => m === 'GET' || m === 'HEAD') ? 'viewer' : 'operator');
}

/** jsonSchemaTransform, plus each operation's security from its route's access unless it names its own. */
const transform: FastifyDynamicSwaggerOptions['transform'] = (input) => {
  const out = jsonSchemaTransform(input as Parameters<typeof jsonSchemaTransform>[0]);
  const schema = (out.schema ?? {}) as FastifySchema & { security?: unknown; hide?: boolean };
  if (schema.hide) return out;
  const security = schema.security ?? SECURITY_BY_ACCESS[accessOf(input.route as RouteOptions)];
  return { ...out, schema: { ...schema, security } };
};

/**
 * jsonSchemaTransformObject, without the component schemas no operation refers to: it emits an
 * input and an output variant of every schema with an id, and the answers use only the output.
 */
const transformObject: FastifyDynamicSwaggerOptions['transformObject'] = (input) => {
  const doc = jsonSchemaTransformObject(input as Parameters<typeof jsonSchemaTransformObject>[0]) as OpenAPIV3.Document;
  const schemas = doc.components?.schemas ?? {};
  const { components: _components, ...rest } = doc;
  const text = JSON.stringify(rest);
  const used = new Set<string>();
  let next = Object.keys(schemas).filter((name) => text.includes(`"#/components/schemas/${name}"`));
  while (next.length > 0) {
    for (const name of next) used.add(name);
    const inner = JSON.stringify(next.map((name) => schemas[name]));
    next = Object.keys(schemas).filter((n) => !used.has(n) && inner.includes(`"#/components/schemas/${n}"`));
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return { ...doc, components: { ...doc.components, schemas: kept } };
};

/** Options of `registerOpenApi`. */
export interface OpenApiOptions {
  /** The API's version in the document. */
  version: string;
}

/**
 * Registers the document's route collector on `app` (call before registering the routes it
 * should list), `GET /openapi.json` and Swagger UI at `/docs`, both public.
 */
export async function registerOpenApi(app: FastifyInstance, opts: OpenApiOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'marketplace-updater (mpu) HTTP API',
        description:
          'Apps, versions, installations and rollouts of the marketplace updater; Forge deploy intake; ' +
          'approval links. Errors answer `{ "error": { "code", "message", "details" } }` (README "Errors").',
        version: opts.version,
      },
      tags: TAGS,
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    transform,
    transformObject,
  });
  app.get(
    OPENAPI_PATH,
    {
      config: { access: 'public' },
      schema: { tags: ['ops'], summary: 'This OpenAPI 3 document', security: SECURITY_BY_ACCESS.public },
    },
    async () => app.swagger(),
  );
  await app.register(async (scope) => {
    // Swagger UI's page, its assets and its copy of the document: public, like /openapi.json.
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, access: 'public' };
    });
    await scope.register(swaggerUi, { routePrefix: DOCS_PREFIX });
  });
}
