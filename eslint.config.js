// ESLint (flat config): a focused set of rules that catch real bugs, on top of tsc's strict checks.
// `npm run lint`; formatting is prettier's job, so no stylistic rules here.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The walls between rooms (docs/architecture.md): each room imports only the rooms below it. A
// room's folder name is unique in the tree, so a relative import is recognised by its path.
// Floors, bottom up: a room may import the rooms listed for it, which are below it.
const CORE = ['orchestrator', 'engine', 'format', 'math', 'trie', 'internal', 'errors'];
const FRONT = ['solve', 'decompose', ...CORE];
const BATCH = ['batch', ...FRONT];
const ROOMS = {
  internal: { files: ['src/internal/**'], may: ['errors'] },
  math: { files: ['src/math/**'], may: ['internal', 'errors'] },
  format: { files: ['src/format/**'], may: ['math', 'internal', 'errors'] },
  trie: { files: ['src/trie/**'], may: ['format', 'internal', 'errors'] },
  engine: { files: ['src/engine/**'], may: ['format', 'math', 'internal', 'errors'] },
  orchestrator: { files: ['src/orchestrator/**'], may: ['engine', 'format', 'math', 'trie', 'internal', 'errors'] },
  decompose: { files: ['src/decompose/**'], may: CORE },
  solve: { files: ['src/solve/**'], may: ['decompose', ...CORE] },
  batch: { files: ['src/batch/**'], may: FRONT },
  eval: { files: ['eval/**'], may: BATCH },
  rl: { files: ['rl/**'], may: ['eval', ...BATCH] },
  sft: { files: ['src/sft/**'], may: ['eval', ...BATCH] },
  http: { files: ['src/server/http/**'], may: ['internal', 'errors'] },
  serve: { files: ['src/server/serve/**'], may: ['http', 'engine', 'format', 'math', 'internal', 'errors'] },
  gateway: { files: ['src/server/gateway/**'], may: ['serve', 'http', ...FRONT] },
  viewer: { files: ['src/server/viewer/**'], may: ['http', 'eval', 'rl', ...CORE] },
  root: { files: ['src/index.ts'], may: ['serve', 'gateway', 'http', ...BATCH] },
};
// How an import of each room looks from anywhere else in the tree.
const ROOM_PATTERNS = {
  errors: ['**/src/errors.js', '../errors.js', '../../errors.js', './errors.js'],
  internal: ['**/internal/**'],
  math: ['**/math/**'],
  format: ['**/format/**'],
  trie: ['**/trie/**'],
  engine: ['**/engine/**'],
  orchestrator: ['**/orchestrator/**'],
  decompose: ['**/decompose/**'],
  solve: ['**/solve/**'],
  batch: ['**/batch/**'],
  eval: ['**/eval/**'],
  rl: ['**/rl/**'],
  sft: ['**/sft/**'],
  http: ['**/http/**'],
  serve: ['**/serve/**'],
  gateway: ['**/gateway/**'],
  viewer: ['**/viewer/**'],
  server: ['**/server/index.js'],
  cli: ['**/cli/**'],
};
const walls = Object.entries(ROOMS).map(([room, { files, may }]) => ({
  files: files.map((f) => f.replace(/\*\*$/, '**/*.ts').replace(/\.ts\/\*\*\/\*\.ts$/, '.ts')),
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: Object.entries(ROOM_PATTERNS)
          // A room's own files, and errors.ts's siblings named errors.ts, are not walls.
          .filter(([other]) => other !== room && !may.includes(other) && other !== 'errors')
          .map(([other, group]) => ({
            group,
            message: `the ${room} room may not import ${other} (docs/architecture.md lists what each room may import)`,
          })),
      },
    ],
  },
}));

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', 'runs/', 'scratch/', '.cache/'],
  },

  // Correctness rules of ESLint itself (unreachable code, duplicate keys, a lost `cause`, ...), and
  // typescript-eslint's syntax-level set (explicit any, unused variables, ...). The rules tsc
  // already enforces are turned off by the latter.
  js.configs.recommended,
  tseslint.configs.recommended,

  {
    languageOptions: {
      parserOptions: {
        // Each file is checked with its own tsconfig (tsconfig.json, test/tsconfig.json); config
        // files outside both get a default project.
        projectService: { allowDefaultProject: ['*.js', 'vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
      globals: globals.node,
    },
    rules: {
      // Promises: a forgotten await loses the error (an unhandled rejection) or the ordering.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // `return promise` inside try skips the catch and the finally's timing.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // Throw and reject with errors (a stack, a message). Values of type any/unknown pass: an abort
      // signal's reason and an error caught elsewhere are passed on as they are.
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],
      // `any` that leaks out of JSON.parse or a library unchecked.
      '@typescript-eslint/no-unsafe-argument': 'error',
      '@typescript-eslint/no-unsafe-assignment': 'error',
      '@typescript-eslint/no-unsafe-call': 'error',
      '@typescript-eslint/no-unsafe-member-access': 'error',
      '@typescript-eslint/no-unsafe-return': 'error',
      // A cast that changes nothing hides the day the types change underneath it.
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // A method passed on without its object loses `this`.
      '@typescript-eslint/unbound-method': 'error',
      // Type-only imports and exports are erased at build time: say so, so none pulls in a module
      // (and its side effects) for a type. The inline form is the house style.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/consistent-type-exports': ['error', { fixMixedExportsWithInlineTypeSpecifier: true }],
      // `== null` (null or undefined) is the one loose comparison the code uses on purpose.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // A leading underscore marks a deliberately unused name: a key left out of a rest object,
      // a parameter an interface requires.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },

  {
    files: ['test/**'],
    rules: {
      // Tests read the JSON bodies and stream events of the servers under test: the shape is what
      // the assertions check, so these values are `any` there on purpose.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // Plain JavaScript: the web pages' scripts run in the browser; config files and loaders in Node.
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { '@typescript-eslint/consistent-type-imports': 'off', '@typescript-eslint/consistent-type-exports': 'off' },
  },
  { files: ['src/server/web/**/*.js'], languageOptions: { globals: globals.browser } },

  // Every deliberate error is a ThreadweaverError (a subclass names the room's failure), so a caller
  // tells the package's failures from bugs; argument checks may throw TypeError or RangeError.
  {
    files: ['src/**/*.ts', 'eval/**/*.ts', 'rl/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ThrowStatement > NewExpression[callee.name='Error']",
          message: 'throw a ThreadweaverError (or a subclass such as EngineError), not a plain Error',
        },
      ],
      'max-lines-per-function': ['error', { max: 120 }],
    },
  },

  ...walls,
);
