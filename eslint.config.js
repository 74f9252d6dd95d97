// ESLint flat config. Besides typescript-eslint's checks it enforces the package ranks of
// docs/architecture.md: a package may import only the workspace packages listed for it below, and
// only through their public entry (`@virtos/<name>`), never a deep path or a relative path into
// another package.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Which workspace packages each package may import (docs/architecture.md, "Packages"). */
const ALLOWED = {
  core: [],
  spec: ['core'],
  composer: ['core', 'spec', 'ai'],
  vault: ['core'],
  images: ['core', 'spec'],
  sandbox: ['core', 'spec'],
  runtime: ['core', 'spec', 'images', 'sandbox'],
  ai: ['core'],
  orchestrator: ['core', 'spec', 'composer', 'runtime'],
  gateway: ['core'],
  net: ['core', 'sandbox'],
  server: [
    'core',
    'spec',
    'composer',
    'vault',
    'images',
    'sandbox',
    'runtime',
    'ai',
    'orchestrator',
    'gateway',
    'net',
    // The capability list that module manifests are checked against.
    'module-sdk',
  ],
  // The CLI talks to the daemon, or runs lower packages embedded for one-shot commands.
  cli: [
    'core',
    'spec',
    'composer',
    'vault',
    'images',
    'sandbox',
    'runtime',
    'orchestrator',
    'server',
  ],
};
const ALL = Object.keys(ALLOWED);

function boundaryRules(pkg) {
  const allowed = ALLOWED[pkg];
  const forbidden = ALL.filter((p) => p !== pkg && !allowed.includes(p));
  const layerMsg = `Layering: '${pkg}' may import only ${
    allowed.length ? allowed.map((p) => `@virtos/${p}`).join(', ') : 'no workspace package'
  } (docs/architecture.md).`;
  const patterns = [
    {
      regex: '^@virtos/[^/]+/.+',
      message:
        'Import another package only through its public entry (@virtos/<name>), never a deep path.',
    },
    {
      regex: '^(\\.\\./)+(packages/)?(' + ALL.join('|') + ')/src(/|$)',
      message: 'Do not reach into another package with a relative path; import @virtos/<name>.',
    },
  ];
  if (forbidden.length) {
    patterns.push({ regex: `^@virtos/(${forbidden.join('|')})$`, message: layerMsg });
  }
  return { 'no-restricted-imports': ['error', { patterns }] };
}

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'artifacts/**', '**/*.gen.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'Use named exports, not export *.' },
      ],
    },
  },
  ...ALL.map((pkg) => ({ files: [`packages/${pkg}/**/*.ts`], rules: boundaryRules(pkg) })),
  {
    // Web rank: module-sdk imports nothing; built-in modules import only module-sdk (their tests
    // may start a real daemon).
    files: ['packages/module-sdk/**/*.ts', 'packages/modules/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^@virtos/(?!module-sdk$)',
              message:
                'Layering: module-sdk imports nothing; a module may import only @virtos/module-sdk (docs/modules.md).',
            },
            {
              regex: '^(\\.\\./)+(packages/)?[a-z-]+/src(/|$)',
              message: 'Do not reach into another package with a relative path.',
            },
          ],
        },
      ],
    },
  },
  {
    // Web rank: the shell imports only module-sdk. Its browser tests and bench start a real
    // daemon (server, core); that code never reaches the bundle (vite builds from src/main.ts).
    files: ['packages/shell/**/*.ts'],
    ignores: ['packages/shell/{test,bench}/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^@virtos/(?!module-sdk$)',
              message:
                "Layering: 'shell' may import only @virtos/module-sdk (docs/architecture.md).",
            },
            {
              regex: '^(\\.\\./)+(packages/)?[a-z-]+/src(/|$)',
              message: 'Do not reach into another package with a relative path.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/shell/{test,bench}/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^@virtos/(?!(module-sdk|server|core)$)',
              message: 'Shell tests and benches may import module-sdk, server and core only.',
            },
            {
              regex: '^@virtos/[^/]+/.+',
              message: 'Import another package only through its public entry (@virtos/<name>).',
            },
          ],
        },
      ],
    },
  },
  {
    // Engine packages take time as a parameter (Clock) so tests can drive them.
    files: ['packages/{core,spec,composer}/src/**/*.ts'],
    ignores: ['**/*.test.ts', 'packages/core/src/clock.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Take a Clock (from @virtos/core) instead.' },
        { name: 'setInterval', message: 'Take a Clock (from @virtos/core) instead.' },
        { name: 'fetch', message: 'Engine packages do no network I/O.' },
      ],
    },
  },
);
