/**
 * The read model in a database other than the event store's, on real RabbitMQ and a PostgreSQL
 * server: the consumer's processed-event records commit with the read model in the second
 * database (and the relay's checkpoint lives there too), so exactly-once effects hold when
 * messages are published twice and redelivered after a dropped connection.
 */
import { ProjectionRunner, type StoredEvent } from 'annals';
import { EventRelay, ProjectionConsumer } from 'annals/amqp';
import {
  migrate,
  type PgQueryable,
  PostgresEventStore,
  PostgresProcessedEventStore,
  PostgresProjectionStore,
} from 'annals/postgres';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { orderReadModel, queryOrders } from '../../examples/order/order-read-model.js';
import { orderRegistry } from '../../examples/order/upcasters.js';
import { describeWithServer, serverUrl, urlOfDatabase, usePostgres } from '../support/postgres.js';
import { appendOrder, connector, publishEvents } from './consumer-fixtures.js';
import { closeConnectionsNamed, describeWithRabbit, useRabbitVhost, waitUntil } from './support.js';

const db = usePostgres({ serverOnly: true, manyConnections: true });
const rabbit = useRabbitVhost();

/** Runs `work` on a connection to the server's `DATABASE_URL` database. */
async function onServer(work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

describeWithRabbit('the read model in a second database', () => {
  describeWithServer('exactly once across two databases', () => {
    // Named like usePostgres's databases, so a run that dies leaves nothing the next run keeps.
    const readDatabase = `annals_test_${Date.now().toString(36)}_read_${Math.random().toString(36).slice(2, 8)}`;
    const readSchema = 'read_side';
    let readPool: pg.Pool;
    let created = false;
    let relay: EventRelay | undefined;
    let consumer: ProjectionConsumer<unknown, PgQueryable> | undefined;

    beforeAll(async () => {
      await onServer((client) => client.query(`CREATE DATABASE "${readDatabase}"`));
      created = true;
      readPool = new pg.Pool({ connectionString: urlOfDatabase(serverUrl!, readDatabase), max: 10 });
      readPool.on('error', () => undefined);
      // processed_events and the projection tables of the read side.
      await migrate(readPool, { schema: readSchema });
    });

    afterAll(async () => {
      await relay?.stop().catch(() => undefined);
      await consumer?.stop().catch(() => undefined);
      await readPool?.end().catch(() => undefined);
      if (created) {
        await onServer((client) => client.query(`DROP DATABASE IF EXISTS "${readDatabase}" WITH (FORCE)`));
      }
    });

    it('duplicated and redelivered messages change nothing: the read model equals the log runner’s', async () => {
      const registry = orderRegistry();
      const eventStore = new PostgresEventStore({ pool: db.pool, registry, schema: db.schema });
      const processed = new PostgresProcessedEventStore({ pool: readPool, schema: readSchema });
      const connectionName = 'two-databases consumer';
      let runs = 0;
      let killed = false;
      // Drops the consumer's connection right after its 100th event committed, before its ack.
      const killing: typeof processed = Object.create(processed);
      killing.runOnce = async (name, eventId, work) => {
        const result = await processed.runOnce(name, eventId, work);
        if (name === orderReadModel.name && ++runs === 100 && !killed) {
          killed = true;
          await closeConnectionsNamed(connectionName, { vhost: rabbit.vhost, reason: 'killed after commit' });
        }
        return result;
      };
      consumer = new ProjectionConsumer<unknown, PgQueryable>({
        projection: orderReadModel as never,
        processedEvents: killing,
        context: (client) => ({ client, schema: readSchema }),
        eventStore,
        registry,
        connect: connector(rabbit.url, connectionName),
        prefetch: 20,
        reconnectDelayMs: 100,
        transientRetryDelayMs: 50,
      });
      await consumer.start();
      relay = new EventRelay({
        eventStore,
        // The relay's checkpoint and lease live in the read side's database as well.
        checkpoints: new PostgresProjectionStore({ pool: readPool, schema: readSchema }),
        url: rabbit.url,
        connectionName: 'two-databases relay',
        batchSize: 50,
        pollIntervalMs: 50,
      });
      relay.start();

      const events: StoredEvent[] = [];
      await Promise.all(
        Array.from({ length: 4 }, async (_, w) => {
          for (let o = 0; o < 25; o++) {
            const end = o % 3 === 0 ? 'shipped' : o % 3 === 1 ? 'cancelled' : 'open';
            events.push(...(await appendOrder(eventStore, `two-db-w${w}-o${o}`, o % 4, end)));
          }
        }),
      );
      await waitUntil(async () => (await relay!.status()).lagEvents === 0n, { what: 'the relay caught up' });
      await waitUntil(() => killed, { what: 'the consumer connection killed after a commit' });
      // Every event published once more, as a relay that crashed before its checkpoint would.
      await publishEvents(rabbit.url, events);
      await waitUntil(
        async () => {
          const { rows } = await readPool.query<{ count: string }>(
            `SELECT count(*) AS count FROM "${readSchema}".processed_events WHERE consumer = $1`,
            [consumer!.consumerName],
          );
          return (
            Number(rows[0]!.count) === events.length && consumer!.status().acknowledged >= 2 * events.length
          );
        },
        { timeoutMs: 30_000, what: 'every event and every duplicate handled' },
      );
      expect(killed).toBe(true);
      expect(consumer.status().state).toBe('running');

      const runner = new ProjectionRunner({
        eventStore,
        projectionStore: new PostgresProjectionStore({ pool: db.pool, schema: db.schema }),
        projections: [orderReadModel],
      });
      await runner.catchUp();
      const fromLog = await queryOrders(db.pool, db.schema);
      const fromBroker = await queryOrders(readPool, readSchema);
      expect(fromLog).toHaveLength(100);
      expect(fromBroker).toEqual(fromLog);
      // Nothing of the read side landed in the event store's database.
      const leaked = await db.pool.query(
        `SELECT 1 FROM "${db.schema}".processed_events WHERE consumer = $1`,
        [consumer.consumerName],
      );
      expect(leaked.rows).toEqual([]);
      expect((await relay.status()).publishedEvents).toBe(events.length);
    });
  });
});
