import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
          selector:
            "MemberExpression[property.name='defineCommand'], MemberExpression[property.value='defineCommand']",
          message: 'Add a .lua file to src/store/commands/ and use defineScripts(redis) (src/store/scripts.ts).',
        },
      ],
    },
  },
  {
    // Domain code is pure: no clock reads, no I/O (DESIGN.md, "The pipeline").
    files: ['src/versioning/**/*.ts', 'src/rollout/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Inject a Clock / pass `now`.' }],
      'no-restricted-imports': ['error', { patterns: ['node:fs', 'node:http', 'ioredis', 'bullmq', 'undici', 'fs', '../store/*', '../workers/*', '../http/*'] }],
    },
  },
);
