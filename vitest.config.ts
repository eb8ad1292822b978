import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

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
    // On PGlite (no DATABASE_URL) one worker more than CPUs: the slowest files (test/cli) mostly
    // wait for the CLI's child processes, and vitest's default (CPUs - 1) is one worker on 2 cores.
    // On a server the default stays (every file's pools count against max_connections).
    maxWorkers: process.env.DATABASE_URL ? undefined : availableParallelism() + 1,
    testTimeout: 60_000,
    // In CI a JSON report lets .ci/run print one plain summary line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
    hookTimeout: 120_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
  },
});
