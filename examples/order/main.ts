/**
 * The Order reference example, end to end on PostgreSQL, walking the Quick Start:
 *
 * 1. commands go through the repository (business rules reject some),
 * 2. their events are stored in the global log,
 * 3. the Order read model catches up: a projection runner reads the log, or, with
 *    `RABBITMQ_URL` set, a relay publishes the log to RabbitMQ and a projection consumer builds
 *    the read model from its queue (the same projection definition),
 * 4. the read model answers a query,
 * 5. the read model is dropped, its checkpoint reset, the runner restarted: the rebuilt rows
 *    are identical.
 *
 * Run it with `npm run example`: PostgreSQL on PGlite in process by default, or a server when
 * `DATABASE_URL` is set (schema `annals_example`, or `ANNALS_EXAMPLE_SCHEMA`, recreated each run).
 * `READ_MODEL_DATABASE_URL` puts the read model in another database (schema
 * `<schema>_read_model`, recreated too). `RABBITMQ_URL` sends the events through the broker (exchange `domain_events`, queue
 * `projection_order-read-model`); `npm run example:worker` is the same consumer as a process of
 * its own (see worker.ts). `compose.yaml` at the repository's root starts all three servers.
 */
import { pathToFileURL } from 'node:url';
import {
  compareLogPositions,
  ErrorCode,
  everyNEvents,
  formatLogPosition,
  InMemoryEventBus,
  isAnnalsError,
  type LogPosition,
  logPositionOf,
  ProjectionRunner,
  type StoredEvent,
} from 'annals';
import { EventRelay, ProjectionConsumer } from 'annals/amqp';
import { fromEnv } from './infrastructure.js';
import { OrderCommandHandler } from './order-commands.js';
import { ORDER_READ_MODEL, type OrderReadRow, orderReadModel, queryOrders } from './order-read-model.js';
import { readLogThrough } from './read-log.js';
import { type OrderStores, openOrderStores, readModelSchema } from './store-setup.js';
import { orderRegistry } from './upcasters.js';

const log = (line = '') => console.log(line);
const describeEvent = (event: StoredEvent) =>
  `    v${event.version} ${event.type} ${JSON.stringify(event.payload)}`;
const describeRow = (row: OrderReadRow) =>
  `    ${row.orderId}  ${row.customerId.padEnd(8)} ${row.status.padEnd(9)} ${String(row.itemCount).padStart(2)} items  total ${row.totalAmount.padStart(7)}  created ${row.createdAt.toISOString()}`;

/** The URL with its password hidden, for the output. */
const redact = (url: string) => {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
};

export async function main(): Promise<void> {
  const databaseUrl = fromEnv('DATABASE_URL');
  const readModelUrl = fromEnv('READ_MODEL_DATABASE_URL');
  const schema = fromEnv('ANNALS_EXAMPLE_SCHEMA');
  const stores = await openOrderStores({ databaseUrl, schema });
  let readModel = stores;
  try {
    // The read model's own database, when one is given (the events' database otherwise), in a
    // schema of its own: were the URL the same database under another spelling, recreating it
    // leaves the events alone.
    if (readModelUrl && readModelUrl !== databaseUrl) {
      readModel = await openOrderStores({
        databaseUrl: readModelUrl,
        schema: readModelSchema(stores.schema),
      });
    }
    await walkQuickStart(stores, readModel, fromEnv('RABBITMQ_URL'));
  } finally {
    if (readModel !== stores) await readModel.close();
    await stores.close();
  }
}

/**
 * Walks the Quick Start. Events live in `stores`; the read model (its table, checkpoint and
 * processed-event records) in `readModel`, which may be the same database.
 */
async function walkQuickStart(
  stores: OrderStores,
  readModel: OrderStores,
  rabbitmqUrl: string | undefined,
): Promise<void> {
  const { eventStore, commandLog, snapshotStore } = stores;
  const { projectionStore, pool, schema } = readModel;
  const bus = new InMemoryEventBus();
  const published: string[] = [];
  bus.subscribe('*', (event) => {
    published.push(event.type);
  });
  // Commands with an id run at most once: the record commits in the append's transaction.
  // Orders are loaded from a snapshot plus the events after it; one is taken every 3 events.
  const snapshots = { store: snapshotStore, policy: everyNEvents(3) };
  const handler = new OrderCommandHandler(eventStore, { bus, commands: commandLog, snapshots });
  const orderId = 'order-1001';
  const correlationId = 'checkout-7f3a';
  let lastPosition: LogPosition | undefined;
  const show = (events: readonly StoredEvent[]) => {
    for (const event of events) {
      log(describeEvent(event));
      lastPosition = logPositionOf(event);
    }
  };

  log(`annals: Order example (${stores.description})`);
  if (readModel !== stores) log(`  read model in ${readModel.description}`);
  log(
    rabbitmqUrl
      ? `  through RabbitMQ at ${redact(rabbitmqUrl)}: relay and projection consumer in this process`
      : '  projections read the log (set RABBITMQ_URL to go through RabbitMQ)',
  );
  log();
  log('1. Send commands');
  log(`  create order ${orderId} for customer cust-42 with one line`);
  show(
    (
      await handler.createOrder(
        orderId,
        'cust-42',
        [{ productId: 'sku-keyboard', quantity: 1, price: 49.9 }],
        { commandId: 'cmd-1', correlationId },
      )
    ).events,
  );
  log('  add 2 x sku-mouse at 19.95');
  show(
    (
      await handler.addItem(
        orderId,
        { productId: 'sku-mouse', quantity: 2, price: 19.95 },
        { commandId: 'cmd-2', correlationId },
      )
    ).events,
  );
  log('  the client retries "add 2 x sku-mouse" with the same command id cmd-2');
  const retried = await handler.addItem(
    orderId,
    { productId: 'sku-mouse', quantity: 2, price: 19.95 },
    { commandId: 'cmd-2', correlationId },
  );
  log(`    duplicate: ${retried.duplicate}; nothing appended, the stream stays at v${retried.version}`);
  log('  add 0 x sku-cable (a business rule rejects it)');
  await expectRejection(() => handler.addItem(orderId, { productId: 'sku-cable', quantity: 0, price: 5 }));
  log('  ship the order');
  show(
    (await handler.shipOrder(orderId, 'DHL', 'JD0146000031', { commandId: 'cmd-3', correlationId })).events,
  );
  log('  add an item after shipping (rejected)');
  await expectRejection(() => handler.addItem(orderId, { productId: 'sku-late', quantity: 1, price: 1 }));
  log('  create order order-1002 for cust-42, then cancel it');
  show(
    (await handler.createOrder('order-1002', 'cust-42', [{ productId: 'sku-desk', quantity: 1, price: 310 }]))
      .events,
  );
  show((await handler.cancelOrder('order-1002', 'customer changed their mind')).events);
  log('  create order order-1003 for cust-7 with two lines');
  show(
    (
      await handler.createOrder('order-1003', 'cust-7', [
        { productId: 'sku-lamp', quantity: 2, price: 24.5 },
        { productId: 'sku-bulb', quantity: 4, price: 3.25 },
      ])
    ).events,
  );

  log();
  log('2. Events stored in the global log');
  const stored = await readLogThrough(eventStore, lastPosition!);
  for (const event of stored) {
    log(
      `  #${event.globalPosition} ${event.aggregateId} v${event.version} ${event.type}` +
        (event.metadata.correlationId ? ` (correlation ${event.metadata.correlationId})` : ''),
    );
  }
  const order = await handler.orders.load(orderId);
  log(
    `  ${orderId} rebuilt from its events -> status ${order.status}, ${order.items.length} lines, total ${order.totalAmount.toFixed(2)}`,
  );
  const snapshot = await snapshots.store.load(orderId);
  log(`  snapshot of ${orderId} at v${snapshot?.version}: loads read it plus the events after it`);
  log(`  published to the bus: ${published.join(', ')}`);

  log();
  const target = lastPosition!;
  const stopCatchingUp = rabbitmqUrl
    ? await catchUpThroughBroker(stores, readModel, rabbitmqUrl, target, stored.length)
    : await catchUpFromLog(stores, readModel, target);

  log();
  log('4. The read model answers a query: the orders of customer cust-42');
  for (const row of await queryOrders(pool, schema, { customerId: 'cust-42' })) log(describeRow(row));
  const before = await queryOrders(pool, schema);
  log(`  all orders: ${before.length} rows`);

  log();
  await stopCatchingUp();
  log(
    rabbitmqUrl
      ? '5. Drop the read model, reset the checkpoint, rebuild it from the log with the runner (the same projection)'
      : '5. Drop the read model, reset the checkpoint, restart the runner',
  );
  await projectionStore.transaction(async (transaction) => {
    await orderReadModel.reset?.(transaction.context);
    await transaction.resetCheckpoint(ORDER_READ_MODEL);
  });
  const dropped = await pool.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    `${schema}.order_read`,
  ]);
  log(
    `  order_read dropped: ${dropped.rows[0]?.present === false ? 'yes' : 'no'}; checkpoint reset to ${formatLogPosition((await projectionStore.loadCheckpoint(ORDER_READ_MODEL)).position)}`,
  );
  const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [orderReadModel] });
  runner.start();
  await waitForCheckpoint(runner, target);
  await runner.stop();
  const after = await queryOrders(pool, schema);
  for (const row of after) log(describeRow(row));
  const identical = JSON.stringify(after) === JSON.stringify(before);
  log(
    `  rebuilt ${after.length} rows from ${stored.length} events: ${identical ? 'identical' : 'DIFFERENT'} to the rows before`,
  );
  if (!identical) throw new Error('the rebuilt read model differs from the one built live');

  log();
  log('Done.');
}

/** Step 3 on the log: a projection runner; returns how to stop it. */
async function catchUpFromLog(
  stores: OrderStores,
  readModel: OrderStores,
  target: LogPosition,
): Promise<() => Promise<void>> {
  log(`3. The projection "${ORDER_READ_MODEL}" catches up`);
  const runner = new ProjectionRunner({
    eventStore: stores.eventStore,
    projectionStore: readModel.projectionStore,
    projections: [orderReadModel],
  });
  runner.start();
  await waitForCheckpoint(runner, target);
  const status = await runner.status(ORDER_READ_MODEL);
  log(
    `  checkpoint ${formatLogPosition(status.checkpoint)} = head ${formatLogPosition(status.head)}: lag ${status.lagEvents} events, ${status.deadLetters} dead letters`,
  );
  return () => runner.stop();
}

/**
 * Step 3 through RabbitMQ: the consumer first (it declares its queue, so no published event is
 * unroutable), then the relay; waits until the relay confirmed our last append and the consumer
 * acknowledged every event. Returns how to stop both.
 */
async function catchUpThroughBroker(
  stores: OrderStores,
  readModel: OrderStores,
  url: string,
  target: LogPosition,
  events: number,
): Promise<() => Promise<void>> {
  log(`3. Through RabbitMQ: the relay publishes the log, a consumer builds "${ORDER_READ_MODEL}"`);
  const consumer = new ProjectionConsumer({
    projection: orderReadModel,
    processedEvents: readModel.processedEvents,
    context: (client) => ({ client, schema: readModel.schema }),
    eventStore: stores.eventStore,
    registry: orderRegistry(),
    url,
    connectionName: 'annals example consumer',
  });
  await consumer.start();
  // The relay's checkpoint and lease ("relay:domain_events") live beside the events.
  const relay = new EventRelay({
    eventStore: stores.eventStore,
    checkpoints: stores.projectionStore,
    url,
    connectionName: 'annals example relay',
  });
  relay.start();
  const stop = async () => {
    await relay.stop();
    await consumer.stop();
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const relayStatus = await relay.status();
      const consumerStatus = consumer.status();
      if (
        compareLogPositions(relayStatus.checkpoint, target) >= 0 &&
        consumerStatus.acknowledged >= events &&
        consumerStatus.inFlight === 0
      ) {
        log(
          `  relay ${relayStatus.relay}: checkpoint ${formatLogPosition(relayStatus.checkpoint)} = head ${formatLogPosition(relayStatus.head)}: lag ${relayStatus.lagEvents} events, ${relayStatus.publishedEvents} published and confirmed`,
        );
        log(
          `  consumer on queue ${consumerStatus.queue}: ${consumerStatus.acknowledged} messages applied and acknowledged`,
        );
        return stop;
      }
      const failure = relayStatus.lastError?.error ?? consumerStatus.lastError;
      if (Date.now() > deadline) {
        throw new Error(
          `the read model did not catch up through RabbitMQ within 60 s (relay ${relayStatus.state}, lag ${relayStatus.lagEvents}; consumer acknowledged ${consumerStatus.acknowledged} of ${events})`,
          { cause: failure },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

async function expectRejection(command: () => Promise<unknown>): Promise<void> {
  try {
    await command();
  } catch (error) {
    if (!isAnnalsError(error, ErrorCode.DomainRule)) throw error;
    log(`    rejected: ${error.message}`);
    return;
  }
  throw new Error('the command should have been rejected');
}

/**
 * Waits until the runner's projection has processed the event at `target` (our last append).
 * Waiting for our own position rather than for "the head" also holds on a busy server, where
 * other sessions' open transactions can briefly hide committed events from readers.
 */
async function waitForCheckpoint<T>(runner: ProjectionRunner<T>, target: LogPosition): Promise<void> {
  for (;;) {
    const status = await runner.status(ORDER_READ_MODEL);
    if (compareLogPositions(status.checkpoint, target) >= 0) return;
    if (status.state === 'failed') throw status.lastError?.error ?? new Error('the projection failed');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Run directly (`npm run example`), not when imported (`annals example` imports it and calls main).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
