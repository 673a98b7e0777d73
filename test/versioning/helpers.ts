import { stringify } from 'yaml';
import { parseDescriptor, type ParsedDescriptor } from '../../src/versioning/index.js';

/** A Connect descriptor from an object (through its JSON text, as a poll would see it). */
export const connect = (doc: Record<string, unknown>): ParsedDescriptor =>
  parseDescriptor(JSON.stringify(doc), { source: 'test.json', kind: 'connect' });

/** A Forge manifest from an object (through its YAML text). */
export const forge = (doc: Record<string, unknown>): ParsedDescriptor =>
  parseDescriptor(stringify(doc), { source: 'manifest.yml', kind: 'forge' });

export const baseConnect = {
  key: 'com.example.app',
  name: 'Example',
  baseUrl: 'https://app.example.com',
  authentication: { type: 'jwt' },
  scopes: ['READ'],
  modules: { webPanels: [{ key: 'panel-a', url: '/a', location: 'atl.jira.view.issue.right.context' }] },
};

export const baseForge = {
  app: { id: 'ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555', runtime: { name: 'nodejs20.x' } },
  modules: {
    function: [{ key: 'main', handler: 'index.run' }],
    'jira:issuePanel': [{ key: 'panel', function: 'main', title: 'Panel' }],
  },
  permissions: {
    scopes: ['read:jira-work'],
    external: { fetch: { backend: ['https://api.example.com'] } },
    content: { styles: ['unsafe-inline'] },
  },
  remotes: [{ key: 'backend', baseUrl: 'https://backend.example.com' }],
  providers: { auth: [{ key: 'github', clientId: 'abc', name: 'GitHub' }] },
};

/** A deep copy of `o` with `patch` applied by `fn`. */
export function withChange<T>(o: T, fn: (copy: T) => void): T {
  const c = structuredClone(o);
  fn(c);
  return c;
}
