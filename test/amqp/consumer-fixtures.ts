/**
 * Helpers of the projection-consumer tests: connections that remember themselves, publishing
 * events of the log as the relay would, a ledger projection that shows order and duplicates.
 */

import amqplib from 'amqplib';
import {
  defineProjection,
  type IEventStore,
  type LogPosition,
  type NewEvent,
  NO_STREAM,
  type ProjectionHandlerInfo,
  ProjectionRunner,
  type StoredEvent,
} from 'annals';
import type { AmqpConnect } from 'annals/amqp';
import {
  type PgPool,
  type PgQueryable,
  PostgresEventStore,
  type PostgresProjectionContext,
  PostgresProjectionStore,
} from 'annals/postgres';
import { orderEvents } from '../../examples/order/events.js';
import { type OrderReadRow, orderReadModel, queryOrders } from '../../examples/order/order-read-model.js';
import { encodeEventMessage } from '../../src/amqp/message-codec.js';
import { readLogIds, wholeLogIds } from '../support/postgres.js';

/** A connect function for the consumer under test, naming its connections. */
export function connector(url: string, connectionName: string): AmqpConnect {
  return async () =>
    amqplib.connect(url, {
      clientProperties: { connection_name: connectionName },
    });
}

/** Publishes events as the relay does: encoded, persistent, on a confirm channel, in the given order. */
export async function publishEvents(
  url: string,
  events: readonly StoredEvent[],
  exchange = 'domain_events',
): Promise<void> {
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    for (const event of events) {
      const message = encodeEventMessage(event);
      channel.publish(exchange, message.routingKey, message.content, message.options);
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

let counter = 0;
/** A unique id for this run. */
export const unique = (label: string) => `${label}-${Date.now().toString(36)}-${++counter}`;

/** Appends an order's life: created with one line, `items` more lines, then shipped or cancelled. */
export async function appendOrder(
  store: IEventStore,
  orderId: string,
  items: number,
  end: 'shipped' | 'cancelled' | 'open',
): Promise<StoredEvent[]> {
  const events: NewEvent[] = [
    {
      type: 'OrderCreated',
      aggregateType: 'Order',
      payload: { customerId: `c-${orderId}`, items: [{ productId: 'p-0', quantity: 1, price: 9.99 }] },
    },
  ];
  for (let i = 1; i <= items; i++) {
    events.push({
      type: 'OrderItemAdded',
      aggregateType: 'Order',
      payload: { productId: `p-${i}`, quantity: i, price: 1.25 * i },
    });
  }
  if (end === 'shipped') {
    events.push({
      type: 'OrderShipped',
      aggregateType: 'Order',
      payload: { carrier: 'DHL', trackingNumber: 't-1' },
    });
  } else if (end === 'cancelled') {
    events.push({ type: 'OrderCancelled', aggregateType: 'Order', payload: { reason: 'changed mind' } });
  }
  const result = await store.append(orderId, NO_STREAM, events);
  return [...result.events];
}

/**
 * Appends `ordersPerWriter` orders (created, 3 lines, then shipped or cancelled: 5 events each)
 * from each of `writers` concurrent writers; resolves with the number of events appended.
 */
export async function appendOrdersConcurrently(
  store: IEventStore,
  { writers, ordersPerWriter, prefix }: { writers: number; ordersPerWriter: number; prefix: string },
): Promise<number> {
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let o = 0; o < ordersPerWriter; o++) {
        await appendOrder(store, `${prefix}-w${w}-o${o}`, 3, o % 2 === 0 ? 'shipped' : 'cancelled');
      }
    }),
  );
  return writers * ordersPerWriter * 5;
}

/** Every event id of the log, in log order (given the store's pool, once all of it is readable). */
export async function logEventIds(store: IEventStore, pool?: PgQueryable): Promise<string[]> {
  // On PostgreSQL, once every committed event is readable (see wholeLogIds).
  if (pool && store instanceof PostgresEventStore) return wholeLogIds(store, pool);
  return readLogIds(store);
}

/** How many events `consumer` recorded as processed in `schema`'s `processed_events`. */
export async function processedCount(db: PgQueryable, schema: string, consumer: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    `SELECT count(*) AS count FROM "${schema}".processed_events WHERE consumer = $1`,
    [consumer],
  );
  return Number(rows[0]!.count);
}

/** The position of the last event committed to `schema`'s table, whether readers see it yet or not. */
async function lastCommitted(pool: PgPool, schema: string): Promise<LogPosition | undefined> {
  const { rows } = await pool.query<{ transaction_id: string; global_position: string }>(
    `SELECT transaction_id::text, global_position::text FROM "${schema}".events
      ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
  );
  const last = rows[0];
  return last && { transactionId: BigInt(last.transaction_id), globalPosition: BigInt(last.global_position) };
}

/**
 * The Order read model as `ProjectionRunner` builds it from the log (in `schema`, the event
 * store's, where its checkpoint lives too).
 */
export async function orderReadModelFromLog(
  pool: PgPool,
  schema: string,
  eventStore: IEventStore,
): Promise<OrderReadRow[]> {
  const projectionStore = new PostgresProjectionStore({ pool, schema });
  const runner = new ProjectionRunner({ eventStore, projectionStore, projections: [orderReadModel] });
  // On PostgreSQL, up to the last committed event, read from the table: the log's readers may
  // not see it yet (another file's transaction can hold the horizon back for seconds, see
  // wholeLogIds), and a catch-up to the head would then stop early with nothing to report.
  const until =
    eventStore instanceof PostgresEventStore ? await lastCommitted(pool, eventStore.schema) : undefined;
  await runner.catchUp(until === undefined ? {} : { until, signal: AbortSignal.timeout(60_000) });
  return queryOrders(pool, schema);
}

/** Options of {@link ledgerProjection}. */
export interface LedgerOptions {
  readonly name: string;
  /** Runs before the row is written, inside the transaction; throw to fail the handler. */
  readonly before?: (event: StoredEvent, info: ProjectionHandlerInfo) => void | Promise<void>;
}

const ledgerTable = (schema: string, name: string) => `"${schema}"."ledger_${name.replaceAll('-', '_')}"`;

/**
 * A projection writing one row per application (no unique key, a serial for the order of
 * writes): an event applied twice shows as two rows, a skipped one as none.
 */
export function ledgerProjection(options: LedgerOptions) {
  const write = async (
    event: StoredEvent,
    context: PostgresProjectionContext,
    info: ProjectionHandlerInfo,
  ) => {
    await options.before?.(event, info);
    await context.client.query(
      `INSERT INTO ${ledgerTable(context.schema, options.name)} (event_id, aggregate_id, version, attempt) VALUES ($1, $2, $3, $4)`,
      [event.eventId, event.aggregateId, event.version, info.attempt],
    );
  };
  return defineProjection<PostgresProjectionContext>()({
    name: options.name,
    events: orderEvents,
    handlers: { OrderCreated: write, OrderItemAdded: write, OrderShipped: write, OrderCancelled: write },
    setup: async ({ client, schema }) => {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${ledgerTable(schema, options.name)} (
           seq serial, event_id text NOT NULL, aggregate_id text NOT NULL, version integer NOT NULL, attempt integer NOT NULL)`,
      );
    },
  });
}

/** The ledger's rows in the order they were written. */
export async function ledgerRows(
  db: PgQueryable,
  schema: string,
  name: string,
): Promise<Array<{ eventId: string; aggregateId: string; version: number; attempt: number }>> {
  const { rows } = await db.query<{
    event_id: string;
    aggregate_id: string;
    version: number;
    attempt: number;
  }>(`SELECT event_id, aggregate_id, version, attempt FROM ${ledgerTable(schema, name)} ORDER BY seq`);
  return rows.map((row) => ({
    eventId: row.event_id,
    aggregateId: row.aggregate_id,
    version: Number(row.version),
    attempt: Number(row.attempt),
  }));
}
