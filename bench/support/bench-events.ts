/**
 * The event every benchmark writes: an order line, a 165-byte JSON payload validated by zod, with
 * 75 bytes of metadata.
 * Baselines write the same JSON into an event-shaped table (see {@link createBaselineTable}).
 */
import { defineEvent, EventRegistry, type NewEvent } from 'annals';
import type pg from 'pg';
import { z } from 'zod';

/** The benchmark's event type. */
export const OrderLineAdded = defineEvent({
  type: 'OrderLineAdded',
  schema: z.object({
    orderId: z.string(),
    sku: z.string(),
    quantity: z.number().int().positive(),
    unitPriceCents: z.number().int().nonnegative(),
    currency: z.string().length(3),
    note: z.string(),
  }),
});

/** A registry with the benchmark's event type. */
export function benchRegistry(): EventRegistry {
  return new EventRegistry([OrderLineAdded]);
}

/** The payload of event `n` of order `orderId`. */
export function linePayload(orderId: string, n: number) {
  return {
    orderId,
    sku: `SKU-${(n % 997).toString().padStart(4, '0')}`,
    quantity: 1 + (n % 5),
    unitPriceCents: 199 + ((n * 37) % 10_000),
    currency: 'EUR',
    note: 'gift wrap, deliver to the back door; call before arrival',
  };
}

/** The metadata every benchmark event carries. */
export const BENCH_METADATA = { correlationId: 'bench-correlation-0001', commandId: 'bench-command-0001' };

/** A new event for the store. */
export function lineEvent(orderId: string, n: number): NewEvent {
  return {
    type: OrderLineAdded.type,
    aggregateType: 'Order',
    payload: linePayload(orderId, n),
    metadata: BENCH_METADATA,
  };
}

/**
 * Creates the baseline's event-shaped table: the columns of annals' `events` that a plain event
 * table would have, with a unique (stream, version) and a jsonb payload, no more.
 */
export async function createBaselineTable(pool: pg.Pool, schema: string, name: string): Promise<string> {
  const table = `"${schema}"."${name}"`;
  await pool.query(`
    CREATE TABLE ${table} (
      id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      stream_id text        NOT NULL,
      version   integer     NOT NULL,
      event_id  text        NOT NULL,
      type      text        NOT NULL,
      payload   jsonb       NOT NULL,
      metadata  jsonb       NOT NULL,
      ts        timestamptz NOT NULL,
      UNIQUE (stream_id, version)
    )`);
  return table;
}
