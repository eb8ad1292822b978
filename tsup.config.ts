import { defineConfig } from 'tsup';

// All entry points are built together with code splitting: the adapters, testing and the CLI
// import the core through src/core.ts, which lands in a chunk they share with `annals`, so there
// is exactly one copy of the core (classes, error codes) per module format at run time, and the
// core's internal helpers stay out of every public entry point.
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
  splitting: true,
  treeshake: true,
  external: ['zod', 'pg', 'amqplib', '@electric-sql/pglite', 'vitest'],
});
