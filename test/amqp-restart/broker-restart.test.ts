/**
 * The broker application stopped and started mid-stream (`rabbitmqctl stop_app`, ~3.5 s,
 * `start_app`): the relay and the consumer both resume; nothing is lost or applied twice.
 *
 * It stops the whole broker, so it runs alone, after every other test: the default `vitest run`
 * excludes test/amqp-restart, and `npm test` runs it in a second step with
 * vitest.restart.config.ts. The broker is started again in `finally`, and the test waits until it
 * accepts connections before it ends.
 */
import { ProjectionRunner } from 'annals';
import { connectAmqp, EventRelay, ProjectionConsumer } from 'annals/amqp';
import {
  type PgQueryable,
  PostgresEventStore,
  PostgresProcessedEventStore,
  PostgresProjectionStore,
} from 'annals/postgres';
import { afterAll, expect, it } from 'vitest';
import { orderReadModel, queryOrders } from '../../examples/order/order-read-model.js';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { appendOrder, connector } from '../amqp/consumer-fixtures.js';
import { describeWithRabbit, rabbitmqctl, rabbitUrl, useRabbitVhost, waitUntil } from '../amqp/support.js';
import { usePostgres } from '../support/postgres.js';

const db = usePostgres();
const rabbit = useRabbitVhost();

const STOPPED_MS = 3_500;

/** Starts the broker application (again) and waits until it accepts AMQP connections. */
async function restoreBroker(): Promise<void> {
  await rabbitmqctl('start_app');
  await rabbitmqctl('await_startup');
  await waitUntil(
    async () => {
      try {
        const connection = await connectAmqp({ url: rabbitUrl!, connectionName: 'restart probe' });
        await connection.close();
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 60_000, intervalMs: 250, what: 'the broker accepts connections again' },
  );
}

let relay: EventRelay | undefined;
let consumer: ProjectionConsumer<unknown, PgQueryable> | undefined;
afterAll(async () => {
  await relay?.stop().catch(() => undefined);
  await consumer?.stop().catch(() => undefined);
});

describeWithRabbit('the broker application stopped and started mid-stream', () => {
  it(`relay and consumer resume after ${STOPPED_MS} ms without the broker: nothing lost, nothing applied twice`, async () => {
    const registry = orderRegistry();
    const eventStore = new PostgresEventStore({ pool: db.pool, registry, schema: db.schema });
    const brokerSchema = `${db.schema}_broker`;
    await db.pool.query(`CREATE SCHEMA "${brokerSchema}"`);
    const consumerErrors: string[] = [];
    const relayErrors: string[] = [];
    consumer = new ProjectionConsumer<unknown, PgQueryable>({
      projection: orderReadModel as never,
      processedEvents: new PostgresProcessedEventStore({ pool: db.pool, schema: db.schema }),
      context: (client) => ({ client, schema: brokerSchema }),
      eventStore,
      registry,
      connect: connector(rabbit.url, 'restart consumer'),
      prefetch: 20,
      reconnectDelayMs: 200,
      maxReconnectDelayMs: 1_000,
      transientRetryDelayMs: 50,
      onError: (error) => consumerErrors.push(error.message),
    });
    await consumer.start();
    relay = new EventRelay({
      eventStore,
      checkpoints: new PostgresProjectionStore({ pool: db.pool, schema: db.schema }),
      url: rabbit.url,
      connectionName: 'restart relay',
      batchSize: 20,
      pollIntervalMs: 50,
      reconnectDelayMs: 200,
      maxReconnectDelayMs: 1_000,
      onError: (error) => relayErrors.push(error.message),
    });
    relay.start();

    // Writers append before, during and after the outage (at most 4 x 150 orders).
    let writing = true;
    let orders = 0;
    const writers = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let o = 0; writing && o < 150; o++) {
          await appendOrder(eventStore, `restart-w${w}-o${o}`, o % 3, o % 2 === 0 ? 'shipped' : 'open');
          orders++;
          await new Promise((resolve) => setTimeout(resolve, 40));
        }
      }),
    );

    let stoppedAt = 0;
    let acknowledgedAtStop = 0;
    let restartedAt = 0;
    try {
      await waitUntil(() => consumer!.status().acknowledged >= 100, { what: 'a stream flowing' });
      acknowledgedAtStop = consumer.status().acknowledged;
      await rabbitmqctl('stop_app');
      stoppedAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, STOPPED_MS));
    } finally {
      await restoreBroker();
      restartedAt = performance.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    writing = false;
    await writers;

    const runner = new ProjectionRunner({
      eventStore,
      projectionStore: new PostgresProjectionStore({ pool: db.pool, schema: db.schema }),
      projections: [orderReadModel],
    });
    await runner.catchUp();
    const { rows: logRows } = await db.pool.query<{ count: string }>(
      `SELECT count(*) AS count FROM "${db.schema}".events`,
    );
    const total = Number(logRows[0]!.count);
    const processedCount = async () => {
      const { rows } = await db.pool.query<{ count: string }>(
        `SELECT count(*) AS count FROM "${db.schema}".processed_events WHERE consumer = $1`,
        [consumer!.consumerName],
      );
      return Number(rows[0]!.count);
    };
    await waitUntil(async () => (await relay!.status()).lagEvents === 0n, {
      timeoutMs: 30_000,
      what: 'the relay caught up after the restart',
    });
    await waitUntil(async () => (await processedCount()) === total, {
      timeoutMs: 30_000,
      what: 'the consumer applied every event after the restart',
    });
    const resumed = performance.now();
    console.log(
      `broker restart: stopped ${Math.round(restartedAt - stoppedAt)} ms (start_app and await_startup included); ` +
        `${total} events of ${orders} orders; caught up ${Math.round(resumed - restartedAt)} ms after the broker was back`,
    );

    const fromLog = await queryOrders(db.pool, db.schema);
    expect(fromLog).toHaveLength(orders);
    expect(await queryOrders(db.pool, brokerSchema)).toEqual(fromLog);
    expect(consumer.status().state).toBe('running');
    expect((await relay.status()).state).toBe('running');
    // The outage came mid-stream, and both noticed it (else the test proved nothing).
    expect(acknowledgedAtStop).toBeLessThan(total);
    expect(consumerErrors.join('\n')).toMatch(/closed|reconnect/);
    expect(relayErrors.length).toBeGreaterThan(0);
  }, 120_000);
});
