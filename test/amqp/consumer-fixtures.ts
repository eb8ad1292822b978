/**
 * Helpers of the projection-consumer tests: connections that remember themselves, publishing
 * events of the log as the relay would, a ledger projection that shows order and duplicates.
 */

import amqplib from 'amqplib';
import {
  defineProjection,
  type IEventStore,
  type NewEvent,
  NO_STREAM,
  type ProjectionHandlerInfo,
  type StoredEvent,
} from 'annals';
import type { AmqpConnect } from 'annals/amqp';
import type { PgQueryable, PostgresProjectionContext } from 'annals/postgres';
import { orderEvents } from '../../examples/order/events.js';
import { encodeEventMessage } from '../../src/amqp/message-codec.js';

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
