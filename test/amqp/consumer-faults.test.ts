/**
 * A ProjectionConsumer under faults, on real RabbitMQ and a real PostgreSQL server, while an
 * EventRelay publishes the events of concurrent writers: its broker connection force-closed
 * mid-stream (it reconnects and resumes), its database connections terminated mid-stream, and its
 * database unreachable for a while (the messages are requeued as transient failures: never
 * counted, never dead-lettered). Either
 * way the read model equals the one ProjectionRunner builds from the log: nothing lost, nothing
 * applied twice.
 */
import amqplib from 'amqplib';
import type { Projection, ProjectionError } from 'annals';
import { EventRelay, ProjectionConsumer } from 'annals/amqp';
import {
  migrate,
  type PgPool,
  type PgQueryable,
  PostgresEventStore,
  PostgresProcessedEventStore,
  PostgresProjectionStore,
} from 'annals/postgres';
import { afterEach, expect, it } from 'vitest';
import { orderReadModel, queryOrders } from '../../examples/order/order-read-model.js';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { describeWithServer, serverUrl, usePostgres } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import {
  appendOrder,
  appendOrdersConcurrently,
  connector,
  ledgerProjection,
  ledgerRows,
  orderReadModelFromLog,
  processedCount,
} from './consumer-fixtures.js';
import {
  closeConnectionsNamed,
  describeWithRabbit,
  rabbitmqctl,
  useRabbitVhost,
  waitUntil,
} from './support.js';

const db = usePostgres({ serverOnly: true, manyConnections: true });
const rabbit = useRabbitVhost();

/** 8 writers x 100 orders x 5 events. */
const WRITERS = 8;
const ORDERS_PER_WRITER = 100;

let relay: EventRelay | undefined;
let consumer: ProjectionConsumer<unknown, PgQueryable> | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.restore().catch(() => undefined); // a consumer stuck behind a cut ends its work
  await relay?.stop();
  await consumer?.stop();
  await proxy?.close();
  relay = undefined;
  consumer = undefined;
  proxy = undefined;
});

/** What a consumer reported to `onError`, by kind. */
function reportsOf(errors: readonly ProjectionError[]) {
  const matching = (pattern: RegExp) => errors.filter((error) => pattern.test(error.message)).length;
  return {
    lost: matching(/connection or a channel closed; reconnecting/),
    transient: matching(/a transient store error; requeued, not counted/),
    counted: matching(/failed on attempt/),
    deadLettered: matching(/dead-lettered/),
    unexpected: matching(/failed unexpectedly/),
  };
}

/** Messages waiting in `queue` (ready ones). */
async function messagesIn(queue: string): Promise<number> {
  const connection = await amqplib.connect(rabbit.url);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

/**
 * A log of its own in schema `<db.schema>_<label>` (events, relay checkpoint, processed events
 * through `consumerPool`), a consumer of the Order read model into `<db.schema>_<label>_read`,
 * then a relay to an exchange of its own; the writers append while both run.
 */
async function startPipeline(
  label: string,
  consumerPool: PgPool,
  errors: ProjectionError[],
  projection: Projection<unknown> = orderReadModel as never,
) {
  const registry = orderRegistry();
  const schema = `${db.schema}_${label}`;
  await migrate(db.pool, { schema });
  const eventStore = new PostgresEventStore({ pool: db.pool, registry, schema });
  const processed = new PostgresProcessedEventStore({ pool: consumerPool, schema });
  const readSchema = `${schema}_read`;
  await db.pool.query(`CREATE SCHEMA "${readSchema}"`);
  const exchange = `faults_${label}`;
  const connectionName = `faults consumer ${label}`;
  consumer = new ProjectionConsumer<unknown, PgQueryable>({
    projection,
    processedEvents: processed,
    context: (client) => ({ client, schema: readSchema }),
    eventStore,
    registry,
    connect: connector(rabbit.url, connectionName),
    exchange,
    queuePrefix: `${label}_`,
    consumerName: `${projection.name}-${label}`,
    prefetch: 20,
    reconnectDelayMs: 100,
    maxReconnectDelayMs: 400,
    transientRetryDelayMs: 20,
    onError: (error) => errors.push(error),
  });
  await consumer.start();
  relay = new EventRelay({
    eventStore,
    checkpoints: new PostgresProjectionStore({ pool: db.pool, schema }),
    url: rabbit.url,
    connectionName: `faults relay ${label}`,
    exchange,
    batchSize: 200,
    pollIntervalMs: 50,
  });
  relay.start();
  const processedSoFar = () => processedCount(db.pool, schema, consumer!.consumerName);
  const readModelFromLog = () => orderReadModelFromLog(db.pool, schema, eventStore);
  return { eventStore, readSchema, connectionName, consumer, relay, processedSoFar, readModelFromLog };
}

describeWithRabbit('ProjectionConsumer under faults', () => {
  describeWithServer('while a relay publishes the events of concurrent writers', () => {
    it(`its broker connection force-closed three times mid-stream: it reconnects, resumes, and the read model equals the log runner’s`, async () => {
      const errors: ProjectionError[] = [];
      const pipeline = await startPipeline('broker', db.pool, errors);
      const { processedSoFar } = pipeline;
      const total = WRITERS * ORDERS_PER_WRITER * 5;

      const closed: number[] = [];
      const closing = (async () => {
        for (const [index, threshold] of [300, 1300, 2600].entries()) {
          await waitUntil(async () => (await processedSoFar()) >= threshold, {
            timeoutMs: 60_000,
            intervalMs: 25,
            what: `${threshold} events processed`,
          });
          closed.push(
            await closeConnectionsNamed(pipeline.connectionName, {
              vhost: rabbit.vhost,
              reason: 'closed mid-stream by consumer-faults',
            }),
          );
          // It noticed and is consuming on a new connection before the next close.
          await waitUntil(
            () => reportsOf(errors).lost === index + 1 && pipeline.consumer.status().state === 'running',
            { timeoutMs: 20_000, what: `reconnected after close ${index + 1}` },
          );
        }
      })();
      const appended = await appendOrdersConcurrently(pipeline.eventStore, {
        writers: WRITERS,
        ordersPerWriter: ORDERS_PER_WRITER,
        prefix: 'broker',
      });
      expect(appended).toBe(total);
      await closing;
      await waitUntil(async () => (await processedSoFar()) === total, {
        timeoutMs: 60_000,
        intervalMs: 50,
        what: `all ${total} events processed`,
      });
      await waitUntil(async () => (await pipeline.relay.status()).lagEvents === 0n, {
        what: 'the relay caught up',
      });
      const acknowledged = pipeline.consumer.status().acknowledged;
      await pipeline.consumer.stop(); // waits for what is in flight

      expect(closed).toEqual([1, 1, 1]);
      const fromLog = await pipeline.readModelFromLog();
      const fromBroker = await queryOrders(db.pool, pipeline.readSchema);
      expect(fromLog).toHaveLength(WRITERS * ORDERS_PER_WRITER);
      expect(fromBroker).toEqual(fromLog);
      expect(await processedSoFar()).toBe(total);
      // Each event acknowledged at least once (redeliveries of committed events are acked as duplicates).
      expect(acknowledged).toBeGreaterThanOrEqual(total);
      expect(reportsOf(errors)).toEqual({
        lost: 3,
        transient: 0,
        counted: 0,
        deadLettered: 0,
        unexpected: 0,
      });
      expect(await messagesIn(pipeline.consumer.deadLetterQueue)).toBe(0);
      expect(await messagesIn(pipeline.consumer.queue)).toBe(0);
    }, 90_000);

    it('its database connections terminated mid-stream: requeued as transient failures, never counted or dead-lettered; the read model equals the log runner’s', async () => {
      const errors: ProjectionError[] = [];
      const applicationName = 'annals consumer-faults';
      // The consumer's own pool (its processed events and read model), so only its backends die.
      const consumerPool = db.newPool(10, { applicationName });
      const pipeline = await startPipeline('store', consumerPool, errors);
      const { processedSoFar } = pipeline;
      const total = WRITERS * ORDERS_PER_WRITER * 5;

      let terminated = 0;
      const killing = (async () => {
        for (const threshold of [200, 600, 1000, 1400, 1800, 2200, 2600, 3000]) {
          await waitUntil(async () => (await processedSoFar()) >= threshold, {
            timeoutMs: 60_000,
            intervalMs: 25,
            what: `${threshold} events processed`,
          });
          const { rows } = await db.pool.query<{ killed: boolean }>(
            `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = $1`,
            [applicationName],
          );
          terminated += rows.filter((row) => row.killed).length;
        }
      })();
      await appendOrdersConcurrently(pipeline.eventStore, {
        writers: WRITERS,
        ordersPerWriter: ORDERS_PER_WRITER,
        prefix: 'store',
      });
      await killing;
      await waitUntil(async () => (await processedSoFar()) === total, {
        timeoutMs: 60_000,
        intervalMs: 50,
        what: `all ${total} events processed`,
      });
      await pipeline.consumer.stop();

      expect(terminated).toBeGreaterThan(0);
      const fromLog = await pipeline.readModelFromLog();
      const fromBroker = await queryOrders(db.pool, pipeline.readSchema);
      expect(fromLog).toHaveLength(WRITERS * ORDERS_PER_WRITER);
      expect(fromBroker).toEqual(fromLog);
      expect(await processedSoFar()).toBe(total);
      const reports = reportsOf(errors);
      // Killed backends hit handlers mid-transaction: requeued, not counted, not dead-lettered.
      expect(reports.transient).toBeGreaterThan(0);
      expect(reports).toMatchObject({ lost: 0, counted: 0, deadLettered: 0, unexpected: 0 });
      expect(await messagesIn(pipeline.consumer.retryQueue)).toBe(0);
      expect(await messagesIn(pipeline.consumer.deadLetterQueue)).toBe(0);
    }, 90_000);

    it('its database unreachable twice mid-stream (connections reset, new ones refused): requeued as transient failures, never counted or dead-lettered; the read model equals the log runner’s', async () => {
      const errors: ProjectionError[] = [];
      const server = new URL(serverUrl!);
      proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
      // The consumer reaches its database (processed events and read model) through the proxy.
      const consumerPool = db.newPool(10, { port: proxy.port });
      const pipeline = await startPipeline('outage', consumerPool, errors);
      const { processedSoFar } = pipeline;
      const total = WRITERS * ORDERS_PER_WRITER * 5;

      const outages = (async () => {
        for (const threshold of [800, 2400]) {
          await waitUntil(async () => (await processedSoFar()) >= threshold, {
            timeoutMs: 60_000,
            intervalMs: 25,
            what: `${threshold} events processed`,
          });
          const transientBefore = reportsOf(errors).transient;
          await proxy!.cut();
          // Unreachable until the consumer has met it (a transient report), and a while longer;
          // meanwhile nothing commits (past the commits the server had received before the cut).
          await waitUntil(() => reportsOf(errors).transient > transientBefore, {
            what: 'a transient report',
          });
          await new Promise((resolve) => setTimeout(resolve, 200));
          const during = await processedSoFar();
          await new Promise((resolve) => setTimeout(resolve, 800));
          expect(await processedSoFar()).toBe(during);
          await proxy!.restore();
        }
      })();
      await appendOrdersConcurrently(pipeline.eventStore, {
        writers: WRITERS,
        ordersPerWriter: ORDERS_PER_WRITER,
        prefix: 'outage',
      });
      await outages;
      await waitUntil(async () => (await processedSoFar()) === total, {
        timeoutMs: 60_000,
        intervalMs: 50,
        what: `all ${total} events processed`,
      });
      await pipeline.consumer.stop();

      expect(proxy.reset).toBeGreaterThan(0);
      const fromLog = await pipeline.readModelFromLog();
      const fromBroker = await queryOrders(db.pool, pipeline.readSchema);
      expect(fromLog).toHaveLength(WRITERS * ORDERS_PER_WRITER);
      expect(fromBroker).toEqual(fromLog);
      expect(await processedSoFar()).toBe(total);
      const reports = reportsOf(errors);
      expect(reports.transient).toBeGreaterThan(0);
      expect(reports).toMatchObject({ lost: 0, counted: 0, deadLettered: 0, unexpected: 0 });
      expect(await messagesIn(pipeline.consumer.retryQueue)).toBe(0);
      expect(await messagesIn(pipeline.consumer.deadLetterQueue)).toBe(0);
    }, 90_000);
  });

  describeWithServer('a broker that refuses a republish', () => {
    it('the broker refuses its republish to the retry queue (a reject-publish policy): the failing messages are requeued, not left unacknowledged; once the retry queue takes them, every event is applied once, in version order', async () => {
      const errors: ProjectionError[] = [];
      let failing = true;
      const ledger = ledgerProjection({
        name: 'ledger-refused',
        before: (event) => {
          if (failing && event.aggregateId.startsWith('poison')) throw new Error('poisoned for a while');
        },
      });
      const pipeline = await startPipeline('refused', db.pool, errors, ledger as never);
      // The retry queue takes no message: every publish to it is nacked.
      const policy = ['-p', rabbit.vhost, 'annals-refuse-retry'];
      await rabbitmqctl(
        'set_policy',
        ...policy,
        `^${pipeline.consumer.retryQueue.replaceAll('.', '\\.')}$`,
        '{"max-length":0,"overflow":"reject-publish"}',
        '--apply-to',
        'queues',
      );
      const events = [
        ...(await appendOrder(pipeline.eventStore, 'poison-1', 3, 'shipped')),
        ...(await appendOrder(pipeline.eventStore, 'poison-2', 3, 'cancelled')),
      ];
      for (let o = 0; o < 10; o++) {
        events.push(...(await appendOrder(pipeline.eventStore, `fine-${o}`, 3, 'shipped')));
      }
      // Far more failures than the prefetch (20) holds: the refused messages go back to the queue
      // and come again, instead of staying unacknowledged and filling the prefetch.
      await waitUntil(() => reportsOf(errors).unexpected > 3 * 20, {
        what: 'refused messages handled again',
      });
      await rabbitmqctl('clear_policy', ...policy);
      failing = false;
      await waitUntil(async () => (await pipeline.processedSoFar()) === events.length, {
        timeoutMs: 30_000,
        what: `all ${events.length} events applied`,
      });
      await pipeline.consumer.stop();

      const rows = await ledgerRows(db.pool, pipeline.readSchema, ledger.name);
      expect(rows.map((row) => row.eventId).sort()).toEqual(events.map((event) => event.eventId).sort());
      for (const aggregateId of new Set(events.map((event) => event.aggregateId))) {
        const versions = rows.filter((row) => row.aggregateId === aggregateId).map((row) => row.version);
        expect(versions).toEqual([...versions].sort((a, b) => a - b));
      }
      expect(reportsOf(errors).deadLettered).toBe(0);
      expect(await messagesIn(pipeline.consumer.deadLetterQueue)).toBe(0);
    }, 60_000);
  });
});
