// Type-aware linting: the rules that matter most for a long-running voice worker are the
// promise rules (a floating promise in a call handler is a silent hang or an unhandled rejection).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'web/dist/', '.stack/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      // Style only: `() => socket.close()` reads fine and hides no bug.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration through src/config (parsed once with zod at start-up).',
        },
      ],
    },
  },
  {
    // The only places allowed to read the environment: the config parsers and the stack's CLI edge.
    files: ['src/config/**', 'stack/**', 'test/**', 'bench/**', '*.config.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    // agents-js tools and test fakes implement async contracts (`execute` returns a promise) with
    // bodies that need no await: `async () => value` is the idiomatic form there.
    files: ['agents/**', 'test/**'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    // Tests may assert on parsed YAML and table rows without ceremony.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
