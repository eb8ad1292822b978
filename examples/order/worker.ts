/**
 * The Order read model's projection worker: the Quick Start's step 3 as a process of its own. It
 * consumes the queue `projection_order-read-model` (bound to the `domain_events` exchange the
 * relay publishes to) and builds `order_read`, until SIGINT or SIGTERM, then finishes the messages
 * in hand and exits.
 *
 * Run it with `npm run example:worker`. It reads the environment, defaulting to `compose.yaml`'s
 * servers (examples/order/infrastructure.ts):
 * - `RABBITMQ_URL`: the broker;
 * - `DATABASE_URL`: the events database, read to fill gaps (schema `annals_example`, or
 *   `ANNALS_EXAMPLE_SCHEMA`; created when missing, never dropped);
 * - `READ_MODEL_DATABASE_URL`: the read model's database (schema `<schema>_read_model`); without
 *   it, the read model lives beside the events when `DATABASE_URL` is set, and in compose's
 *   read-model database otherwise.
 *
 * `npm run example` runs a consumer of its own and recreates its schemas on every run: stop the
 * worker while it runs, or point them at different schemas.
 */
import { ProjectionConsumer } from 'annals/amqp';
import { ExampleDefaults, fromEnv } from './infrastructure.js';
import { orderReadModel } from './order-read-model.js';
import { openOrderStores, readModelSchema } from './store-setup.js';
import { orderRegistry } from './upcasters.js';

const redact = (url: string) => {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
};

async function worker(): Promise<void> {
  const databaseUrl = fromEnv('DATABASE_URL');
  const eventsUrl = databaseUrl ?? ExampleDefaults.eventsDatabaseUrl;
  const readModelUrl =
    fromEnv('READ_MODEL_DATABASE_URL') ?? (databaseUrl ? undefined : ExampleDefaults.readModelDatabaseUrl);
  const rabbitmqUrl = fromEnv('RABBITMQ_URL') ?? ExampleDefaults.rabbitmqUrl;
  const schema = fromEnv('ANNALS_EXAMPLE_SCHEMA') ?? 'annals_example';

  const events = await openOrderStores({ databaseUrl: eventsUrl, schema, fresh: false });
  const readModel =
    readModelUrl && readModelUrl !== eventsUrl
      ? await openOrderStores({ databaseUrl: readModelUrl, schema: readModelSchema(schema), fresh: false })
      : events;
  const consumer = new ProjectionConsumer({
    projection: orderReadModel,
    processedEvents: readModel.processedEvents,
    context: (client) => ({ client, schema: readModel.schema }),
    eventStore: events.eventStore,
    registry: orderRegistry(),
    url: rabbitmqUrl,
    connectionName: 'annals example worker',
    onError: (error) => console.error(`  ${error.message}`),
  });
  const close = async () => {
    if (readModel !== events) await readModel.close();
    await events.close();
  };
  try {
    await consumer.start();
  } catch (error) {
    await close();
    throw error;
  }
  console.log(`annals: Order projection worker`);
  console.log(`  events in ${events.description}`);
  console.log(`  read model in ${readModel.description}`);
  console.log(
    `  consuming queue ${consumer.queue} at ${redact(rabbitmqUrl)}; stop with Ctrl-C (SIGINT) or SIGTERM`,
  );

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log('  stopping: finishing the messages in hand');
  await consumer.stop();
  await close();
  console.log(`  stopped after ${consumer.status().acknowledged} messages acknowledged`);
}

worker().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
