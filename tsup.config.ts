import { defineConfig } from 'tsup';

// Each entry point is built on its own; adapters and testing import the core
// through the package name `annals`, which stays external, so there is exactly
// one copy of the core (classes, error codes) at run time.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'postgres/index': 'src/postgres/index.ts',
    'amqp/index': 'src/amqp/index.ts',
    'testing/index': 'src/testing/index.ts',
    'cli/main': 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  treeshake: true,
  external: ['annals', 'zod', 'pg', 'amqplib', '@electric-sql/pglite', 'vitest'],
});
