/**
 * Catch-up of the Order read model (`order_read`, examples/order/order-read-model.ts) over
 * 100,000 events: a `ProjectionRunner` with the `PostgresProjectionStore`, batches of 50 (the
 * default), from an empty read model to the head of the log. The baseline does the same work with
 * raw `pg`: the same keyset query for each page of 50 events, then in one transaction the same
 * read-model statement per event and a checkpoint update. Target: annals keeps >= 0.5 of the raw
 * rate.
 *
 * It writes its events into a schema of its own (the Order events, not the benchmark events of
 * the other modules), dropped afterwards. Environment: BENCH_CATCHUP_EVENTS (default 100000),
 * BENCH_CATCHUP_ROUNDS (alternations, default 1: one full catch-up each side takes ~10-20 s).
 */
import { LOG_START, type NewEvent, ProjectionRunner } from 'annals';
import { migrate, type PgPool, PostgresEventStore, PostgresProjectionStore } from 'annals/postgres';
import type pg from 'pg';
import { ORDER_READ_MODEL, orderReadModel } from '../examples/order/order-read-model.js';
import { orderRegistry } from '../examples/order/upcasters.js';
import { alternate, type Benchmark, runId } from './support/bench-kit.js';

const EVENTS = Number(process.env.BENCH_CATCHUP_EVENTS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_CATCHUP_ROUNDS ?? 1);
const BATCH = 50;
const EVENTS_PER_ORDER = 5;

/** Order `n`: created with one line, two more lines, a third, then shipped (5 events). */
function orderEvents(n: number): NewEvent[] {
  const line = (i: number) => ({
    productId: `sku-${(n + i) % 500}`,
    quantity: 1 + ((n + i) % 4),
    price: 1.25 + ((n * 7 + i) % 400) / 4,
  });
  return [
    {
      type: 'OrderCreated',
      aggregateType: 'Order',
      payload: { customerId: `customer-${n % 1000}`, items: [line(0)] },
    },
    { type: 'OrderItemAdded', aggregateType: 'Order', payload: line(1) },
    { type: 'OrderItemAdded', aggregateType: 'Order', payload: line(2) },
    { type: 'OrderItemAdded', aggregateType: 'Order', payload: line(3) },
    { type: 'OrderShipped', aggregateType: 'Order', payload: { carrier: 'DHL', trackingNumber: `JD${n}` } },
  ];
}

interface EventRow {
  global_position: string;
  transaction_id: string;
  aggregate_id: string;
  type: string;
  payload: Record<string, unknown>;
  timestamp: Date;
}

/** The raw side: what a hand-written catch-up loop with `pg` does for the same read model. */
async function rawCatchUp(pool: pg.Pool, schema: string): Promise<number> {
  const s = `"${schema}"`;
  const table = `${s}.order_read_raw`;
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.query(
    `CREATE TABLE ${table} (order_id text PRIMARY KEY, customer_id text NOT NULL, total_amount numeric NOT NULL,
       status text NOT NULL, item_count integer NOT NULL, created_at timestamptz NOT NULL)`,
  );
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${s}.raw_checkpoint (id integer PRIMARY KEY, tx xid8, gp bigint)`,
  );
  await pool.query(
    `INSERT INTO ${s}.raw_checkpoint VALUES (1, '0', 0) ON CONFLICT (id) DO UPDATE SET tx = '0', gp = 0`,
  );
  const select =
    'SELECT e.global_position::text AS global_position, e.transaction_id::text AS transaction_id, e.aggregate_id, ' +
    `e.type, e.payload, e."timestamp" FROM ${s}.events e ` +
    'WHERE (e.transaction_id, e.global_position) > ($1::text::xid8, $2::text::bigint) ' +
    'AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.transaction_id, e.global_position LIMIT $3';
  const update = (assignments: string) =>
    `UPDATE ${table} SET ${assignments} WHERE order_id = $1 RETURNING order_id`;
  const statements = {
    created:
      `INSERT INTO ${table} (order_id, customer_id, total_amount, status, item_count, created_at) ` +
      "SELECT $1, $2, coalesce(sum(line.quantity * line.price), 0), 'open', coalesce(sum(line.quantity), 0), $5 " +
      'FROM unnest($3::integer[], $4::numeric[]) AS line(quantity, price)',
    added: update(
      'total_amount = total_amount + $2::integer * $3::numeric, item_count = item_count + $2::integer',
    ),
    shipped: update("status = 'shipped'"),
    cancelled: update("status = 'cancelled'"),
  };
  const start = performance.now();
  let processed = 0;
  let after = { tx: '0', gp: '0' };
  for (;;) {
    const { rows } = await pool.query<EventRow>(select, [after.tx, after.gp, BATCH]);
    if (rows.length === 0) break;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (const row of rows) {
        const payload = row.payload as {
          customerId: string;
          items: Array<{ quantity: number; price: number }>;
          quantity: number;
          price: number;
        };
        if (row.type === 'OrderCreated') {
          await client.query(statements.created, [
            row.aggregate_id,
            payload.customerId,
            payload.items.map((line) => line.quantity),
            payload.items.map((line) => line.price),
            row.timestamp,
          ]);
        } else if (row.type === 'OrderItemAdded') {
          await client.query(statements.added, [row.aggregate_id, payload.quantity, payload.price]);
        } else if (row.type === 'OrderShipped') {
          await client.query(statements.shipped, [row.aggregate_id]);
        } else if (row.type === 'OrderCancelled') {
          await client.query(statements.cancelled, [row.aggregate_id]);
        }
      }
      const last = rows.at(-1)!;
      await client.query(
        `UPDATE ${s}.raw_checkpoint SET tx = $1::text::xid8, gp = $2::text::bigint WHERE id = 1`,
        [last.transaction_id, last.global_position],
      );
      await client.query('COMMIT');
      after = { tx: last.transaction_id, gp: last.global_position };
    } finally {
      client.release();
    }
    processed += rows.length;
    if (rows.length < BATCH) break;
  }
  return (processed / (performance.now() - start)) * 1000;
}

const benchmark: Benchmark = {
  name: 'projection-catch-up',
  async run(ctx) {
    const schema = `annals_bench_catchup_${runId()}`;
    const pool = ctx.newPool(8);
    const pgPool: PgPool = pool;
    try {
      await migrate(pgPool, { schema });
      const eventStore = new PostgresEventStore({ pool: pgPool, registry: orderRegistry(), schema });
      const projectionStore = new PostgresProjectionStore({ pool: pgPool, schema });
      const orders = Math.ceil(EVENTS / EVENTS_PER_ORDER);
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let n = next++; n < orders; n = next++) {
            await eventStore.append(`order-${n}`, 'no_stream', orderEvents(n));
          }
        }),
      );
      const total = Number(await eventStore.countAfter(LOG_START));

      const result = await alternate(
        ROUNDS,
        async () => {
          await projectionStore.transaction(async (transaction) => {
            await orderReadModel.reset?.(transaction.context);
            await transaction.resetCheckpoint(ORDER_READ_MODEL);
          });
          const runner = new ProjectionRunner({
            eventStore,
            projectionStore,
            projections: [orderReadModel],
            batchSize: BATCH,
          });
          const start = performance.now();
          await runner.catchUp();
          return (total / (performance.now() - start)) * 1000;
        },
        () => rawCatchUp(pool, schema),
      );

      // Both sides must have built the same rows.
      const compare = await pool.query<{ differ: string }>(
        `SELECT count(*)::text AS differ FROM (
           (SELECT * FROM "${schema}".order_read EXCEPT SELECT * FROM "${schema}".order_read_raw)
           UNION ALL
           (SELECT * FROM "${schema}".order_read_raw EXCEPT SELECT * FROM "${schema}".order_read)) d`,
      );
      const differ = Number(compare.rows[0]?.differ ?? -1);
      await eventStore.close();
      return [
        {
          name: `catch-up of the Order read model, ${total.toLocaleString('en')} events, batches of ${BATCH}`,
          unit: 'events/s',
          annals: result.annals,
          baseline: result.baseline,
          baselineName: 'same page query, same statements per event, checkpoint, one transaction per batch',
          ratio: result.annals / result.baseline,
          target: { atLeast: 0.5 },
          note: `${orders.toLocaleString('en')} orders; ${ROUNDS} round(s); read models ${differ === 0 ? 'identical' : `DIFFER in ${differ} rows`}`,
        },
      ];
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    }
  },
};

export default benchmark;
