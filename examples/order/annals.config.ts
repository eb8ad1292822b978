/**
 * The Order example's configuration in plain values, for the `annals` command line:
 *
 * ```sh
 * npx annals migrate --config examples/order/annals.config.ts
 * npx annals run --config examples/order/annals.config.ts     # the projection worker
 * npx annals status --config examples/order/annals.config.ts
 * ```
 *
 * It reads the environment as the example does (examples/order/infrastructure.ts): `DATABASE_URL`
 * (the events), `READ_MODEL_DATABASE_URL` (the read model, when it lives elsewhere) and
 * `RABBITMQ_URL`; with `RABBITMQ_URL` set the projection runs on the broker (relay and consumer),
 * otherwise it follows the log. Defaults are `compose.yaml`'s servers.
 */
import { defineConfig } from 'annals';
import { ExampleDefaults, fromEnv } from './infrastructure.js';
import { orderReadModel } from './order-read-model.js';
import { orderRegistry } from './upcasters.js';

export default defineConfig(() => {
  const rabbitmqUrl = fromEnv('RABBITMQ_URL');
  const databaseUrl = fromEnv('DATABASE_URL');
  return {
    registry: orderRegistry(),
    eventStore: {
      connectionString: databaseUrl ?? ExampleDefaults.eventsDatabaseUrl,
      schema: fromEnv('ANNALS_EXAMPLE_SCHEMA') ?? 'annals_example',
    },
    ...(rabbitmqUrl === undefined ? {} : { messageBroker: { url: rabbitmqUrl, prefetch: 10 } }),
    projections: {
      definitions: [orderReadModel],
      transport: rabbitmqUrl === undefined ? ('log' as const) : ('broker' as const),
      targetDb:
        fromEnv('READ_MODEL_DATABASE_URL') ??
        (databaseUrl ? undefined : ExampleDefaults.readModelDatabaseUrl),
      batchSize: 50,
      retryDelayMs: 1000,
      maxRetryAttempts: 5,
    },
    idempotency: { commandTtlHours: 72 },
  };
});
