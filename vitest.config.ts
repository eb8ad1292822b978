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
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup-logger.ts'],
    testTimeout: 60_000,
    // In CI a JSON report lets .ci/run print one plain summary line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
    hookTimeout: 120_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
  },
});
