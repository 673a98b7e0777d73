/**
 * The permissions a Forge manifest requests, in words an admin reads on the installation screen
 * (seed 000, "Start sharing your app": the screen "displays information about your app,
 * including the permissions your app is requesting"): each scope of `permissions.scopes` and
 * each egress entry of `permissions.external`, with a sentence and the raw name beside it. Pure.
 */
import { egressEntries, forgeScopes } from './forge-permissions.js';

/** One requested permission: the raw name and a sentence. */
export interface PermissionWords {
  /** The scope (`read:jira-work`) or the egress entry's address. */
  name: string;
  /** For egress: the kind (`fetch.backend`, `images`, …). */
  kind?: string;
  words: string;
}

/** What a manifest requests. */
export interface RequestedPermissions {
  scopes: PermissionWords[];
  egress: PermissionWords[];
}

const PRODUCTS: Record<string, string> = {
  jira: 'Jira',
  confluence: 'Confluence',
  bitbucket: 'Bitbucket',
  compass: 'Compass',
  jsm: 'Jira Service Management',
  servicedesk: 'Jira Service Management',
  'jira-servicedesk': 'Jira Service Management',
  connect: 'Connect',
};

const VERBS: Record<string, string> = {
  read: 'Read',
  write: 'Create and change',
  delete: 'Delete',
  manage: 'Manage',
  storage: 'Use',
  admin: 'Administer',
  'act-as-user': 'Act as the user in',
  'access-email-addresses': 'See email addresses in',
  'project-admin': 'Administer projects in',
  'space-admin': 'Administer spaces in',
};

/** `jira-work` → `Jira work`; `connect-jira` → `Connect Jira`. */
function phrase(thing: string): string {
  return thing
    .split(/[-.]/)
    .filter(Boolean)
    .map((w) => PRODUCTS[w] ?? w)
    .join(' ');
}

/**
 * A scope in words: `read:jira-work` → `Read Jira work`; granular `read:issue:jira` → `Read
 * issue (Jira)`; `storage:app` → `Use app storage`; anything else as written.
 */
export function scopeWords(scope: string): string {
  const parts = scope.split(':');
  const verb = VERBS[parts[0] ?? ''];
  if (!verb || parts.length < 2) return `Use ${scope}`;
  if (parts[0] === 'storage') return `Use ${phrase(parts.slice(1).join(' '))} storage`;
  if (parts.length === 3) return `${verb} ${phrase(parts[1]!)} (${phrase(parts[2]!)})`;
  return `${verb} ${phrase(parts.slice(1).join('-'))}`;
}

const EGRESS: Record<string, string> = {
  'fetch.backend': 'Its backend exchanges data with',
  'fetch.client': 'Your browser exchanges data, for the app, with',
  images: 'Loads images from',
  media: 'Loads media from',
  scripts: 'Loads scripts from',
  styles: 'Loads styles from',
  fonts: 'Loads fonts from',
  frames: 'Embeds pages from',
  navigation: 'Links to',
};

/** An egress entry in words: `fetch.backend`, `https://api.example.com` → `Its backend exchanges data with https://api.example.com`. */
export function egressWords(kind: string, address: string): string {
  return `${EGRESS[kind] ?? `${kind}:`} ${address}`;
}

/** The scopes and egress a manifest (its parsed document) requests, sorted, in words. */
export function requestedPermissions(manifest: Record<string, unknown>): RequestedPermissions {
  const scopes = [...forgeScopes(manifest)].sort().map((name) => ({ name, words: scopeWords(name) }));
  const egress = [...egressEntries(manifest)].sort().map((entry) => {
    const [kind = '', address = ''] = entry.split('\t');
    return { name: address, kind, words: egressWords(kind, address) };
  });
  return { scopes, egress };
}
