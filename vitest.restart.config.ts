import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The broker-restart test (test/amqp-restart): it stops the whole RabbitMQ application, so it
 * runs alone, after the default run, as the second step of `npm test`. Without RABBITMQ_URL it is
 * skipped with a plain reason, like every broker test. The rest is the default configuration.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/amqp-restart/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
    // In CI a JSON report of its own; .ci/run adds it to the default run's in the summary.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: 'test-results-restart.json' }]]
      : ['default'],
    typecheck: { enabled: false },
  },
});
