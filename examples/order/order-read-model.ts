/**
 * The Order read model: one row per order in `order_read`, kept by a projection in PostgreSQL.
 * Handlers write through the transaction-bound client they receive, so each event changes the
 * table exactly once, together with the projection's checkpoint.
 */
import { defineProjection } from 'annals';
import { type PgQueryable, type PostgresProjectionContext, quoteIdentifier } from 'annals/postgres';
import { orderEvents } from './events.js';

/** The projection's name: the key of its checkpoint, lease and dead letters. */
export const ORDER_READ_MODEL = 'order-read-model';

/** A row of `order_read`, as {@link queryOrders} returns it. */
export interface OrderReadRow {
  readonly orderId: string;
  readonly customerId: string;
  /** The sum of quantity x price over the order's lines, exact (numeric), as text such as `89.80`. */
  readonly totalAmount: string;
  readonly status: 'open' | 'shipped' | 'cancelled';
  /** How many units the order holds: the sum of its lines' quantities. */
  readonly itemCount: number;
  /** When the order was created (the `OrderCreated` event's timestamp). */
  readonly createdAt: Date;
}

const table = (schema: string) => `${quoteIdentifier('schema', schema)}.order_read`;

/**
 * The projection. Totals are computed from the lines in SQL `numeric` (never stored in events,
 * never rounded through floating point). `setup` creates the table, `reset` drops it, so a
 * rebuild also picks up a changed table definition.
 */
export const orderReadModel = defineProjection<PostgresProjectionContext>()({
  name: ORDER_READ_MODEL,
  events: orderEvents,
  handlers: {
    OrderCreated: async (event, { client, schema }) => {
      const { customerId, items } = event.payload;
      await client.query(
        `INSERT INTO ${table(schema)} (order_id, customer_id, total_amount, status, item_count, created_at)
         SELECT $1, $2, coalesce(sum(line.quantity * line.price), 0), 'open', coalesce(sum(line.quantity), 0), $5
           FROM unnest($3::integer[], $4::numeric[]) AS line(quantity, price)`,
        [
          event.aggregateId,
          customerId,
          items.map((line) => line.quantity),
          items.map((line) => line.price),
          event.timestamp,
        ],
      );
    },
    OrderItemAdded: async (event, { client, schema }) => {
      const { quantity, price } = event.payload;
      await updateOrder(
        client,
        schema,
        event.aggregateId,
        'total_amount = total_amount + $2::integer * $3::numeric, item_count = item_count + $2::integer',
        [quantity, price],
      );
    },
    OrderShipped: async (event, { client, schema }) => {
      await updateOrder(client, schema, event.aggregateId, "status = 'shipped'", []);
    },
    OrderCancelled: async (event, { client, schema }) => {
      await updateOrder(client, schema, event.aggregateId, "status = 'cancelled'", []);
    },
  },
  setup: async ({ client, schema }) => {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table(schema)} (
         order_id     text        PRIMARY KEY,
         customer_id  text        NOT NULL,
         total_amount numeric     NOT NULL,
         status       text        NOT NULL,
         item_count   integer     NOT NULL,
         created_at   timestamptz NOT NULL
       )`,
    );
  },
  reset: async ({ client, schema }) => {
    await client.query(`DROP TABLE IF EXISTS ${table(schema)}`);
  },
});

/** Updates one order's row; an order that is not there means an event was missed: fail loudly. */
async function updateOrder(
  client: PgQueryable,
  schema: string,
  orderId: string,
  assignments: string,
  values: unknown[],
): Promise<void> {
  const { rows } = await client.query(
    `UPDATE ${table(schema)} SET ${assignments} WHERE order_id = $1 RETURNING order_id`,
    [orderId, ...values],
  );
  if (rows.length !== 1) throw new Error(`order_read has no row for order ${orderId}`);
}

/** Options of {@link queryOrders}. */
export interface QueryOrdersOptions {
  /** Only this customer's orders. @defaultValue every customer */
  readonly customerId?: string;
}

/** Reads the read model: orders by creation time, then id. */
export async function queryOrders(
  db: PgQueryable,
  schema: string,
  options: QueryOrdersOptions = {},
): Promise<OrderReadRow[]> {
  const { rows } = await db.query<{
    order_id: string;
    customer_id: string;
    total_amount: string;
    status: OrderReadRow['status'];
    item_count: number;
    created_at: Date | string;
  }>(
    `SELECT order_id, customer_id, round(total_amount, 2)::text AS total_amount, status, item_count, created_at
       FROM ${table(schema)}
      WHERE $1::text IS NULL OR customer_id = $1
      ORDER BY created_at, order_id`,
    [options.customerId ?? null],
  );
  return rows.map((row) => ({
    orderId: row.order_id,
    customerId: row.customer_id,
    totalAmount: row.total_amount,
    status: row.status,
    itemCount: Number(row.item_count),
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
  }));
}
