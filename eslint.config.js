import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, lowest first; a module may import its own layer and the layers below,
 * never one above (README, "Architecture"):
 *   lib → versioning, rollout (pure domain) → jobs, store, poller, metrics, replay (data, I/O at the edges)
 *   → app (use cases) → workers, notify, http, config (adapters) → runtime.ts → main.ts → cli, demo
 */
const above = {
  app: ['**/workers/**', '**/http/**', '**/notify/**', '**/config/**'],
  adapters: ['**/runtime.js', '**/main.js'],
  top: ['**/cli/**', '**/demo/**'],
};
const layer = (...groups) => groups.flatMap((g) => above[g]);
const message = 'imports point down the layers (README, "Architecture")';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': 'off',
    },
  },
  {
    // Lua scripts are defined on a connection in one place, src/store/scripts.ts, which loads
    // them from src/store/commands/*.lua; script replies are decoded in script-results.ts.
    files: ['src/**/*.ts'],
    ignores: ['src/store/scripts.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[property.name='defineCommand'], MemberExpression[property.value='defineCommand']",
          message: 'Add a .lua file to src/store/commands/ and use defineScripts(redis) (src/store/scripts.ts).',
        },
      ],
    },
  },
  {
    // Domain code is pure: no clock reads, no I/O, no queue or metrics library (DESIGN.md, "The pipeline").
    files: ['src/versioning/**/*.ts', 'src/rollout/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Inject a Clock / pass `now`.' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:fs',
                'node:fs/*',
                'fs',
                'node:http',
                'node:https',
                'node:net',
                'node:dns',
                'node:child_process',
              ],
              message: 'domain code is pure: no I/O',
            },
            {
              group: ['ioredis', 'bullmq', 'undici', 'prom-client', 'fastify'],
              message: 'domain code is pure: no I/O libraries',
            },
            {
              group: [
                '**/store/**',
                '**/jobs/**',
                '**/poller/**',
                '**/metrics/**',
                '**/app/**',
                ...layer('app', 'adapters', 'top'),
              ],
              message,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/versioning/**',
                '**/rollout/**',
                '**/store/**',
                '**/jobs/**',
                '**/poller/**',
                '**/metrics/**',
                '**/app/**',
              ],
              message,
            },
            { group: layer('app', 'adapters', 'top'), message },
          ],
        },
      ],
    },
  },
  {
    files: ['src/jobs/**/*.ts', 'src/store/**/*.ts', 'src/poller/**/*.ts', 'src/metrics/**/*.ts', 'src/replay/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/app/**', ...layer('app', 'adapters', 'top')], message }] },
      ],
    },
  },
  {
    // Use cases reach Redis and BullMQ only through the store classes and the enqueue ports.
    files: ['src/app/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['ioredis', 'bullmq', 'undici', 'prom-client', 'fastify'],
              message: 'use cases take ports (src/app/context.ts)',
            },
            { group: layer('app', 'adapters', 'top'), message },
          ],
        },
      ],
    },
  },
  {
    files: ['src/workers/**/*.ts', 'src/notify/**/*.ts', 'src/http/**/*.ts', 'src/config/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: layer('adapters', 'top'), message }] }] },
  },
  {
    files: ['src/runtime.ts', 'src/main.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: layer('top'), message }] }] },
  },
);
