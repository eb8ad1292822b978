import { AggregateRepository, ErrorCode, isAnnalsError, type StoredEvent } from 'annals';
import { PostgresEventStore } from 'annals/postgres';
import { describe, expect, it } from 'vitest';
import { OrderAggregate } from '../../../examples/order/order-aggregate.js';
import { orderRegistry } from '../../../examples/order/upcasters.js';
import { hasServer, usePostgres } from '../../support/postgres.js';

const db = usePostgres();
const where = hasServer ? 'server' : 'PGlite';

let sequence = 0;
const unique = (label: string) => `${label}-${++sequence}-${Date.now()}`;

const table = (name: string) => `"${db.schema}".${name}`;

interface RawRow {
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly payload: unknown;
}

/**
 * Writes rows as an older release of the application wrote them: straight into the tables, with
 * their stored schema version and JSON, in one statement.
 */
async function insertRaw(orderId: string, rows: readonly RawRow[]): Promise<void> {
  await db.pool.query(
    `INSERT INTO ${table('events')}
       (aggregate_id, aggregate_type, version, event_id, type, schema_version, payload, "timestamp")
     SELECT $1, 'Order', r.ord::int, r.event_id, r.type, r.schema_version, r.payload::jsonb, now()
       FROM unnest($2::text[], $3::text[], $4::int[], $5::text[]) WITH ORDINALITY
            AS r(event_id, type, schema_version, payload, ord)`,
    [
      orderId,
      rows.map((row) => row.eventId),
      rows.map((row) => row.type),
      rows.map((row) => row.schemaVersion),
      rows.map((row) => JSON.stringify(row.payload)),
    ],
  );
}

async function removeRaw(orderId: string): Promise<void> {
  await db.pool.query(`DELETE FROM ${table('events')} WHERE aggregate_id = $1`, [orderId]);
}

const keyboard = { productId: 'sku-keyboard', quantity: 1, price: 49.9 };
const mouse = { productId: 'sku-mouse', quantity: 2, price: 19.95 };

function setup() {
  const store = new PostgresEventStore({ pool: db.pool, registry: orderRegistry(), schema: db.schema });
  const orders = new AggregateRepository(store, { create: (id) => new OrderAggregate(id) });
  return { store, orders };
}

/** Every event of the log, page by page. */
async function readWholeLog(store: PostgresEventStore): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let page = await store.readAll({ limit: 2 });
  events.push(...page.events);
  while (!page.caughtUp) {
    page = await store.readAll({ after: page.next, limit: 2 });
    events.push(...page.events);
  }
  return events;
}

describe(`Order schema evolution on PostgreSQL (${where})`, () => {
  it('raw v1 OrderCreated rows (with a stored totalAmount) load as v2 through the repository', async () => {
    const { store, orders } = setup();
    const orderId = unique('order');
    const createdId = unique('evt-created');
    // The stored total is wrong (the derived-state pitfall): the lines say 89.80.
    await insertRaw(orderId, [
      {
        eventId: createdId,
        type: 'OrderCreated',
        schemaVersion: 1,
        payload: { customerId: 'cust-42', items: [keyboard], totalAmount: 120 },
      },
      { eventId: unique('evt-item'), type: 'OrderItemAdded', schemaVersion: 1, payload: mouse },
    ]);

    const order = await orders.load(orderId);
    expect(order).toMatchObject({ customerId: 'cust-42', status: 'open', version: 2 });
    expect(order.items).toEqual([keyboard, mouse]);
    expect(order.totalAmount).toBe(89.8);

    const [created] = await store.load(orderId);
    expect(created).toMatchObject({ eventId: createdId, type: 'OrderCreated', schemaVersion: 2 });
    expect(created?.payload).toEqual({ customerId: 'cust-42', items: [keyboard] });

    // The stored row is untouched.
    const { rows } = await db.pool.query<{ schema_version: number; payload: unknown }>(
      `SELECT schema_version, payload FROM ${table('events')} WHERE event_id = $1`,
      [createdId],
    );
    expect(rows).toEqual([
      { schema_version: 1, payload: { customerId: 'cust-42', items: [keyboard], totalAmount: 120 } },
    ]);
  });

  it('the global log (readAll) hands out v1 rows as v2 events too', async () => {
    const { store } = setup();
    const orderId = unique('order');
    const createdId = unique('evt-created');
    await insertRaw(orderId, [
      {
        eventId: createdId,
        type: 'OrderCreated',
        schemaVersion: 1,
        payload: { customerId: 'cust-7', items: [mouse], totalAmount: 39.9 },
      },
    ]);
    const created = (await readWholeLog(store)).find((event) => event.eventId === createdId);
    expect(created).toMatchObject({ aggregateId: orderId, schemaVersion: 2 });
    expect(created?.payload).toEqual({ customerId: 'cust-7', items: [mouse] });
  });

  it('commands on an order created at v1 append at the current versions; new orders are stored at v2', async () => {
    const { store, orders } = setup();
    const oldOrder = unique('order');
    await insertRaw(oldOrder, [
      {
        eventId: unique('evt-created'),
        type: 'OrderCreated',
        schemaVersion: 1,
        payload: { customerId: 'cust-1', items: [keyboard], totalAmount: 49.9 },
      },
    ]);
    const shipped = await orders.execute(oldOrder, (order) => order.ship('DHL', 'JD01'));
    expect(shipped.version).toBe(2);
    expect(shipped.aggregate.status).toBe('shipped');

    const newOrder = unique('order');
    await orders.execute(newOrder, (order) => order.create('cust-2', [mouse]));
    const { rows } = await db.pool.query<{ type: string; schema_version: number; payload: unknown }>(
      `SELECT type, schema_version, payload FROM ${table('events')} WHERE aggregate_id = $1`,
      [newOrder],
    );
    expect(rows).toEqual([
      { type: 'OrderCreated', schema_version: 2, payload: { customerId: 'cust-2', items: [mouse] } },
    ]);
    expect((await store.load(oldOrder)).map((event) => event.type)).toEqual(['OrderCreated', 'OrderShipped']);
  });

  it('a row newer than the code, or a v1 row that fails the current schema, is a typed error naming the event', async () => {
    const { orders } = setup();
    const newer = unique('order');
    const newerId = unique('evt-v3');
    const broken = unique('order');
    const brokenId = unique('evt-broken');
    await insertRaw(newer, [
      { eventId: newerId, type: 'OrderCreated', schemaVersion: 3, payload: { customerId: 'c', items: [] } },
    ]);
    await insertRaw(broken, [
      {
        eventId: brokenId,
        type: 'OrderCreated',
        schemaVersion: 1,
        payload: { customer: 'c', totalAmount: 1 },
      },
    ]);
    try {
      const tooNew = await orders.load(newer).catch((error: unknown) => error);
      expect(isAnnalsError(tooNew, ErrorCode.Upcast)).toBe(true);
      expect(tooNew).toMatchObject({
        eventId: newerId,
        eventType: 'OrderCreated',
        fromSchemaVersion: 3,
        toSchemaVersion: 2,
      });
      const invalid = await orders.load(broken).catch((error: unknown) => error);
      expect(isAnnalsError(invalid, ErrorCode.EventValidation)).toBe(true);
      expect(invalid).toMatchObject({ eventId: brokenId, eventType: 'OrderCreated' });
      expect((invalid as Error).message).toContain('after upcasting from schema version 1 to 2');
    } finally {
      // These rows would fail every later read of the global log.
      await removeRaw(newer);
      await removeRaw(broken);
    }
  });
});
