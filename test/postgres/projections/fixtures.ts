import { compareLogPositions, type LogPosition, type NewEvent, type StoredEvent } from 'annals';
import {
  type PgQueryable,
  PostgresEventStore,
  PostgresProjectionStore,
  type PostgresProjectionStoreOptions,
} from 'annals/postgres';
import { queryOrders } from '../../../examples/order/order-read-model.js';
import { orderRegistry } from '../../../examples/order/upcasters.js';
import { eventually as pollUntil, random } from '../../projections/fixtures.js';
import { type PostgresTestDatabase, wholeLogIds } from '../../support/postgres.js';

export { random };

/** The stores of a test, on the file's database and schema. */
export function openStores(
  db: PostgresTestDatabase,
  options: Partial<PostgresProjectionStoreOptions> = {},
): { eventStore: PostgresEventStore; projectionStore: PostgresProjectionStore } {
  const eventStore = new PostgresEventStore({ pool: db.pool, registry: orderRegistry(), schema: db.schema });
  storePools.set(eventStore, db.pool);
  return {
    eventStore,
    projectionStore: new PostgresProjectionStore({ pool: db.pool, schema: db.schema, ...options }),
  };
}

/** The pool of each event store {@link openStores} opened (for {@link logEventIds}). */
const storePools = new WeakMap<PostgresEventStore, PgQueryable>();

export { type LedgerOptions, ledgerProjection, ledgerRows } from './ledger-projection.js';

/**
 * Every event id of the log, in log order; for a store of {@link openStores}, once every
 * committed event is readable (see `wholeLogIds`).
 */
export async function logEventIds(eventStore: PostgresEventStore): Promise<string[]> {
  const pool = storePools.get(eventStore);
  if (pool) return wholeLogIds(eventStore, pool);
  const ids: string[] = [];
  let after: StoredEvent | undefined;
  for (;;) {
    const page = await eventStore.readAll({ after, limit: 1000 });
    for (const event of page.events) ids.push(event.eventId);
    after = page.events.at(-1) ?? after;
    if (page.caughtUp) return ids;
  }
}

/** An order's expected row in `order_read`, computed from the generated events (an oracle). */
export interface ExpectedOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly totalAmount: string;
  readonly status: 'open' | 'shipped' | 'cancelled';
  readonly itemCount: number;
}

/** Appends to make, in the order to make them, and the read model they must produce. */
export interface GeneratedOrders {
  readonly appends: ReadonlyArray<{ readonly orderId: string; readonly events: NewEvent[] }>;
  readonly expected: ExpectedOrder[];
  readonly eventCount: number;
}

/**
 * Random order histories (create with 0-3 lines, 0-4 added items, then maybe shipped or
 * cancelled), cut into appends of one or two events and interleaved across orders at random.
 * Prices are whole cents, so the expected totals are exact.
 */
export function generateOrders(count: number, seed: number, prefix = 'order'): GeneratedOrders {
  const next = random(seed);
  const pick = (n: number) => Math.floor(next() * n);
  const line = () => ({ productId: `sku-${pick(50)}`, quantity: 1 + pick(5), price: (1 + pick(9999)) / 100 });
  const histories: Array<{ orderId: string; events: NewEvent[] }> = [];
  const expected: ExpectedOrder[] = [];
  let eventCount = 0;
  for (let index = 0; index < count; index++) {
    const orderId = `${prefix}-${index}`;
    const customerId = `customer-${pick(40)}`;
    const lines = Array.from({ length: pick(4) }, line);
    const added = Array.from({ length: pick(5) }, line);
    const events: NewEvent[] = [
      { type: 'OrderCreated', aggregateType: 'Order', payload: { customerId, items: lines } },
      ...added.map((payload) => ({ type: 'OrderItemAdded', aggregateType: 'Order', payload })),
    ];
    const all = [...lines, ...added];
    const ending = next();
    let status: ExpectedOrder['status'] = 'open';
    if (ending < 0.4 && all.length > 0) {
      status = 'shipped';
      events.push({
        type: 'OrderShipped',
        aggregateType: 'Order',
        payload: { carrier: 'DHL', trackingNumber: `T${index}` },
      });
    } else if (ending < 0.6) {
      status = 'cancelled';
      events.push({ type: 'OrderCancelled', aggregateType: 'Order', payload: { reason: 'changed mind' } });
    }
    const cents = all.reduce((sum, item) => sum + item.quantity * Math.round(item.price * 100), 0);
    expected.push({
      orderId,
      customerId,
      totalAmount: (cents / 100).toFixed(2),
      status,
      itemCount: all.reduce((sum, item) => sum + item.quantity, 0),
    });
    histories.push({ orderId, events });
    eventCount += events.length;
  }
  const appends: Array<{ orderId: string; events: NewEvent[] }> = [];
  const pending = histories.map((history) => ({ ...history, events: [...history.events] }));
  while (pending.length > 0) {
    const at = pick(pending.length);
    const history = pending[at]!;
    appends.push({ orderId: history.orderId, events: history.events.splice(0, 1 + pick(2)) });
    if (history.events.length === 0) pending.splice(at, 1);
  }
  expected.sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
  return { appends, expected, eventCount };
}

/** Appends generated orders; returns the last stored event. */
export async function appendOrders(
  eventStore: PostgresEventStore,
  generated: GeneratedOrders,
): Promise<StoredEvent | undefined> {
  let last: StoredEvent | undefined;
  for (const append of generated.appends) {
    const result = await eventStore.append(append.orderId, 'any', append.events);
    last = result.events.at(-1) ?? last;
  }
  return last;
}

/** `order_read` rows in the shape of {@link ExpectedOrder}, by order id. */
export async function orderReadRows(db: PgQueryable, schema: string): Promise<ExpectedOrder[]> {
  const rows = await queryOrders(db, schema);
  return rows
    .map(({ orderId, customerId, totalAmount, status, itemCount }) => ({
      orderId,
      customerId,
      totalAmount,
      status,
      itemCount,
    }))
    .sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
}

/**
 * Catches `runner` up until every one of `projections` has processed the event at `target`
 * (usually the test's last append). One `catchUp()` stops at the readable end of the log, and on
 * a shared server another session's open transaction can keep committed events unreadable for a
 * while; this waits for them.
 */
export async function catchUpTo(
  runner: { catchUp(): Promise<void> },
  projectionStore: { loadCheckpoint(projection: string): Promise<{ position: LogPosition }> },
  projections: readonly string[],
  target: LogPosition,
): Promise<void> {
  await eventually(async () => {
    await runner.catchUp();
    for (const projection of projections) {
      const { position } = await projectionStore.loadCheckpoint(projection);
      if (compareLogPositions(position, target) < 0) return false;
    }
    return true;
  });
}

/** Polls `condition` until it holds; fails after `timeoutMs`. Not a timing assertion. */
export function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  return pollUntil(condition, timeoutMs);
}
