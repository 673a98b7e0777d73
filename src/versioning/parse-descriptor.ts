/**
 * Parsing and validation of Connect descriptors (JSON, with the JavaScript comments and trailing
 * commas that atlassian-connect-express accepts) and Forge manifests (YAML). Only the fields the
 * rules read are validated (lenient zod schemas, as Renovate does for external data): a vendor's
 * unknown fields pass through untouched.
 */
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { AppError, ErrorCode } from '../lib/errors.js';
import { MAX_DESCRIPTOR_DEPTH, canonOf, findTooDeep, hashCanonical, normalize } from './canonical.js';
import type { AppKind, ParsedDescriptor } from './types.js';

/** `ari:cloud:ecosystem::app/<uuid>` (seed 002: "register a Forge app ID … under the forgeAppId key"). */
export const FORGE_APP_ARI =
  /^ari:cloud:ecosystem::app\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const scopeList = z.array(z.string());
/** Connect: the fields the rules read (DESIGN.md, "Versioning rules"; seeds 002/004 for the migration fields). */
const ConnectDescriptorSchema = z.looseObject({
  key: z.string().optional(),
  baseUrl: z.string().optional(),
  apiVersion: z.union([z.number().int(), z.string().regex(/^\s*\d+\s*$/, 'must be a whole number')]).optional(),
  scopes: scopeList.optional(),
  enableLicensing: z.boolean().optional(),
  modules: z.record(z.string(), z.unknown()).optional(),
  blockInstall: z.boolean().optional(),
  forgeAppLink: z.string().optional(),
  forgeAppId: z.string().regex(FORGE_APP_ARI, 'must be an ARI such as ari:cloud:ecosystem::app/<uuid>').optional(),
});

const keyed = z.array(z.looseObject({ key: z.string() }));
/** Forge: the fields the rules read (DESIGN.md, "Versioning rules", Forge table). */
const ForgeManifestSchema = z.looseObject({
  app: z.looseObject({ id: z.string().optional() }).nullable().optional(),
  permissions: z
    .looseObject({
      scopes: z
        .union([z.array(z.unknown()), z.record(z.string(), z.unknown())])
        .nullable()
        .optional(),
      external: z.record(z.string(), z.unknown()).nullable().optional(),
    })
    .nullable()
    .optional(),
  remotes: keyed.nullable().optional(),
  providers: z.looseObject({ auth: keyed.nullable().optional() }).nullable().optional(),
  modules: z.record(z.string(), z.unknown()).nullable().optional(),
});

/** Options of parseDescriptor. */
export interface ParseOptions {
  /** Where the text came from, named in errors (file path, URL, `deploy:<id>`). */
  source: string;
  /** Force the kind; detected from `source`'s extension, then from the text, when absent. */
  kind?: AppKind;
}

/**
 * Which kind of descriptor `text` is: a `.json` name is Connect, `.yml`/`.yaml` Forge; otherwise a
 * text whose first non-blank character is `{` (or a comment) is Connect, anything else Forge.
 */
export function detectKind(text: string, fileName?: string): AppKind {
  if (fileName) {
    if (/\.json$/i.test(fileName)) return 'connect';
    if (/\.ya?ml$/i.test(fileName)) return 'forge';
  }
  const head = text.trimStart();
  return head.startsWith('{') || head.startsWith('//') || head.startsWith('/*') ? 'connect' : 'forge';
}

function invalid(source: string, path: string, problem: string, extra: Record<string, unknown> = {}): AppError {
  return new AppError(ErrorCode.DESCRIPTOR_INVALID, `${source}: ${path}: ${problem}`, {
    details: { source, path, problem, ...extra },
  });
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/**
 * Offset of the first `{` or `[` that opens a level deeper than `max` in JSON or JSONC text
 * (strings and comments skipped), or -1. Checked before parsing, so that no parser (the JSONC one
 * recurses per level) walks a pathologically deep text.
 */
function jsonTooDeepAt(text: string, max: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2f) {
      while (i < text.length && text.charCodeAt(i) !== 10) i++;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return i;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return -1;
}

const tooDeep = (where: string) =>
  `nested deeper than ${MAX_DESCRIPTOR_DEPTH} levels of objects and arrays ${where}(real descriptors use fewer than 10)`;

/** The error for JSON text nested too deep at `offset`, naming its line and column. */
function tooDeepAt(text: string, source: string, offset: number): AppError {
  const { line, column } = lineColumn(text, offset);
  return invalid(source, '$', tooDeep(`at line ${line}, column ${column} `), {
    line,
    column,
    maxDepth: MAX_DESCRIPTOR_DEPTH,
  });
}

function readConnect(text: string, source: string): unknown {
  // Fast path: most descriptors are strict JSON; only the others pay for the JSONC parser.
  // JSON.parse does not recurse per level, and the parsed value's depth is checked afterwards
  // (`findTooDeep`), so the text is scanned for depth only before the JSONC parser, which does.
  try {
    return JSON.parse(text);
  } catch {
    // fall through to the lenient parser, which also gives the error position
  }
  const deepAt = jsonTooDeepAt(text, MAX_DESCRIPTOR_DEPTH);
  if (deepAt >= 0) throw tooDeepAt(text, source, deepAt);
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, {
    allowTrailingComma: true,
    disallowComments: false,
    allowEmptyContent: false,
  });
  if (errors.length > 0) {
    const e = errors[0]!;
    const { line, column } = lineColumn(text, e.offset);
    throw invalid(source, '$', `invalid JSON at line ${line}, column ${column}: ${printParseErrorCode(e.error)}`, {
      line,
      column,
    });
  }
  return value;
}

function readForge(text: string, source: string): unknown {
  // uniqueKeys off: a repeated key keeps the last value, as Forge's own YAML loader does.
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { uniqueKeys: false, prettyErrors: true });
  } catch (e) {
    // The YAML composer recurses per level of flow collections: a pathologically deep text
    // overflows it (it reports most such overflows as a document error, handled below).
    throw invalid(source, '$', e instanceof RangeError ? tooDeep('') : `invalid YAML: ${(e as Error).message}`);
  }
  const err = doc.errors[0];
  if (err && /call stack/i.test(err.message))
    throw invalid(source, '$', tooDeep(''), { maxDepth: MAX_DESCRIPTOR_DEPTH });
  if (err) {
    const pos = err.linePos?.[0];
    const at = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    throw invalid(
      source,
      '$',
      `invalid YAML${at}: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      pos ? { line: pos.line, column: pos.col } : {},
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw invalid(source, '$', e instanceof RangeError ? tooDeep('') : `invalid YAML: ${(e as Error).message}`);
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '$';
}

/**
 * Parses and validates one descriptor or manifest.
 *
 * @returns the document, its app key (Connect `key` / Forge `app.id`), canonical JSON and hash.
 * @throws AppError `descriptor-invalid` (details: source, path, problem, line/column where known)
 *   when the text is not JSON/JSONC/YAML, is not an object, nests objects and arrays deeper than
 *   `MAX_DESCRIPTOR_DEPTH` (64) levels, or a field the rules read has the wrong type. Never throws
 *   anything else.
 */
export function parseDescriptor(text: string, opts: ParseOptions): ParsedDescriptor {
  const { source } = opts;
  if (typeof text !== 'string') throw invalid(source, '$', 'descriptor text must be a string');
  const kind = opts.kind ?? detectKind(text, source);
  const value = kind === 'connect' ? readConnect(text, source) : readForge(text, source);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(
      source,
      '$',
      `the ${kind === 'connect' ? 'descriptor' : 'manifest'} must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  // Before the schema and canonicalisation, which walk the value recursively; iterative itself.
  const deepPath = findTooDeep(value, MAX_DESCRIPTOR_DEPTH);
  if (deepPath !== null) {
    // JSON text: say where, as the scan before the JSONC parser does (only too-deep texts pay for it).
    const deepAt = kind === 'connect' ? jsonTooDeepAt(text, MAX_DESCRIPTOR_DEPTH) : -1;
    if (deepAt >= 0) throw tooDeepAt(text, source, deepAt);
    throw invalid(source, deepPath, tooDeep(''), { maxDepth: MAX_DESCRIPTOR_DEPTH });
  }
  const schema = kind === 'connect' ? ConnectDescriptorSchema : ForgeManifestSchema;
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw invalid(source, formatPath(issue.path), issue.message, {
      issues: result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    });
  }
  const document = value as Record<string, unknown>;
  const appKey =
    kind === 'connect'
      ? (document.key as string | undefined)
      : ((document.app as { id?: string } | null | undefined)?.id ?? undefined);
  const normalized = normalize(document);
  const canonical = canonOf(normalized);
  return { kind, source, document, appKey, normalized, canonical, hash: hashCanonical(canonical) };
}
