import { rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

// Two builds into dist/, one per module format, each with code splitting: the adapters, testing
// and the CLI import the core through src/core.ts, which lands in a chunk they share with
// `annals`, so there is exactly one copy of the core (classes, error codes) per module format at
// run time, and the core's internal helpers stay out of every public entry point.
//
// - ESM: every entry point, the CLI included (the `bin`, dist/cli/main.js; no types: it is not
//   importable).
// - CommonJS: only what the exports map offers to `require` — annals, annals/postgres,
//   annals/amqp. annals/testing is ESM only (vitest refuses CommonJS), and the CLI runs as ESM.
// - The Order example (dist/example/main.js), which `annals example` runs.
//
// No source maps: the output is not minified, keeps the source's names, and esbuild marks where
// each source file starts (`// src/postgres/event-store.ts`), so a stack trace into dist/ reads
// as it is. Maps were 2.3 MB of the 4 MB unpacked (0.8 MB even without `sourcesContent`).
//
// The two builds run in parallel, so neither cleans dist/ (one would delete the other's files):
// it is emptied here, once, before both start.
const shared = {
  dts: true,
  sourcemap: false,
  clean: false,
  target: 'node20',
  splitting: true,
  treeshake: true,
  external: ['zod', 'pg', 'amqplib', '@electric-sql/pglite', 'vitest'],
} satisfies Options;

const library = {
  index: 'src/index.ts',
  'postgres/index': 'src/postgres/index.ts',
  'amqp/index': 'src/amqp/index.ts',
};

export default defineConfig((options): Options[] => {
  if (!options.watch) rmSync('dist', { recursive: true, force: true });
  return [
    {
      ...shared,
      name: 'esm',
      format: ['esm'],
      entry: { ...library, 'testing/index': 'src/testing/index.ts', 'cli/main': 'src/cli/main.ts' },
      dts: { entry: { ...library, 'testing/index': 'src/testing/index.ts' } },
    },
    {
      // The Order example, for `annals example`: it imports annals by its public names, which
      // resolve to this package itself (self-reference), so it shares the CLI's copy of the core.
      ...shared,
      name: 'example',
      format: ['esm'],
      dts: false,
      splitting: false,
      entry: { 'example/main': 'examples/order/main.ts' },
      external: [...shared.external, 'annals', 'annals/postgres', 'annals/amqp'],
    },
    { ...shared, name: 'cjs', format: ['cjs'], entry: library },
  ];
});
