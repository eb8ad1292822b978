import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/support/slow-first-sequencer.js';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^annals$/, replacement: src('index.ts') },
      { find: /^annals\/(postgres|amqp|testing)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The broker restart stops RabbitMQ for every test: it runs alone, after this run
    // (vitest.restart.config.ts, the second step of `npm test`).
    exclude: [...configDefaults.exclude, 'test/amqp-restart/**'],
    globalSetup: ['test/global-setup.ts', 'test/support/pglite-template.ts'],
    setupFiles: ['test/setup-logger.ts'],
    // One worker more than CPUs (on PGlite), 3 on a server: the slowest files mostly wait (for the
    // CLI's child processes, the database, the broker), and vitest's default (CPUs - 1) is one
    // worker on 2 cores. On a server every file's pools count against max_connections (100 here,
    // shared with other runs and benchmarks): the pools under test close idle connections after
    // a second, and the few files that open many at once (usePostgres({ manyConnections: true }):
    // races, several pools, up to ~60) run one at a time, beside at most 2 others (up to 20 each,
    // most use a few). ANNALS_TEST_WORKERS overrides both.
    maxWorkers: process.env.ANNALS_TEST_WORKERS
      ? Number(process.env.ANNALS_TEST_WORKERS)
      : process.env.DATABASE_URL
        ? 3
        : availableParallelism() + 1,
    // The slowest files first, also in a fresh clone (no cache of durations): test/support.
    sequence: { sequencer: SlowFirstSequencer },
    testTimeout: 60_000,
    // In CI a JSON report lets .ci/run print one plain summary line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
    hookTimeout: 120_000,
    // The type tests; ANNALS_TEST_TYPECHECK=0 leaves them out (.ci/run, whose `npm run typecheck`
    // checks them before the full runs: tsconfig.json includes test/).
    typecheck: { enabled: process.env.ANNALS_TEST_TYPECHECK !== '0', include: ['test/**/*.test-d.ts'] },
  },
});
