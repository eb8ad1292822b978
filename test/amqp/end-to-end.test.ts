/**
 * End to end on real RabbitMQ and PostgreSQL (PGlite without DATABASE_URL): concurrent writers
 * append Order events, the EventRelay publishes them, a ProjectionConsumer builds the Order read
 * model from the broker, and it equals the one ProjectionRunner builds from the log.
 */
import { ProjectionRunner } from 'annals';
import { EventRelay, ProjectionConsumer } from 'annals/amqp';
import {
  type PgQueryable,
  PostgresEventStore,
  PostgresProcessedEventStore,
  PostgresProjectionStore,
} from 'annals/postgres';
import { afterAll, expect, it } from 'vitest';
import { orderReadModel, queryOrders } from '../../examples/order/order-read-model.js';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { hasServer, usePostgres } from '../support/postgres.js';
import { appendOrder, connector } from './consumer-fixtures.js';
import { describeWithRabbit, useRabbitVhost, waitUntil } from './support.js';

const db = usePostgres();
const rabbit = useRabbitVhost();

/**
 * 16 writers x 125 orders x 5 events (created, 3 lines, shipped or cancelled) = 10,000 events on a
 * server (about 12 to 22 s on a 2-core machine). PGlite is one in-process connection that
 * serializes every transaction (appends, relay pages, one per consumed event): 10,000 events take
 * about 26 s there alone and more beside the other test files, so without DATABASE_URL the same
 * run uses 2,000 events (about 3 s).
 */
const WRITERS = 16;
const ORDERS_PER_WRITER = hasServer ? 125 : 25;
const EVENTS_PER_ORDER = 5;
const TOTAL = WRITERS * ORDERS_PER_WRITER * EVENTS_PER_ORDER;

let relay: EventRelay | undefined;
let consumer: ProjectionConsumer<unknown, PgQueryable> | undefined;
afterAll(async () => {
  await relay?.stop();
  await consumer?.stop();
});

describeWithRabbit('end to end: writers -> EventRelay -> RabbitMQ -> ProjectionConsumer', () => {
  it(`${TOTAL} events of ${WRITERS} concurrent writers: the read model built through the broker equals the one built from the log`, async () => {
    const registry = orderRegistry();
    const eventStore = new PostgresEventStore({ pool: db.pool, registry, schema: db.schema });
    const brokerSchema = `${db.schema}_broker`;
    await db.pool.query(`CREATE SCHEMA "${brokerSchema}"`);
    consumer = new ProjectionConsumer<unknown, PgQueryable>({
      projection: orderReadModel as never,
      processedEvents: new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema }),
      context: (client) => ({ client, schema: brokerSchema }),
      eventStore,
      registry,
      connect: connector(rabbit.url, 'e2e consumer'),
      prefetch: 50,
      reconnectDelayMs: 100,
      transientRetryDelayMs: 50,
    });
    // The consumer declares its queue and bindings before anything is published.
    await consumer.start();
    relay = new EventRelay({
      eventStore,
      checkpoints: new PostgresProjectionStore({ pool: db.pool, schema: db.schema }),
      url: rabbit.url,
      connectionName: 'e2e relay',
      batchSize: 200,
      pollIntervalMs: 50,
    });

    const started = performance.now();
    relay.start();
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let o = 0; o < ORDERS_PER_WRITER; o++) {
          await appendOrder(eventStore, `e2e-w${w}-o${o}`, 3, o % 2 === 0 ? 'shipped' : 'cancelled');
        }
      }),
    );
    const appended = performance.now();
    await waitUntil(() => consumer!.status().acknowledged >= TOTAL, {
      timeoutMs: 90_000,
      intervalMs: 50,
      what: `${TOTAL} events consumed`,
    });
    const consumed = performance.now();
    console.log(
      `end to end: ${TOTAL} events from ${WRITERS} writers on ${hasServer ? 'PostgreSQL' : 'PGlite'}: ` +
        `appended in ${Math.round(appended - started)} ms, relayed and consumed after ` +
        `${Math.round(consumed - started)} ms (${Math.round((TOTAL * 1000) / (consumed - started))} events/s)`,
    );

    const runner = new ProjectionRunner({
      eventStore,
      projectionStore: new PostgresProjectionStore({ pool: db.pool, schema: db.schema }),
      projections: [orderReadModel],
    });
    await runner.catchUp();
    const fromLog = await queryOrders(db.pool, db.schema);
    const fromBroker = await queryOrders(db.pool, brokerSchema);
    expect(fromLog).toHaveLength(WRITERS * ORDERS_PER_WRITER);
    expect(fromBroker).toEqual(fromLog);
    const { rows } = await db.pool.query<{ count: string }>(
      `SELECT count(*) AS count FROM "${db.schema}".processed_events WHERE consumer = $1`,
      [consumer.consumerName],
    );
    expect(Number(rows[0]!.count)).toBe(TOTAL);
    expect((await relay.status()).publishedEvents).toBe(TOTAL);
    expect(consumer.status().acknowledged).toBe(TOTAL);
    expect(consumer.status().lastError).toBeUndefined();
    // 29-37 s on a busy CI machine; once 98 s to consume and more than 20 s for the rest, beside
    // three smoke runs at a load average of 10.
  }, 240_000);
});
